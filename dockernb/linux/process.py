"""Process facts from /proc and the prctl calls a supervisor needs (layer L1).

``start_time(pid)`` is the kernel's start time of a process (clock ticks since boot, field 22
of /proc/<pid>/stat): with the pid it names one process for good, so a recycled pid is never
mistaken for a monitor that died. ``set_child_subreaper`` makes orphans of the caller's
descendants its children (prctl(2) PR_SET_CHILD_SUBREAPER, preserved across execve).
"""

from __future__ import annotations

import ctypes
import os

__all__ = [
    "alive",
    "get_child_subreaper",
    "parent_pid",
    "process_state",
    "set_child_subreaper",
    "start_time",
]

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

_libc = ctypes.CDLL(None, use_errno=True)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses itself
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot, or 0 when there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else 0


def process_state(pid: int) -> str:
    """The one-letter state (R, S, Z...), or "" when there is no such process."""
    fields = _stat_fields(pid)
    return fields[0] if fields else ""


def parent_pid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else 0


def alive(pid: int, started: int) -> bool:
    """Is ``pid`` still the process that started at ``started`` (and not a zombie)?"""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    return started == 0 or int(fields[19]) == started


def set_child_subreaper() -> None:
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def get_child_subreaper() -> bool:
    value = ctypes.c_int(0)
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_GET_CHILD_SUBREAPER): {os.strerror(err)}")
    return bool(value.value)
