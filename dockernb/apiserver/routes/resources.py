"""``GET /containers/{id}/stats`` and ``POST /containers/{id}/update`` (layer L8).

Stats are docker's ``StatsJSON`` filled from the engine's readings (``engine.containers.stats``):
with ``stream`` (the default) one reading a second as JSON lines; with ``stream=false`` one, taken a
second after a first so ``precpu_stats`` is filled (dockerd skips its first frame the same way, so
the CLI's ``--no-stream`` CPU % is not 0); ``one-shot`` skips that wait. A container that does not
run gets dockerd's empty stats (zero times and counters). Memory's page cache goes under both
``total_inactive_file`` (cgroup v1's name) and ``inactive_file`` (v2's): the CLI subtracts whichever
it finds. Update takes dockerd's ``UpdateConfig``; a zero or absent field leaves the value as it is,
and a resource dockernb cannot set is refused rather than silently dropped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, StreamResponse, json_bytes, json_response
from dockernb.apiserver.router import Router
from dockernb.engine.inspect import go_time
from dockernb.errors import InvalidRequest

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["register", "stats_json"]

_ZERO_TIME = "0001-01-01T00:00:00Z"
#: UpdateConfig fields dockernb applies, with the engine's keyword for each
_UPDATE_FIELDS = {"Memory": "memory", "MemorySwap": "memory_swap", "MemoryReservation": "memory_reservation",
                  "NanoCpus": "nano_cpus", "CpuShares": "cpu_shares", "CpuPeriod": "cpu_period",
                  "CpuQuota": "cpu_quota"}  # fmt: skip
#: fields of UpdateConfig the engine has no knob for: a non-zero value is refused
_UNSUPPORTED = ("BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CpuRealtimePeriod", "CpuRealtimeRuntime",
                "CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests", "KernelMemory", "KernelMemoryTCP",
                "MemorySwappiness", "OomKillDisable", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps",
                "IOMaximumBandwidth", "CgroupParent")  # fmt: skip


class Sample(Protocol):
    """What ``engine.containers.stats`` returns (sizes in bytes, times in ns)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def read_ns(self) -> int: ...
    @property
    def running(self) -> bool: ...
    @property
    def cpu_total_ns(self) -> int: ...
    @property
    def system_cpu_ns(self) -> int: ...
    @property
    def online_cpus(self) -> int: ...
    @property
    def memory_usage(self) -> int: ...
    @property
    def memory_limit(self) -> int: ...
    @property
    def memory_cache(self) -> int: ...
    @property
    def net_rx(self) -> int: ...
    @property
    def net_tx(self) -> int: ...
    @property
    def block_read(self) -> int: ...
    @property
    def block_write(self) -> int: ...
    @property
    def pids(self) -> int: ...


