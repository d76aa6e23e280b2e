"""``docker pause`` / ``unpause``: freeze and thaw every process of a container (layer L6).

The runtime freezes the container's cgroup (v1 freezer, or v2 ``cgroup.freeze``); the state
goes running <-> paused through the transition table under the container's lock. A rootless
engine without cgroup delegation has no freezer it may write: docker's rootless mode needs
cgroup v2 with delegated controllers for pause too, and the error says so instead of pretending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockernb.errors import ContainerStateConflict, NotSupported
from dockernb.spec.status import Event, conflict_message, next_status

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["pause_container", "unpause_container"]

NO_FREEZER = (
    "this rootless dockernb has no cgroup freezer it may write (the cgroups here are not delegated to "
    "this user; pausing needs cgroup v2 with the freezer delegated, as docker's rootless mode does)"
)


def _switch(svc: ContainerService, ref: str, event: Event) -> str:
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    verb = "pause" if event is Event.PAUSE else "unpause"
    cid = svc.store.resolve(ref)
    with svc.store.lock(cid):
        state = svc.reconcile_locked(cid)
        target = next_status(state.status, event)
        if target is None:
            raise ContainerStateConflict(conflict_message(verb, state.status, cid, ref))
        try:
            (rt.pause if event is Event.PAUSE else rt.resume)(runtime_dir(svc, cid))
        except ContainerStateConflict as err:
            if svc.config.rootless and "no writable freezer" in str(err):
                raise NotSupported(f"Cannot {verb} container {cid}: {NO_FREEZER}") from err
            raise ContainerStateConflict(f"Cannot {verb} container {cid}: {err}") from err
        state.status = target
        svc.store.save_state(cid, state)
    svc.record_event(cid, verb)
    return cid


def pause_container(svc: ContainerService, ref: str) -> str:
    """Like ``docker pause``; see :meth:`ContainerService.pause`."""
    return _switch(svc, ref, Event.PAUSE)


def unpause_container(svc: ContainerService, ref: str) -> str:
    """Like ``docker unpause``; see :meth:`ContainerService.unpause`."""
    return _switch(svc, ref, Event.UNPAUSE)
