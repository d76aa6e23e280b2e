"""ContainerService: docker's container verbs for every front end (layer L6).

``engine.containers`` wires, for one state root, the container store (records and state, with
their locks), the image service (images and snapshots), the network manager, the volume store,
the runtime and the monitor launcher; one module per verb group does the work (``create``,
``start``, ``lifecycle`` for stop/kill/wait/rm, ``query`` for ps, ``execs``, ``attach``,
``pause``, ``top``, ``stats``, ``update``, ``prune``, ``diff``, ``commit``, ``export``, ``copy``).
Several processes may use one root at once: every change happens under the container's flock,
and every change is recorded in the root's event log (``docker events``, :mod:`dockernb.store.events`).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dockernb.config import Config
from dockernb.engine.containers.types import Container, ContainerPrune, CreateResult, ExecResult, RunResult
from dockernb.errors import (
    Conflict,
    ContainerStateConflict,
    DockernbError,
    LogReadingUnsupported,
    NoSuchContainer,
    NoSuchImage,
)
from dockernb.monitor.reconcile import MONITOR_LOST, effective
from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary, HostConfig
from dockernb.spec.logline import LogLine
from dockernb.spec.ports import PortBinding
from dockernb.spec.status import ContainerState, ContainerStatus, conflict_message
from dockernb.store.containers import ContainerStore
from dockernb.store.events import EventLog, container_attributes
from dockernb.store.layout import Layout

if TYPE_CHECKING:
    from dockernb.engine.containers.attach import Attachment
    from dockernb.engine.containers.copy import ArchiveStream
    from dockernb.engine.containers.execs import ExecProcess
    from dockernb.engine.containers.stats import StatsSample
    from dockernb.engine.containers.top import TopResult
    from dockernb.engine.images import ImageService
    from dockernb.layers.changes import Change
    from dockernb.layers.copy import PathStat
    from dockernb.monitor.launcher import Launcher
    from dockernb.network.manager import Networks
    from dockernb.spec.events import ProgressMessage
    from dockernb.volumes.store import VolumeStore

__all__ = ["ContainerService"]

log = logging.getLogger(__name__)

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


class ContainerService:
    """Like docker's container API: ``engine.containers.run("busybox", ["echo", "hi"])``, ``.list()``..."""

    def __init__(self, config: Config, images: ImageService | Callable[[], ImageService]) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self.store = ContainerStore(self.layout)
        # the image service is made on first use: ps and stop need none (importing it costs)
        self._images = images
        #: container id -> ((inode, mtime, size) of its config.json, decoded record), for ps
        self.record_cache: dict[str, tuple[tuple[int, int, int], ContainerRecord]] = {}

    @cached_property
    def images(self) -> ImageService:
        from dockernb.engine.images import ImageService

        if isinstance(self._images, ImageService):
            return self._images
        return self._images()

    @cached_property
    def launcher(self) -> Launcher:
        from dockernb.monitor.launcher import Launcher

        return Launcher()

    @cached_property
    def networks(self) -> Networks:
        from dockernb.network.manager import Networks

        self.layout.ensure()
        return Networks(self.layout, self.config)

    @cached_property
    def volume_store(self) -> VolumeStore:
        from dockernb.volumes.store import VolumeStore

        return VolumeStore(self.layout)

    @cached_property
    def event_log(self) -> EventLog:
        return EventLog(self.layout)

    def record_event(self, container: str | ContainerRecord, action: str, **extra: str) -> None:
        """Log a container event (``docker events``) with docker's attributes; never raises."""
        try:
            record = container if isinstance(container, ContainerRecord) else self.store.record(container)
        except NoSuchContainer:
            return
        self.event_log.emit("container", action, record.id, container_attributes(record, **extra))

    # --- state ------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The container id ``ref`` names (full id, name, or unique id prefix). Raises NoSuchContainer."""
        return self.store.resolve(ref)

    def current_state(self, container_id: str) -> ContainerState:
        """The state as it really is (exit record folded in, a dead monitor noticed); reads only."""
        return effective(self.store, container_id)

    def reconcile_locked(self, container_id: str) -> ContainerState:
        """Persist :meth:`current_state`; the caller holds the container's lock.

        A run whose monitor died without recording an exit leaves processes, cgroups and a network
        behind: they are removed here, so no container stays "running" without a monitor.
        """
        state = self.store.state(container_id)
        now = effective(self.store, container_id, state)
        if now == state:
            return state
        if state.status in _LIVE and now.status not in _LIVE:
            self.record_event(container_id, "die", exitCode=str(now.exit_code))
            monitor_gone = now.exit_code == MONITOR_LOST and bool(now.error)
            from dockernb.linux.process import alive

            if monitor_gone or not alive(state.monitor_pid, state.monitor_start):
                # nobody else will clean this run up (the post-exit handler is gone or never ran)
                from dockernb.engine.containers.lifecycle import release_run

                with contextlib.suppress(DockernbError, OSError):
                    release_run(self, container_id)
        self.store.save_state(container_id, now)
        return now

    def record_exit(self, container_id: str) -> None:
        """Persist an exit seen by a waiter (its ``die`` event logged now, unless the post-exit handler
        was first), so what the waiter does next comes after it, as with docker; never raises."""
        with contextlib.suppress(DockernbError, OSError):
            self.refresh(container_id)

    def refresh(self, container_id: str) -> ContainerState:
        with self.store.lock(container_id):
            return self.reconcile_locked(container_id)

    def get(self, ref: str) -> Container:
        """The container ``ref`` names, as it is now. Raises NoSuchContainer."""
        cid = self.store.resolve(ref)
        record = self.store.record(cid)
        state = self.current_state(cid)
        ports = tuple(self.networks.ports(cid)) if state.status in _LIVE else ()
        return Container(record=record, state=state, ports=ports)

    # --- create, start, run -----------------------------------------------------------------

    def create(self, config: ContainerConfig, host_config: HostConfig | None = None, *, name: str = "") -> CreateResult:
        """Like ``docker create``: the container is stored with its writable layer, not started.

        Raises:
            NoSuchImage (``No such image: x:latest``: pull it first), InvalidArgument (``No command
            specified``, resources, restart policy with ``--rm``), InvalidMountSpec, InvalidPortSpec,
            NameInUse, InvalidContainerName, NoSuchNetwork, NoSuchContainer (``container:x``).
        """
        from dockernb.engine.containers.create import create_container

        return create_container(self, config, host_config or HostConfig(), name=name)

    def start(
        self, ref: str, *, attach: tuple[bool, bool, bool] | None = None, console_size: tuple[int, int] | None = None
    ) -> Attachment | None:
        """Like ``docker start``: a running container is left as it is (not an error).

        With ``attach=(stdin, stdout, stderr)`` the returned :class:`Attachment` is connected
        before the start, so no output is lost (``start -a``, ``run``).

        Raises:
            NoSuchContainer, ContainerStateConflict (paused, being removed), CommandNotFound (127),
            CommandNotExecutable (126), ContainerStartFailed, PortAllocated, NoSuchNetwork.
        """
        from dockernb.engine.containers.attach import Attachment
        from dockernb.engine.containers.start import start_container

        cid = self.store.resolve(ref)
        self._settle(cid)
        started = start_container(self, cid, attach=attach, console_size=console_size, ref=ref)
        self.last_warnings = started.warnings
        if started.attach is not None:
            return Attachment(started.attach, cid, tty=self.store.record(cid).config.tty, on_exit=self.record_exit)
        if attach is not None and started.already_running:
            return self.attach(cid, stdin=attach[0], stdout=attach[1], stderr=attach[2])
        return None

    last_warnings: tuple[str, ...] = ()

    def _settle(self, container_id: str, timeout: float = 10.0) -> None:
        """Let the last run's post-exit handler finish before a new start.

        ``stop`` returns once the monitor recorded the exit; the same process then folds it into
        the state. A start inside that window (``restart``, the docker CLI's ``stop; start``) had
        its new run's state overwritten as exited, and the next start failed with ``container with
        id exists``."""
        import time

        from dockernb.linux.process import alive

        state = self.store.state(container_id)
        if not state.monitor_pid or self.current_state(container_id).status in _LIVE:
            return
        deadline = time.monotonic() + timeout
        while alive(state.monitor_pid, state.monitor_start) and time.monotonic() < deadline:
            time.sleep(0.02)

    def ensure_image(self, ref: str) -> Iterator[ProgressMessage]:
        """Pull ``ref`` when it is not stored (``run``'s ``Unable to find image ...``); progress messages."""
        try:
            self.images.get(ref)
            return iter(())
        except NoSuchImage:
            return self.images.pull(ref)

    def run(
        self,
        image: str,
        command: Sequence[str] | str = (),
        *,
        name: str = "",
        detach: bool = False,
        remove: bool = False,
        environment: Sequence[str] | Mapping[str, str] = (),
        network: str = "default",
        ports: Sequence[str] = (),
        volumes: Sequence[str] = (),
        tty: bool = False,
        labels: Mapping[str, str] | None = None,
        config: ContainerConfig | None = None,
        host_config: HostConfig | None = None,
        pull: bool = True,
    ) -> RunResult:
        """Like docker-py's ``containers.run``: create (pulling a missing image), start, and unless
        ``detach``, wait for the exit and return the output (``remove`` deletes it afterwards).

        ``config``/``host_config`` give every other option (the CLI's flags); the keyword arguments
        override theirs. Raises what :meth:`create` and :meth:`start` raise.
        """
        from dockernb.spec.mountspec import parse_volume
        from dockernb.spec.ports import parse_port_specs

        cmd = (command,) if isinstance(command, str) else tuple(command)
        if isinstance(command, str):
            import shlex

            cmd = tuple(shlex.split(command))
        env = tuple(f"{k}={v}" for k, v in environment.items()) if isinstance(environment, Mapping) else tuple(
            environment)
        cfg = config or ContainerConfig(image=image)
        cfg = dataclasses.replace(cfg, image=image, cmd=cmd or cfg.cmd, env=cfg.env + env, tty=tty or cfg.tty,
                                  labels={**cfg.labels, **(labels or {})})
        host = host_config or HostConfig()
        from dockernb.spec.container import PortBinding as HostPort

        port_bindings = tuple(HostPort(container_port=m.container_port, protocol=m.proto, host_ip=m.host_ip,
                                       host_port=str(m.host_port) if m.host_port else "")
                              for m in parse_port_specs(ports))
        host = dataclasses.replace(
            host, auto_remove=remove or host.auto_remove,
            network_mode=network if network != "default" else host.network_mode,
            port_bindings=host.port_bindings + port_bindings,
            mounts=host.mounts + tuple(parse_volume(v) for v in volumes),
        )  # fmt: skip
        if pull:
            for _ in self.ensure_image(image):
                pass
        created = self.create(cfg, host, name=name)
        cid = created.id
        record = self.store.record(cid)
        if detach:
            self.start(cid)
            return RunResult(id=cid, name=record.name, warnings=created.warnings + self.last_warnings)
        att = self.start(cid, attach=(False, True, True))
        out, err = bytearray(), bytearray()
        assert att is not None
        with att:
            for stream, data in att.frames():
                (out if stream == "stdout" else err).extend(data)
            code = att.exit_code
        if code is None:
            code = self.wait(cid)
        if host.auto_remove:
            self.finish_auto_remove(cid)
        return RunResult(id=cid, name=record.name, exit_code=code, stdout=bytes(out), stderr=bytes(err),
                         warnings=created.warnings + self.last_warnings)

    def finish_auto_remove(self, container_id: str) -> None:
        """After an attached ``--rm`` run ended: remove it now (the post-exit handler would too, a
        moment later; whoever comes second finds it gone)."""
        with contextlib.suppress(NoSuchContainer, Conflict):
            self.remove(container_id, volumes=True)

    # --- stop, kill, wait, restart, rm ---------------------------------------------------------

    def stop(self, ref: str, *, timeout: int | None = None) -> str:
        """Like ``docker stop`` of one container (a stopped one is fine); returns its id.

        ``timeout`` seconds after the stop signal comes SIGKILL (None: ``--stop-timeout``, else 10;
        negative: wait for ever). Raises NoSuchContainer.
        """
        from dockernb.engine.containers.lifecycle import stop_container

        cid = self.store.resolve(ref)
        stop_container(self, cid, timeout)
        return cid

    def restart(self, ref: str, *, timeout: int | None = None) -> str:
        """Like ``docker restart``: stop (where running), then start. Raises what stop and start raise."""
        cid = self.stop(ref, timeout=timeout)
        self.start(cid)
        self.record_event(cid, "restart")
        return cid

    def kill(self, ref: str, signal: str = "KILL") -> str:
        """Like ``docker kill``. Raises NotFound (``Cannot kill container: x: No such container: x``),
        ContainerStateConflict (not running), InvalidArgument (``Invalid signal: X``)."""
        from dockernb.engine.containers.lifecycle import kill_container

        kill_container(self, ref, signal)
        return self.store.resolve(ref)

    def wait(self, ref: str, *, condition: str = "not-running") -> int:
        """Like ``docker wait``: the exit code once the container stopped. Raises NoSuchContainer."""
        from dockernb.engine.containers.lifecycle import wait_container

        return wait_container(self, self.store.resolve(ref), condition)

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        """Like ``docker rm`` of one container: nothing of it is left (mounts, cgroups, monitor,
        network, files); ``volumes`` removes its anonymous volumes. Returns its id.

        Raises NoSuchContainer, ContainerStateConflict (running, without ``force``).
        """
        from dockernb.engine.containers.lifecycle import remove_container

        return remove_container(self, ref, force=force, volumes=volumes)

    def prune(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> ContainerPrune:
        """Like ``docker container prune``: remove every stopped container (filters: ``until``, ``label``).

        Raises InvalidFilter.
        """
        from dockernb.engine.containers.query import prune_candidates

        deleted, space = [], 0
        for record in prune_candidates(self, filters or {}):
            size = self.sizes(record)[0]
            try:
                self.remove(record.id)
            except (NoSuchContainer, ContainerStateConflict):
                continue  # started or removed meanwhile
            deleted.append(record.id)
            space += size
        return ContainerPrune(deleted=tuple(deleted), space_reclaimed=space)

    def remove_volume_if_unused(self, name: str) -> None:
        users = self.volume_users().get(name, [])
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.volume_store.remove(name)
        self.event_log.emit("volume", "destroy", name, {"driver": "local"})

    # --- ps, inspect, logs, port ---------------------------------------------------------------

    def list(  # noqa: A003 - docker-py's name
        self,
        *,
        all: bool = False,  # noqa: A002
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = -1,
        latest: bool = False,
        size: bool = False,
    ) -> builtins.list[ContainerSummary]:
        """Like ``docker ps``: newest first. Raises InvalidFilter, InvalidArgument, NoSuchContainer."""
        from dockernb.engine.containers.query import list_containers

        return list_containers(self, all=all, filters=filters, limit=limit, latest=latest, size=size)

    def sizes(self, record: Any) -> tuple[int, int]:  # noqa: ANN401 - a ContainerRecord
        """(writable layer bytes, + the image's bytes) for ``ps -s``."""
        rw = 0
        key = record.extra.get("snapshot", record.id)
        with contextlib.suppress(DockernbError, OSError):
            upper = _upper_dir(self.images.snapshotter.mounts(key))
            rw = _files_size(upper) if upper else self.images.snapshotter.usage(key).size
        image = 0
        with contextlib.suppress(DockernbError):
            image = self.images.record(record.image_id).size
        return rw, rw + image

    def inspect(self, ref: str) -> dict[str, Any]:
        """The Engine API's ContainerInspectResponse (``docker inspect``). Raises NoSuchContainer."""
        from dockernb.engine.inspect import container_inspect

        c = self.get(ref)
        networks = self.networks.inspect(c.id) if c.state.status in _LIVE else []
        return container_inspect(c, layout_dir=self.store.paths(c.id).dir, networks=networks,
                                 driver=self.images.graph_driver(), volumes=self.volume_store)

    def logs(
        self, ref: str, *, tail: int = -1, since_ns: int = 0, until_ns: int = 0, follow: bool = False
    ) -> Iterator[LogLine]:
        """Like ``docker logs``: the container's json-file log lines (``follow``: until it stops).

        Raises NoSuchContainer, LogReadingUnsupported (``--log-driver none``), before the first line.
        """
        from dockernb.logs.reader import read_logs

        cid = self.store.resolve(ref)
        record = self.store.record(cid)
        if record.host_config.log_config.type not in ("json-file", ""):
            raise LogReadingUnsupported()

        def done() -> bool:
            try:
                return self.current_state(cid).status not in _LIVE
            except NoSuchContainer:
                return True

        return read_logs(self.store.paths(cid).log, tail=tail, since_ns=since_ns, until_ns=until_ns, follow=follow,
                         done=done)

    def port(self, ref: str) -> builtins.list[PortBinding]:
        """The container's published ports (``docker port``), empty when it runs none. Raises NoSuchContainer."""
        cid = self.store.resolve(ref)
        if self.current_state(cid).status not in _LIVE:
            return []
        return self.networks.ports(cid)

    def rename(self, ref: str, new_name: str) -> None:
        """Like ``docker rename``. Raises NoSuchContainer, NameInUse, InvalidContainerName."""
        cid = self.store.resolve(ref)
        old = self.store.record(cid).name
        renamed = self.store.rename(cid, new_name)
        self.record_event(renamed, "rename", oldName=f"/{old}")

    # --- exec, attach --------------------------------------------------------------------------

    def exec_start(
        self,
        ref: str,
        cmd: Sequence[str],
        *,
        env: Sequence[str] = (),
        workdir: str | None = None,
        user: str | None = None,
        tty: bool = False,
        stdin: bool = False,
        privileged: bool = False,
        console_size: tuple[int, int] | None = None,
        detach: bool = False,
    ) -> ExecProcess | None:
        """Like ``docker exec``: the started process (None with ``detach``); the caller reaps it.

        Raises NoSuchContainer, ContainerStateConflict (not running, paused), CommandNotFound /
        CommandNotExecutable / ContainerStartFailed with the runtime's ``OCI runtime exec failed`` text.
        """
        from dockernb.engine.containers.execs import exec_start

        cid = self.store.resolve(ref)
        return exec_start(self, cid, cmd, ref=ref, env=env, workdir=workdir, user=user, tty=tty, stdin=stdin,
                          privileged=privileged, console_size=console_size, detach=detach)

    def exec_run(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (), workdir: str | None = None,
                 user: str | None = None, privileged: bool = False) -> ExecResult:
        """docker-py's ``exec_run``: run ``cmd`` to its end; its exit code and output (stdout, then stderr)."""
        import os
        import selectors

        proc = self.exec_start(ref, cmd, env=env, workdir=workdir, user=user, privileged=privileged)
        assert proc is not None
        out = bytearray()
        sel = selectors.DefaultSelector()
        try:
            for fd in (proc.stdout, proc.stderr):
                if fd is not None:
                    sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                for key, _ in sel.select():
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                    out += data
        finally:
            sel.close()
            proc.close()
        return ExecResult(exit_code=proc.wait(), output=bytes(out))

    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> Attachment:
        """Like ``docker attach``: a connection to the running container's stdio (through its monitor).

        Raises NoSuchContainer, ContainerStateConflict (not running: ``You cannot attach to a stopped
        container, start it first``; paused).
        """
        from dockernb.engine.containers.attach import connect

        cid = self.store.resolve(ref)
        attachment = connect(self, cid, stdin=stdin, stdout=stdout, stderr=stderr)
        if stdout or stderr or stdin:  # a resize-only connection is no attach in docker's log
            self.record_event(cid, "attach")
        return attachment

    def resize(self, ref: str, rows: int, cols: int) -> None:
        """The container's tty window size (``docker`` does it on SIGWINCH)."""
        att = self.attach(ref, stdout=False, stderr=False)
        with att:
            att.resize(rows, cols)

    # --- pause, top, stats, update, prune ---------------------------------------------------------

    def pause(self, ref: str) -> str:
        """Like ``docker pause``: freeze every process of the running container; returns its id.

        Raises NoSuchContainer, ContainerStateConflict (``Container <id> is not running``, ``... is
        already paused``), NotSupported (rootless without a writable freezer, saying why).
        """
        from dockernb.engine.containers.pause import pause_container

        return pause_container(self, ref)

    def unpause(self, ref: str) -> str:
        """Like ``docker unpause``. Raises NoSuchContainer, ContainerStateConflict (``... is not paused``)."""
        from dockernb.engine.containers.pause import unpause_container

        return unpause_container(self, ref)

    def top(self, ref: str, ps_args: str = "") -> TopResult:
        """Like ``docker top``: ``ps`` (``-ef`` by default) of the container's processes, host pids.

        Raises NoSuchContainer, ContainerStateConflict (not running, restarting), InvalidArgument
        (``specifying "user=PID" is not allowed``, no PID column), RuntimeFailure (``ps: ...``).
        """
        from dockernb.engine.containers.top import top

        return top(self, ref, ps_args)

    def stats(self, ref: str) -> StatsSample:
        """One reading of the container's counters (``docker stats``; CPU % needs two: ``cpu_percent``).

        Raises NoSuchContainer.
        """
        from dockernb.engine.containers.stats import sample

        return sample(self, self.store.resolve(ref))

    def update(
        self,
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
    ) -> builtins.list[str]:
        """Like ``docker update``: new limits (applied at once to a running container) and restart policy.

        Returns docker's warnings. Raises NoSuchContainer, InvalidArgument (docker's checks),
        RuntimeFailure (``Cannot update container <id>: ...`` from the kernel).
        """
        from dockernb.engine.containers.update import update_container

        return update_container(self, ref, memory=memory, memory_swap=memory_swap,
                                memory_reservation=memory_reservation, nano_cpus=nano_cpus, cpu_shares=cpu_shares,
                                cpu_period=cpu_period, cpu_quota=cpu_quota, cpuset_cpus=cpuset_cpus,
                                pids_limit=pids_limit, restart_policy=restart_policy)  # fmt: skip

    # --- diff, commit, export, cp ------------------------------------------------------------------

    def diff(self, ref: str) -> builtins.list[Change]:
        """Like ``docker diff``: the A/C/D changes of the container's filesystem. Raises NoSuchContainer."""
        from dockernb.engine.containers.diff import container_changes

        return container_changes(self, self.store.resolve(ref))

    def commit(
        self,
        ref: str,
        repository: str = "",
        *,
        message: str = "",
        author: str = "",
        changes: Sequence[str] = (),
        pause: bool = True,
    ) -> str:
        """Like ``docker commit``: an image from the container's changes, named ``repository`` if given;
        its id (``sha256:...``). The container is paused meanwhile (``pause``) where it can be.

        Raises NoSuchContainer, NoSuchImage (its image is gone), InvalidReference, InvalidChange /
        DockerfileParseError (``--change``), ContainerStateConflict (dead, being removed).
        """
        from dockernb.engine.containers.commit import commit_container

        return commit_container(self, ref, repository, message=message, author=author, changes=tuple(changes),
                                pause=pause).id  # fmt: skip

    def export(self, ref: str) -> Iterator[bytes]:
        """Like ``docker export``: the container's filesystem (not its volumes) as tar bytes. Raises
        NoSuchContainer (at the call)."""
        from dockernb.engine.containers.export import export_container

        return export_container(self, self.store.resolve(ref))

    def stat_path(self, ref: str, path: str) -> PathStat:
        """The Engine API's ``HEAD /containers/{id}/archive``. Raises NoSuchContainer, NoSuchPath."""
        from dockernb.engine.containers.copy import stat_path

        return stat_path(self, self.store.resolve(ref), path, ref)

    def get_archive(self, ref: str, path: str) -> tuple[PathStat, ArchiveStream]:
        """``GET /containers/{id}/archive``: the stat of ``path`` and a tar of it (docker's names).

        Raises NoSuchContainer, NoSuchPath.
        """
        from dockernb.engine.containers.copy import get_archive

        return get_archive(self, self.store.resolve(ref), path, ref)

    def put_archive(self, ref: str, path: str, stream: Any, *, copy_uid_gid: bool = False,  # noqa: ANN401
                    no_overwrite_dir_nondir: bool = True) -> None:  # fmt: skip
        """``PUT /containers/{id}/archive``: extract the tar ``stream`` (``read(n)``) into the directory ``path``.

        Raises NoSuchContainer, NoSuchPath, InvalidArgument, Forbidden (read-only rootfs or volume).
        """
        from dockernb.engine.containers.copy import put_archive

        put_archive(self, self.store.resolve(ref), path, stream, ref=ref, copy_uid_gid=copy_uid_gid,
                    no_overwrite_dir_nondir=no_overwrite_dir_nondir)  # fmt: skip

    def copy_from(self, ref: str, src: str, dest: str, *, follow_link: bool = False, out: Any = None) -> None:  # noqa: ANN401
        """``docker cp CONTAINER:SRC DEST`` (``DEST`` ``-``: the tar to the binary stream ``out``).

        Raises NoSuchContainer, NoSuchPath, InvalidArgument (docker's words).
        """
        from dockernb.engine.containers.copy import copy_from

        copy_from(self, ref, src, dest, follow_link=follow_link, out=out)

    def copy_to(self, ref: str, src: str, dest: str, *, follow_link: bool = False, copy_uid_gid: bool = False,
                stdin: Any = None) -> None:  # noqa: ANN401  # fmt: skip
        """``docker cp SRC CONTAINER:DEST`` (``SRC`` ``-``: a tar read from the binary stream ``stdin``).

        Raises NoSuchContainer, NoSuchPath, InvalidArgument, Forbidden.
        """
        from dockernb.engine.containers.copy import copy_to

        copy_to(self, ref, src, dest, follow_link=follow_link, copy_uid_gid=copy_uid_gid, stdin=stdin)

    # --- what other services ask ---------------------------------------------------------------

    def image_uses(self) -> Iterator[tuple[str, str, bool]]:
        from dockernb.engine.containers.query import image_uses

        return iter(image_uses(self))

    def volume_users(self) -> dict[str, builtins.list[str]]:
        """volume name -> ids of the containers that mount it."""
        out: dict[str, builtins.list[str]] = {}
        for record, _ in self.store.list():
            for m in record.host_config.mounts:
                if m.type == "volume":
                    out.setdefault(m.source, []).append(record.id)
        return out

    def check_running(self, ref: str, verb: str) -> str:
        cid = self.store.resolve(ref)
        state = self.current_state(cid)
        if state.status is not ContainerStatus.RUNNING:
            raise ContainerStateConflict(conflict_message(verb, state.status, cid, ref))
        return cid



def _upper_dir(mounts: Sequence[Any]) -> str:
    for m in mounts:
        for opt in getattr(m, "options", ()):
            if opt.startswith("upperdir="):
                return str(opt[len("upperdir="):])
    return ""


def _files_size(top: str) -> int:
    """docker's directory.Size: the bytes of every non-directory entry (hard links once)."""
    import os

    total, seen = 0, set()
    for base, dirs, files in os.walk(top):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
