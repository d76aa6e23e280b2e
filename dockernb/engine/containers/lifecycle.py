"""``stop``, ``kill``, ``wait``, ``restart`` and ``rm``: ending containers and removing them (layer L6).

Each verb follows the same shape: resolve, take the container's lock, refresh the state (the
monitor's exit record folded in, a dead monitor noticed), check the transition table, record the
wish (``manually_stopped``: no restart policy brings the container back), release the lock, then
act and wait without it (the post-exit handler needs the lock to record the exit).

Stopping is docker's escalation: the stop signal (the image's STOPSIGNAL or ``--stop-signal``,
else SIGTERM) to the init, then SIGKILL to every process after the timeout (``-t``, else
``--stop-timeout``, else 10 s). Waiting uses inotify on the container's directory (the monitor
renames ``exit.json`` into it), so a stop returns as soon as the exit is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from dockernb.errors import (
    ContainerStateConflict,
    DockernbError,
    InvalidArgument,
    NoSuchContainer,
    NoSuchSnapshot,
    NotFound,
)
from dockernb.monitor.wait import wait_until_stopped
from dockernb.spec.container import ContainerRecord
from dockernb.spec.status import ContainerState, ContainerStatus, Event, can_remove, conflict_message, next_status

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["destroy", "kill_container", "parse_signal", "remove_container", "stop_container", "wait_container"]

log = logging.getLogger(__name__)

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


def parse_signal(text: str) -> int:
    """docker's signal.ParseSignal: ``KILL``, ``SIGKILL``, ``kill``, ``9``. Raises InvalidArgument."""
    raw = text.strip()
    if raw.isdigit():
        number = int(raw)
        if 0 < number < signal.NSIG:
            return number
        raise InvalidArgument(f"Invalid signal: {text}")
    name = raw.upper().removeprefix("SIG")
    try:
        return int(signal.Signals[f"SIG{name}"])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None


def _mark_stopped(svc: ContainerService, container_id: str) -> tuple[ContainerRecord, ContainerState]:
    """Under the lock: refresh, and record that the user stopped it (before any signal is sent)."""
    with svc.store.lock(container_id):
        record = svc.store.record(container_id)
        state = svc.reconcile_locked(container_id)
        if state.status is ContainerStatus.RESTARTING:
            # waiting out the restart backoff: there is nothing to signal, it just stays down
            state.status = next_status(state.status, Event.EXIT) or ContainerStatus.EXITED
            state.manually_stopped = True
            svc.store.save_state(container_id, state)
            return record, state
        if state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) and not state.manually_stopped:
            state.manually_stopped = True
            svc.store.save_state(container_id, state)
        return record, state


def _signal(svc: ContainerService, container_id: str, sig: int, *, everything: bool = False) -> None:
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    with contextlib.suppress(ContainerStateConflict, NoSuchContainer, ProcessLookupError):
        rt.kill(runtime_dir(svc, container_id), sig, all_processes=everything)
        svc.record_event(container_id, "kill", signal=str(sig))


def _wait_down(svc: ContainerService, container_id: str, timeout: float | None) -> ContainerState | None:
    try:
        return wait_until_stopped(svc.store, container_id, timeout)
    except NoSuchContainer:
        return ContainerState(status=ContainerStatus.EXITED)


def stop_container(svc: ContainerService, container_id: str, timeout: int | None = None) -> None:
    """Like ``docker stop`` of one resolved container; a stopped one is left as it is."""
    record, state = _mark_stopped(svc, container_id)
    if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        return
    if timeout is None:
        timeout = record.config.stop_timeout if record.config.stop_timeout is not None else 10
    sig = parse_signal(record.config.stop_signal or "SIGTERM")
    if sig != signal.SIGKILL:
        _signal(svc, container_id, sig)
        if timeout != 0 and _wait_down(svc, container_id, None if timeout < 0 else float(timeout)) is not None:
            _stopped(svc, record)
            return
    _signal(svc, container_id, signal.SIGKILL, everything=True)
    if _wait_down(svc, container_id, 30.0) is None:
        raise ContainerStateConflict(f"container {container_id} did not stop after SIGKILL")
    _stopped(svc, record)


def _stopped(svc: ContainerService, record: ContainerRecord) -> None:
    """The exit is recorded now (``die``, if the post-exit handler has not yet), then docker's ``stop``."""
    with contextlib.suppress(NoSuchContainer):
        svc.refresh(record.id)
    svc.record_event(record, "stop")


