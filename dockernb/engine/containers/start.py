"""``docker start``: a stored container -> a running one under its own monitor (layer L6).

The steps, under the container's lock (see ``dockernb.monitor`` for the monitor's side)::

    sandbox = networks.create_sandbox(...)         # addresses, host ports, hosts/resolv.conf/hostname
    spec    = bundle.build_spec(intent)            # docker's defaults + the record + the sandbox
    pending = launcher.launch(paths, RuntimeSpawner(...), options)   # init created, blocked
    networks.attach(id, pending.pid)               # veth into /proc/PID/ns/net, ports published
    attach  = AttachClient.connect(...)            # attached runs: before the start, so no output is lost
    started = pending.start()                      # exec; CommandNotFound (127) / NotExecutable (126)
    store: created|exited --START--> running       # (or START_FAILED with the exit code and error)

A failure at any step undoes the earlier ones (abort the init, tear the network down, remove the
runtime state). :func:`run_plan` is shared with the post-exit handler's restarts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dockernb.errors import (
    CommandNotExecutable,
    CommandNotFound,
    ContainerStartFailed,
    ContainerStateConflict,
    DockernbError,
    InvalidArgument,
    NoSuchContainer,
)
from dockernb.monitor.attach import AttachClient
from dockernb.monitor.launcher import MonitorOptions, Started
from dockernb.monitor.postexit import monitor_options
from dockernb.monitor.rtspawner import WARNINGS_FILE, RuntimeSpawner
from dockernb.runtime.bundle import ContainerIntent, build_spec
from dockernb.spec.container import ContainerRecord, MountSpec
from dockernb.spec.mount import Mount
from dockernb.spec.ports import PortMapping, parse_expose
from dockernb.spec.runtime import Rlimit
from dockernb.spec.status import ContainerState, ContainerStatus, Event, conflict_message, next_status

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService
    from dockernb.network.base import Sandbox, SandboxRequest

__all__ = ["RunPlan", "Start", "intent_for", "run_plan", "sandbox_request", "start_container"]

log = logging.getLogger(__name__)

#: the post-exit hooks the monitor loads (``module:factory``)
HOOKS = "dockernb.engine.containers.hooks:EngineHooks"
_DEFAULT_SHM = 64 * 1024 * 1024


@dataclass(slots=True)
class RunPlan:
    """What one run of a container needs: its spawner and the sandbox made for it."""

    spawner: RuntimeSpawner
    sandbox: Sandbox


@dataclass(slots=True)
class Start:
    """A started (or already running) container, with its attach connection when one was asked."""

    state: ContainerState
    attach: AttachClient | None = None
    warnings: tuple[str, ...] = ()
    already_running: bool = False


def runtime_dir(svc: ContainerService, container_id: str) -> Path:
    return svc.store.paths(container_id).dir / "runtime"


def _user_mount(svc: ContainerService, m: MountSpec) -> Mount:
    if m.type == "tmpfs":
        opts = ["nosuid", "nodev", "noexec", *m.options]
        if m.read_only:
            opts.append("ro")
        return Mount(type="tmpfs", source="tmpfs", target=m.target, options=tuple(opts))
    source = m.source
    if m.type == "volume":
        source = str(svc.volume_store.create(m.source, anonymous=m.anonymous).mountpoint)
    elif m.legacy and not os.path.exists(source):
        os.makedirs(source, mode=0o755, exist_ok=True)  # docker's -v makes a missing host directory
    opts = ["rbind", "ro" if m.read_only else "rw", m.propagation or "rprivate"]
    return Mount(type="bind", source=source, target=m.target, options=tuple(opts))


def _security(opts: tuple[str, ...]) -> tuple[bool, str]:
    nnp, seccomp = False, "default"
    for raw in opts:
        key, sep, value = raw.partition("=" if "=" in raw else ":")
        if key == "no-new-privileges":
            nnp = value.lower() in ("", "true") if sep else True
        elif key == "seccomp":
            seccomp = "unconfined" if value == "unconfined" else "default"
        elif key in ("apparmor", "label"):
            continue
        else:
            raise InvalidArgument(f"Invalid --security-opt: {raw!r}")
    return nnp, seccomp


def intent_for(
    svc: ContainerService,
    record: ContainerRecord,
    sandbox: Sandbox,
    *,
    console_size: tuple[int, int] | None = None,
) -> ContainerIntent:
    """The runtime's view of one run: the record's merged config, its mounts and its sandbox."""
    cfg, host = record.config, record.host_config
    r = host.resources
    plan = sandbox.plan
    network = {"new": "new", "host": "host"}.get(str(plan.mode), plan.path)
    nnp, seccomp = _security(host.security_opt)
    etc = {"/etc/hosts": sandbox.hosts_path, "/etc/resolv.conf": sandbox.resolv_path,
           "/etc/hostname": sandbox.hostname_path}
    return ContainerIntent(
        container_id=record.id,
        entrypoint=cfg.entrypoint or None,
        cmd=cfg.cmd,
        env=cfg.env,
        user=cfg.user,
        group_add=host.group_add,
        workdir=cfg.working_dir or None,
        hostname=cfg.hostname,
        tty=cfg.tty,
        console_size=console_size if cfg.tty else None,
        init=host.init,
        read_only=host.read_only,
        privileged=host.privileged,
        cap_add=host.cap_add,
        cap_drop=host.cap_drop,
        no_new_privileges=nnp,
        seccomp=seccomp,
        mounts=tuple(_user_mount(svc, m) for m in host.mounts),
        etc_files={k: v for k, v in etc.items() if v},
        network=network,
        ulimits=tuple(Rlimit(type=f"RLIMIT_{u.name.upper()}", soft=u.soft, hard=u.hard) for u in r.ulimits),
        memory=r.memory,
        memory_swap=r.memory_swap,
        memory_reservation=r.memory_reservation,
        cpus=r.nano_cpus / 1e9,
        cpu_shares=r.cpu_shares,
        cpu_period=r.cpu_period,
        cpu_quota=r.cpu_quota,
        cpuset_cpus=r.cpuset_cpus,
        pids_limit=r.pids_limit if r.pids_limit > 0 else 0,
        shm_size=host.shm_size or _DEFAULT_SHM,
        sysctls=dict(host.sysctls),
        oom_score_adj=host.oom_score_adj,
        rootless=svc.config.rootless,
        userns_path=plan.userns_path,
    )


def sandbox_request(svc: ContainerService, record: ContainerRecord) -> SandboxRequest:
    from dockernb.network.base import SandboxRequest

    cfg, host = record.config, record.host_config
    joined_pid, joined_dir = 0, None
    if host.network_mode.startswith("container:"):
        other = host.network_mode.partition(":")[2]
        try:
            state = svc.current_state(other)
        except NoSuchContainer:
            state = ContainerState()
        joined_pid = state.pid if state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) else 0
        joined_dir = svc.store.paths(other).dir
    exposed: list[tuple[int, str]] = []
    for raw in cfg.exposed_ports:
        exposed += parse_expose(raw)
    ports = []
    for b in host.port_bindings:
        lo = hi = 0
        if b.host_port:
            first, _, last = b.host_port.partition("-")
            lo = int(first)
            hi = int(last) if last else lo
        ports.append(PortMapping(b.container_port, b.protocol, b.host_ip, lo, hi))
    extra_hosts = []
    for item in host.extra_hosts:
        name, _, ip = item.partition(":")
        extra_hosts.append((name, ip))
    return SandboxRequest(
        container_id=record.id, name=record.name, hostname=cfg.hostname, files_dir=svc.store.paths(record.id).dir,
        network_mode="bridge" if host.network_mode in ("", "default") else host.network_mode,
        joined_pid=joined_pid, joined_files_dir=joined_dir,
        aliases=host.network_aliases, ipv4_address=host.ipv4_address, ports=tuple(ports),
        publish_all=host.publish_all_ports, exposed=tuple(dict.fromkeys(exposed)), dns=host.dns,
        dns_search=host.dns_search, dns_options=host.dns_options, extra_hosts=tuple(extra_hosts),
        domainname=cfg.domainname,
    )  # fmt: skip


def run_plan(svc: ContainerService, record: ContainerRecord, *, console_size: tuple[int, int] | None = None) -> RunPlan:
    """Make the sandbox and the spec for one run (the caller tears the sandbox down on failure)."""
    sandbox = svc.networks.create_sandbox(sandbox_request(svc, record))
    try:
        intent = intent_for(svc, record, sandbox, console_size=console_size)
        spec = build_spec(intent, root_path=str(svc.store.paths(record.id).dir / "rootfs"))
        mounts = svc.images.snapshotter.mounts(record.extra.get("snapshot", record.id))
        (svc.store.paths(record.id).dir / "rootfs").mkdir(mode=0o755, exist_ok=True)
    except BaseException:
        svc.networks.teardown(record.id)
        raise
    return RunPlan(RuntimeSpawner(record.id, runtime_dir(svc, record.id), spec, mounts), sandbox)


def save_engine_config(svc: ContainerService, container_id: str) -> None:
    """The engine's configuration, for the post-exit handler's process (hooks)."""
    from dockernb.engine.containers.hooks import config_to_json

    svc.store.write_file(container_id, "engine.json", json.dumps(config_to_json(svc.config)).encode())


def _failed(svc: ContainerService, container_id: str, err: DockernbError) -> None:
    """Record a start that did not get to run the command (docker keeps the exit code and error)."""
    code = 127 if isinstance(err, CommandNotFound) else 126 if isinstance(err, CommandNotExecutable) else 128

    def update(s: ContainerState) -> None:
        s.exit_code, s.error = code, str(err)
        s.finished_at = datetime.now(UTC) if s.started_at else None
        s.pid = s.pid_start = 0

    # the caller holds the container's lock (a second flock of it here would wait forever)
    state = svc.store.state(container_id)
    target = next_status(state.status, Event.START_FAILED)
    if target is not None:
        state.status = target
        update(state)
        svc.store.save_state(container_id, state)


def start_container(
    svc: ContainerService,
    container_id: str,
    *,
    attach: tuple[bool, bool, bool] | None = None,
    console_size: tuple[int, int] | None = None,
    ref: str = "",
) -> Start:
    """Start the stored container ``container_id`` (already resolved); see ``ContainerService.start``.

    ``attach`` = (stdin, stdout, stderr) connects to the monitor before the start.
    """
    paths = svc.store.paths(container_id)
    with svc.store.lock(container_id):
        record = svc.store.record(container_id)
        state = svc.reconcile_locked(container_id)
        if state.status in (ContainerStatus.RUNNING,):
            return Start(state=state, already_running=True)
        if next_status(state.status, Event.START) is None:
            raise ContainerStateConflict(conflict_message("start", state.status, container_id, ref))
        generation = state.generation + 1
        plan = run_plan(svc, record, console_size=console_size)
        pending = None
        client: AttachClient | None = None
        warnings = list(plan.sandbox.warnings)
        try:
            save_engine_config(svc, container_id)
            options: MonitorOptions = monitor_options(svc.store, record, generation, HOOKS)
            if console_size is not None and record.config.tty:
                options = dataclasses.replace(options, console_size=console_size)
            pending = svc.launcher.launch(paths, plan.spawner, options)
            svc.networks.attach(container_id, pending.pid)
            warnings += _runtime_warnings(paths.dir)
            if attach is not None:
                client = AttachClient.connect(paths, stdin=attach[0], stdout=attach[1], stderr=attach[2])
            started = pending.start()
        except ContainerStartFailed as err:
            if client is not None:
                client.close()
            _cleanup_failed_start(svc, container_id, pending)
            _failed(svc, container_id, err)
            raise
        except BaseException:
            if client is not None:
                client.close()
            _cleanup_failed_start(svc, container_id, pending)
            raise
        new = _record_start(svc, container_id, started, generation)
    if client is not None:
        svc.record_event(record, "attach")  # docker logs the attach of run/start -a before the start
    svc.record_event(record, "start")
    return Start(state=new, attach=client, warnings=tuple(warnings))


def _runtime_warnings(directory: Path) -> list[str]:
    try:
        data = json.loads((directory / WARNINGS_FILE).read_bytes())
    except (OSError, ValueError):
        return []
    return [str(w) for w in data] if isinstance(data, list) else []


def _cleanup_failed_start(svc: ContainerService, container_id: str, pending: object) -> None:
    from dockernb import runtime as rt
    from dockernb.monitor.launcher import PendingStart

    if isinstance(pending, PendingStart):
        with contextlib.suppress(Exception):
            pending.abort()
    with contextlib.suppress(Exception):
        svc.networks.teardown(container_id)
    with contextlib.suppress(Exception):
        rt.delete(runtime_dir(svc, container_id), force=True)


def _record_start(svc: ContainerService, container_id: str, started: Started, generation: int) -> ContainerState:
    def update(s: ContainerState) -> None:
        s.pid, s.pid_start = started.pid, started.pid_start
        s.monitor_pid, s.monitor_start = started.monitor_pid, started.monitor_start
        s.generation = generation
        s.started_at = datetime.now(UTC)
        s.finished_at = None
        s.exit_code, s.error, s.oom_killed = 0, "", False
        s.manually_stopped = False
        s.restart_delay = 0.0

    # the lock is held by our caller: transition() would take it again (flock is per open file)
    state = svc.store.state(container_id)
    target = next_status(state.status, Event.START)
    if target is None:  # the table allowed START a moment ago under the same lock
        raise ContainerStateConflict(conflict_message("start", state.status, container_id))
    state.status = target
    update(state)
    svc.store.save_state(container_id, state)
    return state
