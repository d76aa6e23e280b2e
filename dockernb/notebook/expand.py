"""``$name`` / ``${name}`` in a magic's line, from the user's namespace, leaving ``{{...}}`` alone (layer L8).

IPython's own expansion (``{var}`` and ``$var``) would turn docker's Go templates
``{{.Names}}`` into ``{.Names}``, so the magics are ``no_var_expand`` and expand here, the
shell's way: ``$name`` and ``${name}`` (a Python identifier, optionally dotted:
``${cfg.port}``) take ``str(value)``; ``$$`` is a literal ``$``; a name the namespace does not
have stays as written (``$HOME`` reaches the container as typed, as in IPython).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["expand"]

_TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_MISSING = object()


def _lookup(path: str, namespace: Mapping[str, Any]) -> object:
    head, *rest = path.split(".")
    value = namespace.get(head, _MISSING)
    for attr in rest:
        if value is _MISSING:
            break
        value = getattr(value, attr, _MISSING)
    return value


def expand(line: str, namespace: Mapping[str, Any]) -> str:
    """The line with ``$name``/``${name}`` replaced; ``{{...}}`` and unknown names untouched."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        value = _lookup(m.group(1) or m.group(2), namespace)
        return m.group(0) if value is _MISSING else str(value)

    return _TOKEN.sub(sub, line)