def kill_container(svc: ContainerService, ref: str, sig_text: str = "KILL") -> None:
    """Like ``docker kill``: the signal to the init (SIGKILL: to every process, then wait for the exit)."""
    sig = parse_signal(sig_text)
    try:
        container_id = svc.store.resolve(ref)
    except NoSuchContainer:
        raise NotFound(f"Cannot kill container: {ref}: No such container: {ref}") from None
    with svc.store.lock(container_id):
        state = svc.reconcile_locked(container_id)
        if state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            raise ContainerStateConflict(conflict_message("kill", state.status, container_id, ref))
        state.manually_stopped = True  # docker: a killed container is not restarted by its policy
        svc.store.save_state(container_id, state)
    _signal(svc, container_id, sig, everything=sig == signal.SIGKILL)
    if sig == signal.SIGKILL and _wait_down(svc, container_id, 30.0) is not None:
        with contextlib.suppress(NoSuchContainer):
            svc.refresh(container_id)  # the exit is recorded when kill returns (docker's die follows the kill)


def wait_container(svc: ContainerService, container_id: str, condition: str = "not-running") -> int:
    """Like ``docker wait``: block until the container stops; its exit code."""
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    if condition == "next-exit":
        state = svc.current_state(container_id)
        if state.status not in _LIVE:
            # the next exit of a stopped container: wait for it to be started, then for the exit
            generation = state.generation
            import time

            while svc.current_state(container_id).generation == generation:
                time.sleep(0.05)
    state_after = wait_until_stopped(svc.store, container_id, None)
    code = state_after.exit_code if state_after is not None else 0
    svc.record_exit(container_id)  # its die event before wait returns, as docker's
    if condition == "removed":
        import time

        while svc.store.paths(container_id).dir.exists():
            time.sleep(0.02)
    return code


def remove_container(svc: ContainerService, ref: str, *, force: bool = False, volumes: bool = False) -> str:
    """Like ``docker rm`` of one container; returns its id.

    Raises NoSuchContainer, ContainerStateConflict (running without ``force``: docker's sentence).
    """
    container_id = svc.store.resolve(ref)
    with svc.store.lock(container_id):
        state = svc.reconcile_locked(container_id)
        if not can_remove(state.status, force=force):
            raise ContainerStateConflict(conflict_message("remove", state.status, container_id, ref))
        live = state.status in _LIVE
        if live:
            state.manually_stopped = True
            svc.store.save_state(container_id, state)
    if live:
        _signal(svc, container_id, signal.SIGKILL, everything=True)
        _wait_down(svc, container_id, 30.0)
    with svc.store.lock(container_id):
        record = svc.store.record(container_id)
        state = svc.store.state(container_id)
        target = next_status(state.status, Event.REMOVE)
        if target is None:
            raise ContainerStateConflict(conflict_message("remove", state.status, container_id, ref))
        state.status = target
        svc.store.save_state(container_id, state)
    try:
        destroy(svc, record, volumes=volumes)
        svc.record_event(record, "destroy")
    except BaseException as err:
        with contextlib.suppress(DockernbError), svc.store.lock(container_id):
            state = svc.store.state(container_id)
            state.status = next_status(state.status, Event.REMOVE_FAILED) or ContainerStatus.DEAD
            state.error = f"removal failed: {err}"
            svc.store.save_state(container_id, state)
        raise
    return container_id


def release_run(svc: ContainerService, container_id: str) -> None:
    """Free what a run held once it is over: the runtime's cgroups and state, the network (idempotent)."""
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    try:
        rt.delete(runtime_dir(svc, container_id), force=True)
    finally:
        svc.networks.teardown(container_id)


def destroy(svc: ContainerService, record: ContainerRecord, *, volumes: bool = False) -> None:
    """Remove everything a stopped container owns: run leftovers, snapshot, record, anonymous volumes."""
    release_run(svc, record.id)
    from dockernb.engine.containers.initlayer import init_name

    for key in (record.extra.get("snapshot", record.id), init_name(record.id)):
        with contextlib.suppress(NoSuchSnapshot):
            svc.images.snapshotter.remove(key)
    svc.store.delete(record.id)
    if volumes:
        for m in record.host_config.mounts:
            if m.type == "volume" and m.anonymous:
                with contextlib.suppress(DockernbError):
                    svc.remove_volume_if_unused(m.source)
    if svc.images.store.view().get(record.image_id) is None:
        # its image was deleted (rmi -f) while the container used it: its layers can go now
        with contextlib.suppress(DockernbError):
            svc.images.release_unused_layers()
