"""Grammar of `dockernb serve`: dockerd's listener flags (layer L7)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb

SPECS = {
    "serve": Verb("serve", "serve [OPTIONS]", "Serve the Docker Engine API (like dockerd) from this engine", 0, 0),
}


def _serve(p: DockerParser) -> None:
    p.add_argument("-H", "--host", action="append", default=[], metavar="list",
                   help="Daemon socket(s) to connect to: unix:///path.sock or tcp://127.0.0.1:PORT")
    p.add_argument("-G", "--group", default=None, metavar="string",
                   help="Group for the unix socket (it is then 0660 instead of owner-only 0600)")
    p.add_argument("-l", "--log-level", default="info", choices=["debug", "info", "warn", "error", "fatal"],
                   help='Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")')
    p.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {"serve": _serve}
