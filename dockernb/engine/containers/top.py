"""``docker top``: the host's ``ps`` output, kept to the container's processes (layer L6).

As dockerd does (daemon/top_unix.go): ``ps`` runs on the host with the given options (``-ef`` by
default) plus ``-q<pids>`` (retried without it for options that do not mix with ``-q``), and only
the rows whose PID column names one of the container's processes are kept, with the lines
``ps`` prints for their threads. PIDs are host PIDs, as in docker.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockernb.errors import ContainerStateConflict, InvalidArgument, RuntimeFailure
from dockernb.spec.status import ContainerStatus, conflict_message

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["TopResult", "parse_ps", "top"]

_PID_ASSIGN = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


@dataclass(frozen=True, slots=True)
class TopResult:
    """docker's ``ContainerTopOKBody``: the column titles and one row of cells per process."""

    titles: tuple[str, ...]
    processes: tuple[tuple[str, ...], ...]


def _fields(line: str) -> list[str]:
    # ASCII whitespace only, as dockerd (a process name may hold other spaces)
    return [f for f in re.split(r"[\t\n\f\r ]+", line) if f]


def parse_ps(output: str, pids: set[int]) -> TopResult:
    """dockerd's ``parsePSOutput``: the titles, and the rows (threads with their process) of ``pids``.

    Raises InvalidArgument when there is no PID column or a PID is not a number.
    """
    lines = output.split("\n")
    titles = _fields(lines[0]) if lines else []
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise InvalidArgument("Couldn't find PID field in ps output") from None
    rows: list[tuple[str, ...]] = []
    previous = False
    for line in lines[1:]:
        if not line:
            continue
        fields = _fields(line)
        if pid_index >= len(fields):
            continue
        if fields[pid_index] == "-":  # a thread line (ps -m): kept with its process
            if previous:
                rows.append(_merge(fields, len(titles)))
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise InvalidArgument(f"Unexpected pid '{fields[pid_index]}'") from None
        previous = pid in pids
        if previous:
            rows.append(_merge(fields, len(titles)))
    return TopResult(tuple(titles), tuple(rows))


def _merge(fields: list[str], ncols: int) -> tuple[str, ...]:
    """The cells of a row: the last title takes the rest of the line (a command with arguments)."""
    return tuple(fields[: ncols - 1]) + (" ".join(fields[ncols - 1 :]),)


def _ps(argv: list[str], pids: list[int]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ps with ``-q<pids>``, or without it for options that do not mix."""
    proc = subprocess.run([*argv, "-q" + ",".join(str(p) for p in pids)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    if proc.returncode != 0:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def top(svc: ContainerService, ref: str, ps_args: str = "") -> TopResult:
    """Like ``docker top``; see :meth:`ContainerService.top`."""
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    args = ps_args or "-ef"
    for key, value in _PID_ASSIGN.findall(" " + args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')
    cid = svc.store.resolve(ref)
    state = svc.current_state(cid)
    if state.status is ContainerStatus.RESTARTING:
        raise ContainerStateConflict(f"Container {cid} is restarting, wait until the container is running")
    if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        raise ContainerStateConflict(conflict_message("top", state.status, cid, ref))
    pids = rt.pids(runtime_dir(svc, cid))
    argv = ["ps", *args.split(" ")]
    idmap = svc.images.idmap
    if idmap is None:
        code, out, err = _ps(argv, pids)
    else:
        # rootless: ps in a user namespace mapped like the containers', so that their ids read as
        # inside (the container's root is "root", not the user), as rootless docker's ps does
        from dockernb.linux.mount import run_in_userns

        code, out, err = run_in_userns(lambda: _ps(argv, pids), idmap)
    if code != 0:
        first = err.split("\n", 1)[0] or f"exit status {code}"
        raise RuntimeFailure(f"ps: {first}")
    result = parse_ps(out, set(pids))
    svc.record_event(cid, "top")
    return result
