"""What a container's state really is: the exit record folded in, a dead monitor noticed (layer L4).

``state.json`` says what was last written; the truth also lives in the monitor's exit record
(``exit.json``) and in whether the monitor process still exists. :func:`effective` computes
the truth without writing (``ps``, ``inspect``: no lock, no side effect); :func:`reconcile`
writes it under the container's lock and, when a monitor died without recording an exit (it
was killed), has the leftovers killed and cleaned (the ``kill`` callback: the runtime's
idempotent delete in the engine, a kill of the pid for a plain process), so that no
container stays "running" without a monitor and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from dockernb.errors import NoSuchContainer
from dockernb.linux.process import alive
from dockernb.spec.status import ContainerState, ContainerStatus, Event, ExitRecord, next_status
from dockernb.store.containers import ContainerStore

__all__ = ["MONITOR_LOST", "effective", "fold_exit", "kill_init", "live_monitor", "reconcile"]

#: docker's exit code for a task whose shim was lost
MONITOR_LOST = 255

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


def fold_exit(state: ContainerState, record: ExitRecord) -> ContainerState:
    """``state`` after the run ``record`` ended (a copy; the table must allow EXIT)."""
    target = next_status(state.status, Event.EXIT) or ContainerStatus.EXITED
    return dataclasses.replace(
        state,
        status=target,
        pid=0,
        pid_start=0,
        exit_code=record.exit_code,
        finished_at=record.finished_at,
        oom_killed=record.oom_killed,
    )


def _lost(state: ContainerState) -> ContainerState:
    return dataclasses.replace(
        state,
        status=next_status(state.status, Event.EXIT) or ContainerStatus.EXITED,
        pid=0,
        pid_start=0,
        exit_code=MONITOR_LOST,
        finished_at=datetime.now(UTC),
        error="the container's monitor exited unexpectedly",
    )


def live_monitor(store: ContainerStore, container_id: str, generation: int) -> dict[str, int] | None:
    """The monitor of run ``generation`` if it is alive (pid, start, generation, init), else None."""
    try:
        data = json.loads(store.paths(container_id).monitor(generation).read_bytes())
        info = {k: int(data[k]) for k in ("pid", "start", "generation", "init")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if alive(info["pid"], info["start"]) else None


def effective(store: ContainerStore, container_id: str, state: ContainerState | None = None) -> ContainerState:
    """The container's state as it really is now; reads only (see :func:`reconcile` to persist)."""
    state = state if state is not None else store.state(container_id)
    if state.status is ContainerStatus.RESTARTING:
        # the post-exit handler folded the last run and waits out the backoff: it is the monitor
        if alive(state.monitor_pid, state.monitor_start):
            return state
        return dataclasses.replace(state, status=ContainerStatus.EXITED)
    if state.status in _LIVE:
        exit_record = store.exit_record(container_id)
        if exit_record is not None and exit_record.generation == state.generation:
            return fold_exit(state, exit_record)
        if not alive(state.monitor_pid, state.monitor_start):
            # the monitor writes the record then exits: it may have done both since the read above
            exit_record = store.exit_record(container_id)
            if exit_record is not None and exit_record.generation == state.generation:
                return fold_exit(state, exit_record)
            return _lost(state)
        return state
    if state.status in (ContainerStatus.CREATED, ContainerStatus.EXITED):
        # a monitor of a newer run whose start the engine never recorded (it died in between)
        info = live_monitor(store, container_id, state.generation + 1)
        if info is not None:
            return dataclasses.replace(
                state,
                status=ContainerStatus.RUNNING,
                pid=info["init"],
                pid_start=0,
                monitor_pid=info["pid"],
                monitor_start=info["start"],
                generation=info["generation"],
                started_at=state.started_at or datetime.now(UTC),
            )
    return state


def kill_init(state: ContainerState) -> None:
    """Kill a plain init left behind by its monitor (the runtime's delete replaces this)."""
    if state.pid and alive(state.pid, state.pid_start):
        os.kill(state.pid, signal.SIGKILL)


def reconcile(
    store: ContainerStore,
    container_id: str,
    kill: Callable[[ContainerState], None] | None = None,
) -> ContainerState:
    """Persist :func:`effective` under the lock; kill what a lost monitor left running.

    Raises NoSuchContainer if it is gone.
    """
    with store.lock(container_id):
        state = store.state(container_id)
        now = effective(store, container_id, state)
        if now == state:
            return state
        if now.exit_code == MONITOR_LOST and now.error and kill is not None:
            with contextlib.suppress(NoSuchContainer, OSError):
                kill(state)  # the init may outlive its monitor: kill it and clean up after it
        store.save_state(container_id, now)
        return now
