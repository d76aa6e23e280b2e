"""Grammar of ``network create/ls/inspect/rm/connect/disconnect/prune`` (layer L7), docker 20.10's flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.containers import _filter, _flag

SPECS = {
    "network create": Verb("network create", "network create [OPTIONS] NETWORK", "Create a network", 1, 1),
    "network ls": Verb("network ls", "network ls [OPTIONS]", "List networks", 0, 0),
    "network list": Verb("network list", "network ls [OPTIONS]", "List networks", 0, 0),
    "network inspect": Verb("network inspect", "network inspect [OPTIONS] NETWORK [NETWORK...]",
                            "Display detailed information on one or more networks", 1, None),
    "network rm": Verb("network rm", "network rm NETWORK [NETWORK...]", "Remove one or more networks", 1, None),
    "network remove": Verb("network remove", "network rm NETWORK [NETWORK...]", "Remove one or more networks", 1,
                           None),
    "network prune": Verb("network prune", "network prune [OPTIONS]", "Remove all unused networks", 0, 0),
    "network connect": Verb("network connect", "network connect [OPTIONS] NETWORK CONTAINER",
                            "Connect a container to a network", 2, 2),
    "network disconnect": Verb("network disconnect", "network disconnect [OPTIONS] NETWORK CONTAINER",
                               "Disconnect a container from a network", 2, 2),
}  # fmt: skip


def _create(p: DockerParser) -> None:
    p.add_argument("--attachable", action="store_true", help="Enable manual container attachment")
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--gateway", action="append", default=[], help="IPv4 or IPv6 Gateway for the master subnet")
    p.add_argument("--internal", action="store_true", help="Restrict external access to the network")
    p.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    p.add_argument("-o", "--opt", action="append", default=[], help="Set driver specific options")
    p.add_argument("--subnet", action="append", default=[], help="Subnet in CIDR format that represents a network "
                   "segment")  # fmt: skip
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _ls(p: DockerParser) -> None:
    _flag(p, "-f", "--filter", check=_filter, append=True, dest="filters", help="Provide filter values")
    p.add_argument("--format", default="", help="Pretty-print networks using a Go template")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _inspect(p: DockerParser) -> None:
    p.add_argument("-f", "--format", default="", help="Format the output using the given Go template")
    p.add_argument("-v", "--verbose", action="store_true", help="Verbose output for diagnostics")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _plain(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _prune(p: DockerParser) -> None:
    _flag(p, "--filter", check=_filter, append=True, dest="filters", help="Provide filter values")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _connect(p: DockerParser) -> None:
    p.add_argument("--alias", action="append", default=[], help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _disconnect(p: DockerParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect from a network")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    "network create": _create, "network ls": _ls, "network list": _ls, "network inspect": _inspect,
    "network rm": _plain, "network remove": _plain, "network prune": _prune, "network connect": _connect,
    "network disconnect": _disconnect,
}  # fmt: skip
