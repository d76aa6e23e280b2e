"""After a run: record the exit, clean up, honour --rm and the restart policy (layer L4).

The C supervisor execs ``python -m dockernb.monitor post-exit <root> <id> [--hooks M:F]`` once
the init has exited and the exit record is written; the process keeps the monitor's pid, so
the container stays owned while this runs. It:

1. folds the exit record into ``state.json`` under the container's lock (running -> exited),
   and asks the restart policy (docker's backoff) whether to come back (-> restarting);
2. has the leftovers cleaned (``hooks.cleanup``: unmounts, cgroups, network in the engine);
3. removes the container if it was run with ``--rm`` (``hooks.remove``), or
4. after the backoff, unless stopped or removed meanwhile, starts it again in this very
   process (:func:`dockernb.monitor.launcher.monitor_in_place`), which execs back into a new
   C supervisor.

What needs the engine comes through :class:`PostExitHooks`, named by ``--hooks`` as
``"module:factory"`` (``factory(store) -> hooks``): the monitor layer cannot import the engine.
:class:`StoreHooks` is the default: store-level removal, no cleanup, and the spawner from the
container's ``spawn.json``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from dockernb.errors import DockernbError, NoSuchContainer
from dockernb.logs.options import log_settings
from dockernb.monitor.launcher import MonitorOptions, Started, monitor_in_place, post_exit_argv
from dockernb.monitor.reconcile import fold_exit
from dockernb.monitor.restart import decide
from dockernb.monitor.spawner import Spawner, SpawnSpec, Task, load_spawner
from dockernb.spec.container import ContainerRecord
from dockernb.spec.status import ContainerState, ContainerStatus, Event, next_status
from dockernb.store.containers import ContainerStore
from dockernb.store.events import EventLog, container_attributes
from dockernb.store.layout import Layout

__all__ = ["PostExitHooks", "StoreHooks", "handle", "monitor_options"]

_POLL = 0.1


class PostExitHooks(Protocol):
    """What the post-exit handler needs done by the layers above it (the engine's implementation)."""

    def cleanup(self, record: ContainerRecord, state: ContainerState) -> None:
        """Release what the run held (rootfs mount, cgroups, network); idempotent."""
        ...

    def remove(self, record: ContainerRecord) -> None:
        """``--rm``: remove the container and everything it owns."""
        ...

    def spawner(self, record: ContainerRecord) -> Spawner:
        """A spawner for the container's next run."""
        ...

    def setup(self, record: ContainerRecord, task: Task) -> None:
        """Between create and start of a restarted init (network, cgroups)."""
        ...

    def options(self, record: ContainerRecord, generation: int) -> MonitorOptions:
        """The monitor options of the next run."""
        ...


def monitor_options(store: ContainerStore, record: ContainerRecord, generation: int, hooks: str = "") -> MonitorOptions:
    """The monitor options a container's record implies (its tty, stdin, log and post-exit)."""
    cfg, host = record.config, record.host_config
    log = log_settings(
        host.log_config,
        container_id=record.id,
        name=record.name,
        image=cfg.image,
        image_id=record.image_id,
        labels=cfg.labels,
        env=cfg.env,
    )
    return MonitorOptions(
        tty=cfg.tty,
        open_stdin=cfg.open_stdin,
        stdin_once=cfg.stdin_once,
        log=log,
        generation=generation,
        post_exit=post_exit_argv(store.layout.root, record.id, hooks),
    )


class StoreHooks:
    """Post-exit hooks that need nothing above the store: the default, and the tests' hooks."""

    name = "dockernb.monitor.postexit:StoreHooks"

    def __init__(self, store: ContainerStore) -> None:
        self.store = store

    def cleanup(self, record: ContainerRecord, state: ContainerState) -> None:
        return None

    def remove(self, record: ContainerRecord) -> None:
        self.store.delete(record.id)

    def spawner(self, record: ContainerRecord) -> Spawner:
        data = json.loads(self.store.paths(record.id).spawn.read_bytes())
        return load_spawner(SpawnSpec.from_json(data))

    def setup(self, record: ContainerRecord, task: Task) -> None:
        return None

    def options(self, record: ContainerRecord, generation: int) -> MonitorOptions:
        return monitor_options(self.store, record, generation, self.name)


def _load_hooks(spec: str, store: ContainerStore) -> PostExitHooks:
    module, _, name = spec.partition(":")
    factory = getattr(importlib.import_module(module), name)
    hooks: PostExitHooks = factory(store)
    return hooks


def _record_exit(store: ContainerStore, container_id: str) -> tuple[ContainerRecord, ContainerState, bool]:
    """Fold the exit in and decide about a restart; returns (record, state, restart?)."""
    exit_record = store.exit_record(container_id)
    with store.lock(container_id):
        record, state = store.load(container_id)
        live = state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
        if exit_record is not None and exit_record.generation > state.generation:
            # the engine that started this run died before recording it: record it now
            state.generation = exit_record.generation
            if next_status(state.status, Event.START) is not None:
                state.status = ContainerStatus.RUNNING
                live = True
        if (
            exit_record is not None
            and exit_record.generation == state.generation
            and state.status
            in (
                ContainerStatus.RUNNING,
                ContainerStatus.PAUSED,
            )
        ):
            state = fold_exit(state, exit_record)
        elif (
            exit_record is None
            and state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
            and not _newer_run(state)
        ):
            state = dataclasses.replace(
                state, status=ContainerStatus.EXITED, pid=0, exit_code=255, finished_at=datetime.now(UTC)
            )
        restart = False
        if state.status is ContainerStatus.EXITED and not record.host_config.auto_remove:
            ran_for = 0.0
            if state.started_at and state.finished_at:
                ran_for = (state.finished_at - state.started_at).total_seconds()
            decision = decide(
                record.host_config.restart_policy,
                exit_code=state.exit_code,
                manually_stopped=state.manually_stopped,
                restart_count=state.restart_count,
                ran_for=ran_for,
                previous_delay=state.restart_delay,
            )
            if decision.restart:
                restart = True
                state.status = ContainerStatus.RESTARTING
                state.restart_delay = decision.delay
        store.save_state(container_id, state)
        if live and state.status not in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
            _event(store, record, "die", exitCode=str(state.exit_code))  # this process recorded the exit
        return record, state, restart


def _newer_run(state: ContainerState) -> bool:
    """Is the recorded run another monitor's, still alive? A restart's start clears the exit record
    of the run this handler comes from, so "no exit record" then says nothing about the new run."""
    from dockernb.linux.process import alive

    return state.monitor_pid not in (0, os.getpid()) and alive(state.monitor_pid, state.monitor_start)


def _wait_backoff(store: ContainerStore, container_id: str, delay: float) -> bool:
    """Sleep out the backoff; false if the container was stopped or removed meanwhile."""
    deadline = time.monotonic() + delay
    while True:
        try:
            state = store.state(container_id)
        except NoSuchContainer:
            return False
        if state.status is not ContainerStatus.RESTARTING or state.manually_stopped:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, _POLL))


