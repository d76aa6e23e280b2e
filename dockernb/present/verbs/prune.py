"""Grammar of ``container prune`` and ``system prune`` (layer L7), docker 20.10's flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.containers import _filter, _flag

__all__ = ["ARGUMENTS", "SPECS"]

SPECS = {
    "container prune": Verb("container prune", "container prune [OPTIONS]", "Remove all stopped containers", 0, 0),
    "system prune": Verb("system prune", "system prune [OPTIONS]", "Remove unused data", 0, 0),
}


def _container(p: DockerParser) -> None:
    _flag(p, "--filter", check=_filter, append=True, dest="filters",
          help='Provide filter values (e.g. "until=<timestamp>")')  # fmt: skip
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _system(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images not just dangling ones")
    _flag(p, "--filter", check=_filter, append=True, dest="filters",
          help='Provide filter values (e.g. "label=<key>=<value>")')  # fmt: skip
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="Prune volumes")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {"container prune": _container, "system prune": _system}
