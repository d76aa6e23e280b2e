"""Grammar of ``volume create/ls/inspect/rm/prune`` (layer L7), docker 20.10's flags and usage lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.containers import _filter, _flag

SPECS = {
    "volume create": Verb("volume create", "volume create [OPTIONS] [VOLUME]", "Create a volume", 0, 1),
    "volume ls": Verb("volume ls", "volume ls [OPTIONS]", "List volumes", 0, 0),
    "volume list": Verb("volume list", "volume ls [OPTIONS]", "List volumes", 0, 0),
    "volume inspect": Verb("volume inspect", "volume inspect [OPTIONS] VOLUME [VOLUME...]",
                           "Display detailed information on one or more volumes", 1, None),
    "volume rm": Verb("volume rm", "volume rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", 1, None),
    "volume remove": Verb("volume remove", "volume rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes",
                          1, None),
    "volume prune": Verb("volume prune", "volume prune [OPTIONS]", "Remove all unused local volumes", 0, 0),
}  # fmt: skip


def _create(p: DockerParser) -> None:
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    p.add_argument("--name", default="", help=argparse.SUPPRESS)
    p.add_argument("-o", "--opt", action="append", default=[], help="Set driver specific options")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _ls(p: DockerParser) -> None:
    _flag(p, "-f", "--filter", check=_filter, append=True, dest="filters", help="Provide filter values")
    p.add_argument("--format", default="", help="Pretty-print volumes using a Go template")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _inspect(p: DockerParser) -> None:
    p.add_argument("-f", "--format", default="", help="Format the output using the given Go template")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _rm(p: DockerParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of one or more volumes")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _prune(p: DockerParser) -> None:
    _flag(p, "--filter", check=_filter, append=True, dest="filters", help="Provide filter values")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    "volume create": _create, "volume ls": _ls, "volume list": _ls, "volume inspect": _inspect,
    "volume rm": _rm, "volume remove": _rm, "volume prune": _prune,
}  # fmt: skip
