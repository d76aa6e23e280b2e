"""Runner of ``events`` / ``system events`` (layer L7): docker's lines, ``--format``, ``--since``/``--until``.

Times take docker's forms (RFC 3339, unix seconds, or a duration back from now: ``10m``); a bad
one is refused before anything is read, as docker's client does. Without ``--until`` the command
follows the engine's event log until interrupted. A ``--format`` template is checked on an empty
message first (a bad field exits 64 with ``Error parsing format: ...``, as docker).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.context import Context
from dockernb.present.gotemplate import Template, TemplateError
from dockernb.present.logs import TimeArgError, parse_time_arg

__all__ = ["RUNNERS"]


def events(ns: argparse.Namespace, ctx: Context) -> int:
    from dockernb.present.events import event_context, event_line

    template = None
    if ns.format:
        try:
            template = Template(ns.format)
            template.render(event_context(None))
        except TemplateError as err:
            ctx.eprint(f"Error parsing format: {err}")
            return 64
    try:
        since = parse_time_arg(ns.since, "since") if ns.since else None
        until = parse_time_arg(ns.until, "until") if ns.until else None
    except TimeArgError as err:
        ctx.eprint(str(err))
        return 1
    filters: dict[str, list[str]] = {}
    for name, value in ns.filters:
        filters.setdefault(name, []).append(value)
    feed = ctx.engine.system.events(since=since, until=until, filters=filters)
    try:
        for ev in feed:
            ctx.out.write((template.render(event_context(ev)) if template is not None else event_line(ev)) + "\n")
            ctx.out.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        close = getattr(feed, "close", None)
        if close is not None:
            close()
    return 0


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {"events": events, "system events": events}
