"""Grammar of ``top``, ``stats``, ``pause``, ``unpause``, ``update`` and their ``container`` spellings (L7).

docker 20.10's flags. ``top``'s arguments after the container are ``ps`` options, never ours
(cobra's ``SetInterspersed(false)``). ``update`` takes docker's size and number flags with
pflag's errors; the ones dockernb cannot apply (``--blkio-weight``, ``--cpu-rt-*``,
``--cpuset-mems``, ``--kernel-memory``) are parsed and refused by the runner with a reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.containers import _cpus, _flag, _int, _memory, ram_in_bytes

__all__ = ["ARGUMENTS", "NOT_INTERSPERSED", "SPECS"]


def _both(usage: str, summary: str, lo: int, hi: int | None, name: str) -> dict[str, Verb]:
    return {name: Verb(name, f"{name} {usage}", summary, lo, hi),
            f"container {name}": Verb(f"container {name}", f"container {name} {usage}", summary, lo, hi)}


SPECS = {
    **_both("CONTAINER [ps OPTIONS]", "Display the running processes of a container", 1, None, "top"),
    **_both("[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", 0, None,
            "stats"),
    **_both("CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", 1, None, "pause"),
    **_both("CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", 1, None, "unpause"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers", 1, None,
            "update"),
}  # fmt: skip

#: ``top c aux``: what follows the container is ps's
NOT_INTERSPERSED = {"top", "container top"}


def _top(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _stats(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", default="", help="Pretty-print images using a Go template")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _plain(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _uint16(value: str) -> int:
    number = _int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f'strconv.ParseUint: parsing "{value}": value out of range')
    return number


def _update(p: DockerParser) -> None:
    _flag(p, "--blkio-weight", check=_uint16, default=0,
          help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    _flag(p, "--cpu-period", check=_int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    _flag(p, "--cpu-quota", check=_int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    _flag(p, "--cpu-rt-period", check=_int, default=0, help="Limit the CPU real-time period in microseconds")
    _flag(p, "--cpu-rt-runtime", check=_int, default=0, help="Limit the CPU real-time runtime in microseconds")
    _flag(p, "-c", "--cpu-shares", check=_int, default=0, help="CPU shares (relative weight)")
    _flag(p, "--cpus", check=_cpus, default=0, help="Number of CPUs")
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    _flag(p, "--kernel-memory", check=ram_in_bytes, default=0, help="Kernel memory limit")
    _flag(p, "-m", "--memory", check=_memory, default=0, help="Memory limit")
    _flag(p, "--memory-reservation", check=_memory, default=0, help="Memory soft limit")
    _flag(p, "--memory-swap", check=_memory, default=0,
          help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    _flag(p, "--pids-limit", check=_int, default=0, help="Tune container pids limit (set -1 for unlimited)")
    p.add_argument("--restart", default=None, help="Restart policy to apply when a container exits")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _spelled(names: list[str], fn: Callable[[DockerParser], None]) -> dict[str, Callable[[DockerParser], None]]:
    return {spelled: fn for name in names for spelled in (name, f"container {name}")}


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    **_spelled(["top"], _top),
    **_spelled(["stats"], _stats),
    **_spelled(["pause", "unpause"], _plain),
    **_spelled(["update"], _update),
}