def _restart(store: ContainerStore, hooks: PostExitHooks, record: ContainerRecord) -> None:
    """Start the container again in this process (never returns when it succeeds)."""
    paths = store.paths(record.id)
    with store.lock(record.id):
        state = store.state(record.id)
        if state.status is not ContainerStatus.RESTARTING or state.manually_stopped:
            return
        generation = state.generation + 1
        options = hooks.options(record, generation)

        def started(info: Started) -> None:
            def update(s: ContainerState) -> None:
                s.pid, s.pid_start = info.pid, info.pid_start
                s.monitor_pid, s.monitor_start = info.monitor_pid, info.monitor_start
                s.generation = generation
                s.restart_count += 1
                s.started_at = datetime.now(UTC)
                s.error = ""
                s.oom_killed = False

            s = store.state(record.id)
            s.status = ContainerStatus.RUNNING
            update(s)
            store.save_state(record.id, s)
            _event(store, record, "start")

        try:
            monitor_in_place(
                paths, hooks.spawner(record), options, setup=lambda task: hooks.setup(record, task), started=started
            )
        except DockernbError as err:
            s = store.state(record.id)
            s.status = next_status(s.status, Event.START_FAILED) or ContainerStatus.EXITED
            s.exit_code = getattr(err, "exit_code", 1) if getattr(err, "exit_code", 1) in (126, 127) else 128
            s.error = str(err)
            s.finished_at = datetime.now(UTC)
            store.save_state(record.id, s)


def _event(store: ContainerStore, record: ContainerRecord, action: str, **extra: str) -> None:
    """Log a container event (``docker events``: ``die`` with its exit code, a policy restart's ``start``)."""
    EventLog(store.layout).emit("container", action, record.id, container_attributes(record, **extra))


def handle(root: Path, container_id: str, hooks_spec: str = "") -> int:
    """The post-exit handler's whole job; returns the process's exit status."""
    store = ContainerStore(Layout(root))
    try:
        record, state, restart = _record_exit(store, container_id)
    except NoSuchContainer:
        return 0  # removed while it exited (rm -f, an attached run --rm): the remover cleans up
    # loaded only now: importing the engine's hooks costs, and a removed container needs none
    hooks = _load_hooks(hooks_spec, store) if hooks_spec else StoreHooks(store)
    hooks.cleanup(record, state)
    if restart:
        if _wait_backoff(store, container_id, state.restart_delay):
            _restart(store, hooks, record)
        return 0
    if record.host_config.auto_remove:
        hooks.remove(record)
    return 0