def _time(ns: int) -> str:
    secs, rest = divmod(ns, 1_000_000_000)
    return go_time(datetime.fromtimestamp(secs, UTC).replace(microsecond=rest // 1000))


def _cpu(s: Sample | None) -> dict[str, Any]:
    live = s is not None and s.running
    return {
        "cpu_usage": {"total_usage": s.cpu_total_ns if live and s else 0, "usage_in_kernelmode": 0,
                      "usage_in_usermode": 0},
        "system_cpu_usage": s.system_cpu_ns if live and s else 0,
        "online_cpus": s.online_cpus if live and s else 0,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }  # fmt: skip


def stats_json(s: Sample, pre: Sample | None = None) -> dict[str, Any]:
    """docker's ``StatsJSON`` for reading ``s`` (and the one before it, for the CPU %)."""
    if not s.running:
        return {"read": _ZERO_TIME, "preread": _ZERO_TIME, "pids_stats": {},
                "blkio_stats": {"io_service_bytes_recursive": None}, "num_procs": 0, "storage_stats": {},
                "cpu_stats": _cpu(None), "precpu_stats": _cpu(None), "memory_stats": {},
                "name": "/" + s.name, "id": s.id}  # fmt: skip
    io = [{"major": 0, "minor": 0, "op": "Read", "value": s.block_read},
          {"major": 0, "minor": 0, "op": "Write", "value": s.block_write}]  # fmt: skip
    net = {"rx_bytes": s.net_rx, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
           "tx_bytes": s.net_tx, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0}  # fmt: skip
    return {
        "read": _time(s.read_ns),
        "preread": _time(pre.read_ns) if pre is not None and pre.running else _ZERO_TIME,
        "pids_stats": {"current": s.pids},
        "blkio_stats": {"io_service_bytes_recursive": io},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(s),
        "precpu_stats": _cpu(pre),
        "memory_stats": {"usage": s.memory_usage, "limit": s.memory_limit,
                         "stats": {"total_inactive_file": s.memory_cache, "inactive_file": s.memory_cache}},
        "name": "/" + s.name,
        "id": s.id,
        "networks": {"eth0": net},
    }  # fmt: skip


def _update_kwargs(body: Any) -> dict[str, Any]:  # noqa: ANN401 - parsed JSON
    if not isinstance(body, dict):
        raise InvalidRequest("invalid update config: want a JSON object")
    out: dict[str, Any] = {}
    for key, kw in _UPDATE_FIELDS.items():
        value = body.get(key)
        if value is None or value == 0:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRequest(f"invalid update config: {key} must be an integer")
        out[kw] = value
    cpuset = body.get("CpusetCpus")
    if cpuset:
        if not isinstance(cpuset, str):
            raise InvalidRequest("invalid update config: CpusetCpus must be a string")
        out["cpuset_cpus"] = cpuset
    pids = body.get("PidsLimit")
    if pids is not None:
        if not isinstance(pids, int) or isinstance(pids, bool):
            raise InvalidRequest("invalid update config: PidsLimit must be an integer")
        out["pids_limit"] = pids
    policy = body.get("RestartPolicy")
    if isinstance(policy, dict) and policy.get("Name"):
        name, count = policy["Name"], policy.get("MaximumRetryCount") or 0
        if not isinstance(name, str) or not isinstance(count, int):
            raise InvalidRequest("invalid update config: RestartPolicy")
        out["restart_policy"] = f"{name}:{count}" if name == "on-failure" and count else name
    elif policy is not None and not isinstance(policy, dict):
        raise InvalidRequest("invalid update config: RestartPolicy must be an object")
    for key in _UNSUPPORTED:
        if body.get(key) not in (None, 0, "", [], False):
            raise InvalidRequest(f"dockernb cannot update {key}")
    return out


def register(router: Router, app: App) -> None:
    svc = app.engine.containers

    def stats(req: Request) -> StreamResponse:
        ref = req.params["id"]
        first = svc.stats(ref)  # a missing container is the 404 here, before the stream starts
        stream = req.query_bool("stream", True)
        one_shot = req.query_bool("one-shot")
        if not stream:
            if one_shot or not first.running:
                return StreamResponse(iter([json_bytes(stats_json(first))]))
            time.sleep(1.0)
            return StreamResponse(iter([json_bytes(stats_json(svc.stats(ref), first))]))

        def readings() -> Iterator[bytes | None]:
            pre, cur = None, first
            while True:
                yield json_bytes(stats_json(cur, pre))
                if not cur.running:
                    return
                deadline = time.monotonic() + 1.0
                while (left := deadline - time.monotonic()) > 0:
                    time.sleep(min(left, 0.5))
                    yield None  # the server checks the client is still there
                pre, cur = cur, svc.stats(ref)

        return StreamResponse(readings())

    def update(req: Request) -> Response:
        warnings = svc.update(req.params["id"], **_update_kwargs(req.json(required=True)))
        return json_response({"Warnings": list(warnings)})

    router.add("GET", "/containers/{id}/stats", stats, name="ContainerStats")
    router.add("POST", "/containers/{id}/update", update, name="ContainerUpdate")
