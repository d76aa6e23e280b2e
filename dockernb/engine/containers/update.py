"""``docker update``: new resource limits and restart policy for a container (layer L6).

As dockerd (daemon/update.go): only the values given change (0 or None leave a value as it is;
``memory_swap=-1`` means unlimited), docker's checks apply to the result, the record is rewritten
under the container's lock, and a running (or paused) container gets the new limits in its
cgroups at once; one that is stopped gets them at its next start. A rootless engine without
cgroups records them and warns, as at create. The restart policy applies from the next exit.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from dockernb.errors import ContainerStateConflict, InvalidArgument, RuntimeFailure
from dockernb.spec.container import Resources, RestartPolicy, RestartPolicyName
from dockernb.spec.status import ContainerStatus

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["update_container"]

_MIN_MEMORY = 6 * 1024 * 1024


def _merged(old: Resources, changes: dict[str, int | str | None]) -> Resources:
    """``old`` with the values given (docker: a zero is "unchanged"), after docker's checks."""
    given = {k: v for k, v in changes.items() if v not in (None, 0, "")}
    memory = int(given.get("memory", 0) or 0)
    swap = int(given.get("memory_swap", 0) or 0)
    if memory and memory < _MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory and swap > 0 and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory and not swap and old.memory_swap > 0 and memory > old.memory_swap:
        raise InvalidArgument("Memory limit should be smaller than already set memoryswap limit, update the "
                              "memoryswap at the same time")  # fmt: skip
    nano = int(given.get("nano_cpus", 0) or 0)
    if nano and (given.get("cpu_period") or given.get("cpu_quota")):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and (old.cpu_period or old.cpu_quota):
        raise InvalidArgument("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
    if (given.get("cpu_period") or given.get("cpu_quota")) and old.nano_cpus:
        raise InvalidArgument("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    ncpu = os.cpu_count() or 1
    if nano and not 10_000_000 <= nano <= ncpu * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available")
    pids = given.get("pids_limit")
    if pids is not None and int(pids) < 0 and int(pids) != -1:
        raise InvalidArgument("invalid PIDs limit")
    return dataclasses.replace(old, **given)  # type: ignore[arg-type]


def update_container(
    svc: ContainerService,
    ref: str,
    *,
    memory: int | None = None,
    memory_swap: int | None = None,
    memory_reservation: int | None = None,
    nano_cpus: int | None = None,
    cpu_shares: int | None = None,
    cpu_period: int | None = None,
    cpu_quota: int | None = None,
    cpuset_cpus: str | None = None,
    pids_limit: int | None = None,
    restart_policy: str | None = None,
) -> list[str]:
    """Like ``docker update`` of one container; see :meth:`ContainerService.update`."""
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir
    from dockernb.runtime.bundle import ContainerIntent, resources_for

    cid = svc.store.resolve(ref)
    warnings: list[str] = []
    with svc.store.lock(cid):
        record = svc.store.record(cid)
        state = svc.reconcile_locked(cid)
        if state.status in (ContainerStatus.REMOVING, ContainerStatus.DEAD):
            raise ContainerStateConflict(f"Cannot update container {cid}: container is marked for removal")
        host = record.host_config
        if restart_policy is not None:
            policy = RestartPolicy.parse(restart_policy)
            if host.auto_remove and policy.name is not RestartPolicyName.NO:
                raise InvalidArgument(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container")
            host = dataclasses.replace(host, restart_policy=policy)
        changes: dict[str, int | str | None] = {
            "memory": memory, "memory_swap": memory_swap, "memory_reservation": memory_reservation,
            "nano_cpus": nano_cpus, "cpu_shares": cpu_shares, "cpu_period": cpu_period, "cpu_quota": cpu_quota,
            "cpuset_cpus": cpuset_cpus, "pids_limit": pids_limit,
        }  # fmt: skip
        resources = _merged(host.resources, changes)
        host = dataclasses.replace(host, resources=resources)
        if any(v not in (None, 0, "") for v in changes.values()) and state.status in (
                ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            r = resources
            intent = ContainerIntent(
                container_id=cid, memory=r.memory, memory_swap=r.memory_swap, memory_reservation=r.memory_reservation,
                cpus=r.nano_cpus / 1e9, cpu_shares=r.cpu_shares, cpu_period=r.cpu_period, cpu_quota=r.cpu_quota,
                cpuset_cpus=r.cpuset_cpus, pids_limit=r.pids_limit if r.pids_limit > 0 else 0,
                privileged=host.privileged,
            )  # fmt: skip
            try:
                warnings = rt.update(runtime_dir(svc, cid), resources_for(intent))
            except OSError as err:
                raise RuntimeFailure(f"Cannot update container {cid}: {(err.strerror or str(err)).lower()}") from err
        svc.store.save_record(dataclasses.replace(record, host_config=host))
    svc.record_event(cid, "update")
    return warnings
