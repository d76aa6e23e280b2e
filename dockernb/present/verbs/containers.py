"""Grammar of the container verbs shown so far: ``ps`` and ``logs`` (and their ``container`` spellings) (L7).

docker 20.10's flags, defaults and flag errors. ``ps -n`` is an integer flag (pflag's wording
on a bad value); ``logs --tail`` is a string ("all" or a number, see present.logs.tail_arg);
``--since``/``--until`` are checked by the runner (docker's CLI does it there too, exit 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from dockernb.present.args import DockerParser, UsageError, Verb

_PS_USAGE, _PS_SUMMARY = "[OPTIONS]", "List containers"
_LOGS_USAGE, _LOGS_SUMMARY = "[OPTIONS] CONTAINER", "Fetch the logs of a container"

SPECS = {
    "ps": Verb("ps", "ps " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container ls": Verb("container ls", "container ls " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container ps": Verb("container ps", "container ps " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container list": Verb("container list", "container list " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "logs": Verb("logs", "logs " + _LOGS_USAGE, _LOGS_SUMMARY, 1, 1),
    "container logs": Verb("container logs", "container logs " + _LOGS_USAGE, _LOGS_SUMMARY, 1, 1),
}


class _Int(argparse.Action):
    """An int flag that fails like pflag: ``invalid argument "x" for "-n, --last" flag: ...``."""

    def __init__(self, *args: Any, flag_names: str, **kwargs: Any) -> None:
        self.flag_names = flag_names
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        value = str(values)
        try:
            number = int(value, 10)
        except ValueError:
            prog = getattr(parser, "prog_name", "dockernb")
            verb = getattr(getattr(parser, "verb", None), "name", "ps")
            raise UsageError(
                f'invalid argument "{value}" for "{self.flag_names}" flag: '
                f"strconv.ParseInt: parsing \"{value}\": invalid syntax\nSee '{prog} {verb} --help'.",
                125,
            ) from None
        setattr(namespace, self.dest, number)


def _ps(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument(
        "-f", "--filter", dest="filters", action="append", default=[], help="Filter output based on conditions provided"
    )
    p.add_argument("--format", default="", help="Pretty-print containers using a Go template")
    p.add_argument(
        "-n",
        "--last",
        action=_Int,
        flag_names="-n, --last",
        default=-1,
        help="Show n last created containers (includes all states)",
    )
    p.add_argument(
        "-l", "--latest", action="store_true", help="Show the latest created container (includes all states)"
    )
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _logs(p: DockerParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument(
        "--since",
        default="",
        help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    )
    p.add_argument(
        "-n", "--tail", default="all", help='Number of lines to show from the end of the logs (default "all")'
    )
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument(
        "--until",
        default="",
        help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    )
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    "ps": _ps,
    "container ls": _ps,
    "container ps": _ps,
    "container list": _ps,
    "logs": _logs,
    "container logs": _logs,
}
