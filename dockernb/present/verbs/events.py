"""Grammar of ``events`` and ``system events`` (layer L7), docker 20.10's flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.containers import _filter, _flag

__all__ = ["ARGUMENTS", "SPECS"]

_SUMMARY = "Get real time events from the server"

SPECS = {
    "events": Verb("events", "events [OPTIONS]", _SUMMARY, 0, 0),
    "system events": Verb("system events", "system events [OPTIONS]", _SUMMARY, 0, 0),
}


def _events(p: DockerParser) -> None:
    _flag(p, "-f", "--filter", check=_filter, append=True, dest="filters",
          help="Filter output based on conditions provided")  # fmt: skip
    p.add_argument("--format", default="", help="Format the output using the given Go template")
    p.add_argument("--since", default="", help="Show all events created since timestamp")
    p.add_argument("--until", default="", help="Stream events until this timestamp")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {"events": _events, "system events": _events}
