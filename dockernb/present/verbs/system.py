"""Grammar of the system verbs: version, info (layer L7)."""

from __future__ import annotations

from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb

SPECS = {
    "version": Verb("version", "version [OPTIONS]", "Show the Docker version information", 0, 0),
    "info": Verb("info", "info [OPTIONS]", "Display system-wide information", 0, 0),
}


def _version(p: DockerParser) -> None:
    p.add_argument("-f", "--format", help="Format the output using the given Go template")
    p.add_argument("args", nargs="*", help=argparse_suppress())


def _info(p: DockerParser) -> None:
    p.add_argument("-f", "--format", help="Format the output using the given Go template")
    p.add_argument("args", nargs="*", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {"version": _version, "info": _info}
