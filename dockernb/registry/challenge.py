"""``WWW-Authenticate`` challenges (RFC 7235), as registries send them (layer L3).

``Bearer realm="http://127.0.0.1:5003/token",service="dockernb-kit",scope="repository:x:pull"``
becomes ``Challenge("bearer", {"realm": ..., "service": ..., "scope": ...})``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges"]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: Mapping[str, str] = field(default_factory=dict)


def _parse_one(value: str) -> Challenge | None:
    m = _SCHEME.match(value)
    if not m:
        return None
    params: dict[str, str] = {}
    pos = m.end()
    while pos < len(value):
        p = _PARAM.match(value, pos)
        if not p:
            break
        quoted = p.group(2)
        params[p.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else p.group(3)
        pos = p.end()
    return Challenge(m.group(1).lower(), params)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """One challenge per header value (what distribution and Docker Hub send); unparsable values are skipped."""
    return [c for c in (_parse_one(v) for v in values) if c is not None]
