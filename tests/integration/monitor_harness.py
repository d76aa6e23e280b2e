"""Drive the monitor the way the engine will: records in a store, PlainSpawner inits, state updates.

Every monitor and init a test starts is killed and waited for at teardown (they are nobody's
children: the launcher double-forks), and the root is removed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dockernb.linux.process import alive, start_time
from dockernb.monitor.attach import AttachClient
from dockernb.monitor.launcher import Launcher, MonitorOptions, Started
from dockernb.monitor.postexit import StoreHooks, monitor_options
from dockernb.monitor.reconcile import effective
from dockernb.spec.container import ContainerConfig, ContainerRecord, HostConfig, LogConfig, RestartPolicy
from dockernb.spec.status import ContainerState, ContainerStatus, Event
from dockernb.store.containers import ContainerStore
from dockernb.store.layout import Layout
from dockernb.testing.spawners import PlainSpawner, plain_spec

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ContainerStore(Layout(root))
        self.launcher = Launcher()
        self.processes: list[tuple[int, int]] = []

    def create(
        self,
        argv: Sequence[str],
        *,
        name: str = "",
        tty: bool = False,
        open_stdin: bool = False,
        stdin_once: bool = False,
        restart: str = "",
        auto_remove: bool = False,
        log_opts: Mapping[str, str] | None = None,
        log_driver: str = "json-file",
    ) -> ContainerRecord:
        rec = ContainerRecord(
            id=self.store.new_id(),
            name=name,
            created=datetime.now(UTC),
            config=ContainerConfig(
                image="plain", cmd=tuple(argv), tty=tty, open_stdin=open_stdin, stdin_once=stdin_once
            ),
            host_config=HostConfig(
                restart_policy=RestartPolicy.parse(restart),
                auto_remove=auto_remove,
                log_config=LogConfig(type=log_driver, config=dict(log_opts or {})),
            ),
            path=argv[0],
            args=tuple(argv[1:]),
        )
        rec = self.store.create(rec)
        self.store.write_file(rec.id, "spawn.json", json.dumps(plain_spec(argv, ENV).to_json()).encode())
        return rec

    def options(self, rec: ContainerRecord, *, post_exit: bool = True, **extra: object) -> MonitorOptions:
        generation = self.store.state(rec.id).generation + 1
        opts = monitor_options(self.store, rec, generation, StoreHooks.name)
        if not post_exit:
            opts = MonitorOptions(
                tty=opts.tty,
                open_stdin=opts.open_stdin,
                stdin_once=opts.stdin_once,
                log=opts.log,
                generation=generation,
            )
        if extra:
            import dataclasses

            opts = dataclasses.replace(opts, **extra)  # type: ignore[arg-type]
        return opts

    def start(
        self,
        rec: ContainerRecord,
        *,
        attach: bool = False,
        stdin: bool = False,
        post_exit: bool = True,
        **extra: object,
    ) -> tuple[Started, AttachClient | None]:
        """Like the engine's start: under the lock, launch, (attach,) start, record RUNNING."""
        opts = self.options(rec, post_exit=post_exit, **extra)
        paths = self.store.paths(rec.id)
        client = None
        with self.store.lock(rec.id):
            pending = self.launcher.launch(paths, PlainSpawner(list(rec.config.cmd), ENV), opts)
            self.processes.append((pending.monitor_pid, pending.monitor_start))
            self.processes.append((pending.pid, pending.pid_start))
            if attach:
                client = AttachClient.connect(paths, stdin=stdin)
            started = pending.start()
            state = self.store.state(rec.id)
            state.status = ContainerStatus.RUNNING
            state.pid, state.pid_start = started.pid, started.pid_start
            state.monitor_pid, state.monitor_start = started.monitor_pid, started.monitor_start
            state.generation = opts.generation
            state.started_at = datetime.now(UTC)
            self.store.save_state(rec.id, state)
        return started, client

    def state(self, rec: ContainerRecord) -> ContainerState:
        return effective(self.store, rec.id)

    def wait(
        self, rec: ContainerRecord, timeout: float = 10.0, *, until: Sequence[ContainerStatus] = ()
    ) -> ContainerState:
        """Wait until the container is not running (or reaches one of ``until``)."""
        want = until or (ContainerStatus.EXITED, ContainerStatus.CREATED)
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(rec)
            if state.status in want:
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"container still {state.status} after {timeout}s")
            time.sleep(0.02)

    def wait_gone(self, pid: int, started: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while alive(pid, started):
            if time.monotonic() > deadline:
                raise AssertionError(f"process {pid} still alive")
            time.sleep(0.02)

    def monitor_idle(self, pid: int, started: int, timeout: float = 15.0) -> None:
        """Wait until a monitor (and its post-exit handler) has finished."""
        self.wait_gone(pid, started, timeout)

    def cleanup(self) -> None:
        for pid, started in self.processes:
            if alive(pid, started):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid, started in self.processes:
            self.wait_gone(pid, started)


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose parent is ``pid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append((int(name), fields[0]))
    return out


__all__ = ["ENV", "Harness", "children_of", "start_time", "Event"]
