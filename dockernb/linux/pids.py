"""Process identity that survives pid reuse: (pid, start time) from /proc/PID/stat (layer L1).

A pid recorded on disk may belong to another process after a reboot or a wrap-around; the
start time (field 22 of /proc/PID/stat, clock ticks since boot) tells them apart.
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["alive", "boot_id", "start_time", "terminate"]


def start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot; 0 when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    # comm (field 2) may contain spaces and parentheses: split after the last ')'
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return 0  # a zombie is dead for our purposes
    return int(fields[19])


def alive(pid: int, started: int) -> bool:
    """True if ``pid`` runs and is the process that started at ``started``."""
    return pid > 0 and started > 0 and start_time(pid) == started


def boot_id() -> str:
    """Changes at every boot: state recorded under another boot id describes nothing that exists."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def terminate(pid: int, started: int, *, timeout: float = 2.0) -> None:
    """SIGTERM then SIGKILL the process (pid, started), if it is still that process; wait for it."""
    if not alive(pid, started):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, started):
            _reap(pid)
            return
        _reap(pid)
        time.sleep(0.01)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(200):
        _reap(pid)
        if not alive(pid, started):
            return
        time.sleep(0.005)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
