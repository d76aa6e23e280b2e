"""``network inspect`` / ``volume inspect``: docker's client loop over names (layer L7, present).

Each name is looked up in turn; what was found is printed (Go's indented JSON, or ``-f`` per item),
then one ``Error: No such NOUN: NAME`` line per miss, and the exit code is 1 if any name was missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dockernb.present.context import Context
from dockernb.present.gotemplate import TemplateError, render


def print_inspected(ns: argparse.Namespace, ctx: Context, lookup: Callable[[str], Any],
                    missing: type[Exception], noun: str) -> int:  # fmt: skip
    from dockernb.present.images import go_json

    found: list[Any] = []
    errors: list[str] = []
    for name in ns.args:
        try:
            found.append(lookup(name))
        except missing:
            errors.append(f"Error: No such {noun}: {name}")
    if ns.format:
        try:
            ctx.out.write("".join(render(ns.format, item) + "\n" for item in found) or "\n")
        except TemplateError as err:
            ctx.eprint(f"Template parsing error: {err}")
            return 1
    else:
        ctx.print(go_json(found) if found else "[]")
    if errors:
        ctx.eprint("\n".join(errors))
        return 1
    return 0
