"""``docker stats``: one reading of a container's resource counters (layer L6).

The counters come from where dockerd takes them: the container's cgroups through the runtime
(CPU time, memory usage and limit, the page cache docker subtracts, block I/O bytes, pids), the
host's ``/proc/stat`` for the system CPU time the CPU % is relative to, and the container's own
network namespace (``/proc/<init>/net/dev``, every interface but ``lo``) for network bytes.
As in dockerd, a memory limit above the host's memory (none set) is the host's memory.

Where no cgroup is writable (rootless without delegation) there are no cgroup counters: memory is
the resident size of the container's processes and pids their count, CPU time is theirs from
``/proc/<pid>/stat``; block I/O is unknown (0).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockernb.errors import DockernbError
from dockernb.spec.status import ContainerStatus

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["StatsSample", "cpu_percent", "sample"]

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsSample:
    """One reading (docker's stats JSON, the part ``docker stats`` shows); sizes in bytes, times in ns."""

    id: str
    name: str
    read_ns: int
    running: bool
    cpu_total_ns: int = 0
    system_cpu_ns: int = 0
    online_cpus: int = 1
    memory_usage: int = 0
    memory_limit: int = 0
    memory_cache: int = 0
    net_rx: int = 0
    net_tx: int = 0
    block_read: int = 0
    block_write: int = 0
    pids: int = 0


def cpu_percent(before: StatsSample | None, after: StatsSample) -> float:
    """docker's CLI CPU %: the container's share of the host's CPU time between two readings, times the CPUs."""
    if before is None or not after.running:
        return 0.0
    cpu = after.cpu_total_ns - before.cpu_total_ns
    system = after.system_cpu_ns - before.system_cpu_ns
    if cpu <= 0 or system <= 0:
        return 0.0
    return cpu / system * after.online_cpus * 100.0


def _system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return sum(int(v) for v in fields[1:9]) * _TICK_NS


def _host_memory() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _net(pid: int) -> tuple[int, int]:
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def _proc_counters(pids: list[int]) -> tuple[int, int]:
    """(resident bytes, CPU ns) of ``pids`` from /proc (no cgroup to ask)."""
    rss = cpu = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) * _TICK_NS  # utime + stime
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return rss, cpu


def sample(svc: ContainerService, container_id: str) -> StatsSample:
    """A reading of the container now (zeros for a container that does not run)."""
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    record = svc.store.record(container_id)
    state = svc.current_state(container_id)
    now = time.time_ns()
    ncpu = os.sysconf("SC_NPROCESSORS_ONLN") or 1
    if state.status not in _LIVE or not state.pid:
        return StatsSample(id=container_id, name=record.name, read_ns=now, running=False, online_cpus=ncpu)
    state_dir = runtime_dir(svc, container_id)
    try:
        counters = rt.stats(state_dir)
        pids = rt.pids(state_dir)
    except DockernbError:
        return StatsSample(id=container_id, name=record.name, read_ns=now, running=False, online_cpus=ncpu)
    host = _host_memory()
    usage, cpu = counters.memory_usage, counters.cpu_usage_ns
    if usage is None or cpu is None:
        rss, own_cpu = _proc_counters(pids)
        usage = rss if usage is None else usage
        cpu = own_cpu if cpu is None else cpu
    limit = counters.memory_limit or host
    if host and limit > host:
        limit = host  # dockerd: no limit set is the machine's memory
    rx, tx = (0, 0) if record.host_config.network_mode == "host" else _net(state.pid)
    return StatsSample(
        id=container_id,
        name=record.name,
        read_ns=now,
        running=True,
        cpu_total_ns=cpu,
        system_cpu_ns=_system_cpu_ns(),
        online_cpus=ncpu,
        memory_usage=usage,
        memory_limit=limit,
        memory_cache=counters.memory_inactive_file or 0,
        net_rx=rx,
        net_tx=tx,
        block_read=counters.io_read_bytes or 0,
        block_write=counters.io_write_bytes or 0,
        pids=counters.pids_current if counters.pids_current is not None else len(pids),
    )
