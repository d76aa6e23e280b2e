"""``create``: an OCI spec turned into an init process, namespaced, mounted, blocked before execve (L4).

The stages (see :mod:`dockernb.runtime.messages` for the messages between them):

1. *parent* (the caller): reads the spec, computes everything the init will need (mount plan,
   capability masks, the seccomp BPF, rlimits), makes the cgroups and applies the limits, binds
   ``init.sock`` in the state directory, then forks
2. a *helper*: joins the namespaces the spec gives by path (user first), and clones the init with
   the spec's new namespaces **and CLONE_PARENT**, so the init is the caller's own child (the
   caller can waitpid it; a subreaper monitor needs nothing else); reports the pid, exits
3. *parent*: writes the id maps of a new user namespace (newuidmap/newgidmap when rootless with
   subordinate ranges), puts the init in its cgroups, sends GO
4. *init* (:mod:`dockernb.runtime.init`): builds the container and reports CREATED (or ERROR),
   then waits on ``init.sock`` for START.

On any failure the parent kills and reaps the init, removes the cgroups and the state
directory, and raises: nothing is left behind.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dockernb.errors import (
    CommandNotExecutable,
    CommandNotFound,
    Conflict,
    ContainerStartFailed,
    InvalidArgument,
    InvalidConfig,
)
from dockernb.linux import cgroups as cg
from dockernb.linux import mount as snapshot_mount
from dockernb.linux import ns, seccomp
from dockernb.linux import syscalls as sc
from dockernb.linux.rootfs import CgroupMount, RootfsPlan, is_fuse
from dockernb.runtime import keys as ann
from dockernb.runtime import record as st
from dockernb.runtime.init import InitPlan, ProcessPlan, init_main, seal_imports
from dockernb.runtime.messages import Channel, Msg
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Spec, spec_from_json, spec_to_json

__all__ = ["Created", "Stdio", "create", "load_config", "load_spec", "start_error"]

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
CREATE_PREFIX = (
    "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: "
)
EXEC_PREFIX = "OCI runtime exec failed: exec failed: unable to start container process: "


@dataclass(frozen=True, slots=True)
class Stdio:
    """The fds the container's process gets as 0, 1 and 2 (None: /dev/null). Ignored with a tty."""

    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None

    def fds(self) -> tuple[int | None, int | None, int | None]:
        return (self.stdin, self.stdout, self.stderr)


@dataclass(slots=True)
class Created:
    """A created container: its init is blocked before execve until :func:`~dockernb.runtime.start`."""

    id: str
    pid: int
    state_dir: Path
    #: the pty master when the spec asked for a terminal (the caller owns and closes it)
    pty_master: int | None = None
    #: docker-style warnings (limits this host could not apply)
    warnings: list[str] = field(default_factory=list)


def start_error(kind: str, message: str, *, prefix: str = CREATE_PREFIX) -> ContainerStartFailed:
    """The error a failed init/exec stage maps to, in docker's (runc's) words."""
    if kind == "not_found":
        return CommandNotFound(f"{prefix}{message}: unknown")
    if kind == "not_executable":
        return CommandNotExecutable(f"{prefix}{message}: unknown")
    if kind == "user":
        return ContainerStartFailed(message)
    return ContainerStartFailed(f"{prefix}error during container init: {message}: unknown")


def load_spec(bundle: Path) -> Spec:
    """The bundle's config.json; raises InvalidConfig when it is missing or malformed."""
    return load_config(bundle / "config.json")


def load_config(path: Path) -> Spec:
    """A config.json file; raises InvalidConfig when it is missing or malformed."""
    import json

    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidConfig(f"{path}: no such file (not an OCI bundle)") from None
    except (OSError, ValueError) as err:
        raise InvalidConfig(f"{path}: {err}") from err
    return spec_from_json(data)


RLIMITS = {
    "RLIMIT_" + name: getattr(resource, "RLIMIT_" + name)
    for name in str.split(
        "AS CORE CPU DATA FSIZE LOCKS MEMLOCK MSGQUEUE NICE NOFILE NPROC RSS RTPRIO RTTIME SIGPENDING STACK"
    )
    if hasattr(resource, "RLIMIT_" + name)
}


def _rootfs_path(spec: Spec, bundle: Path | None) -> str:
    path = spec.root.path
    if not os.path.isabs(path):
        if bundle is None:
            raise InvalidConfig("config.json: root.path is relative but there is no bundle directory")
        path = os.path.join(bundle, path)
    path = os.path.realpath(path)
    if not os.path.isdir(path):
        raise InvalidConfig(f"rootfs ({path}) does not exist")
    return path


def _cgroup_mounts(h: cg.Hierarchies, manager: cg.CgroupManager) -> tuple[CgroupMount, ...]:
    mine = manager.paths()
    out = []
    for mountpoint, data in h.v1_mounts:
        first = data.split(",")[0]
        host_dir = mine.get(first) or h.v1.get(first, mountpoint)
        out.append(CgroupMount(os.path.basename(mountpoint), data, host_dir))
    return tuple(out)


def _plan(
    container_id: str,
    spec: Spec,
    rootfs_dir: str,
    stdio: Stdio,
    root_mounts: Sequence[Mount],
    manager: cg.CgroupManager,
    h: cg.Hierarchies,
) -> tuple[InitPlan, int, list[tuple[str, str]]]:
    lx = spec.linux
    flags = 0
    joins: list[tuple[str, str]] = []
    kinds = set()
    for n in lx.namespaces:
        kinds.add(n.type)
        if n.path:
            joins.append((n.type, n.path))
        elif n.type != "cgroup":
            flags |= ns.CLONE_FLAGS[n.type]
    if "mount" not in kinds:
        raise InvalidConfig("config.json: a mount namespace is required")
    if os.geteuid() != 0 and "user" not in kinds:
        raise InvalidConfig("rootless container requires user namespaces")
    if flags & sc.CLONE_NEWUSER and not (lx.uid_mappings and lx.gid_mappings):
        raise InvalidConfig("config.json: a new user namespace needs uidMappings and gidMappings")
    joins.sort(key=lambda j: ns.JOIN_ORDER.index(j[0]))
    for key in lx.sysctl:
        _check_sysctl(key, kinds, joins)
    p = spec.process
    rlimits = []
    for r in p.rlimits:
        if r.type not in RLIMITS:
            raise InvalidConfig(f"config.json: unknown rlimit type {r.type}")
        rlimits.append((RLIMITS[r.type], r.soft, r.hard, r.type))
    bpf = None
    if lx.seccomp is not None:
        try:
            bpf = seccomp.compile_bpf(lx.seccomp)
        except (ValueError, OSError) as err:
            raise InvalidConfig(f"config.json: seccomp: {err}") from err
    userns = "user" in kinds
    group_add = tuple(g for g in spec.annotations.get(ann.GROUP_ADD, "").split(",") if g)
    proc = ProcessPlan(
        process=p,
        short_id=container_id[:12],
        title=f"dockernb-init {container_id[:12]}",
        user_spec=spec.annotations.get(ann.USER),
        group_add=group_add,
        additional_gids=tuple(g for g in spec.annotations.get(ann.ADDITIONAL_GIDS, "").split(",") if g),
        seccomp_bpf=bpf,
        rlimits=rlimits,
        stdio=stdio.fds(),
        userns=userns,
    )
    if root_mounts:
        # resolve libc for the storage layer's mount code now: in the child, find_library would
        # run ldconfig (and import) after the clone
        snapshot_mount._libc()
    rootfs = RootfsPlan(
        spec=spec,
        rootfs=rootfs_dir,
        userns=userns,
        cgroupns=any(n.type == "cgroup" and not n.path for n in lx.namespaces),
        cgroups_v1=_cgroup_mounts(h, manager),
        cgroup_v2_dir=manager.paths().get("", h.v2) if not h.v1 else None,
        root_mounts=tuple(root_mounts),
    )
    net = lx.namespace("network")
    plan = InitPlan(
        proc=proc,
        rootfs=rootfs,
        hostname=spec.hostname,
        set_hostname=bool(spec.hostname) and "uts" in kinds,
        new_userns=bool(flags & sc.CLONE_NEWUSER),
        cgroupns=rootfs.cgroupns,
        loopback_up=spec.annotations.get(ann.LOOPBACK) == "up" and net is not None and not net.path,
        oom_score_adj=p.oom_score_adj,
        inspectable_until_start=os.geteuid() != 0 and "pid" in kinds and "pid" not in {k for k, _ in joins},
    )
    return plan, flags, joins


_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced"}


def _check_sysctl(key: str, kinds: set[str], joins: Sequence[tuple[str, str]]) -> None:
    """Only sysctls of a namespace the container has of its own (runc's rule): the init writes
    them as root before /proc/sys turns read-only, so a global one would change the host."""
    own = kinds - {kind for kind, _ in joins}
    if not key or "/" in key or ".." in key.split("."):
        raise InvalidConfig(f"sysctl {key!r} is not a valid sysctl name")
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        needed = "ipc"
    elif key.startswith("net."):
        needed = "network"
    elif key in ("kernel.hostname", "kernel.domainname"):
        needed = "uts"
    else:
        raise InvalidConfig(f"sysctl {key!r} is not in a separate kernel namespace")
    if needed not in own:
        raise InvalidConfig(f"sysctl {key!r} is not allowed: the container shares the {needed} namespace")


def _listen(state_dir: Path) -> socket.socket:
    """``init.sock``, bound through an O_PATH fd of the directory: sun_path holds only 108 bytes."""
    dirfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.bind(f"/proc/self/fd/{dirfd}/init.sock")
        sock.listen(4)
    except BaseException:
        sock.close()
        raise
    finally:
        os.close(dirfd)
    return sock


def connect_init(state_dir: Path) -> socket.socket:
    dirfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/init.sock")
    except BaseException:
        sock.close()
        raise
    finally:
        os.close(dirfd)
    return sock


def spawn(
    child_main: Callable[[], None],
    clone_flags: int,
    joins: Sequence[tuple[str, str]],
    child_sock: socket.socket,
    cgroup_procs: Sequence[str] = (),
) -> int:
    """Fork the helper that joins ``joins`` and clones ``child_main()`` as the caller's child.

    The helper writes itself into ``cgroup_procs`` first (exec uses this: its process must be
    in the container's cgroups before it joins the cgroup namespace). Returns the helper's pid;
    the clone's pid arrives as INIT_PID on ``child_sock``'s peer.
    """
    helper = os.fork()
    if helper != 0:
        return helper
    code = 1
    try:
        seal_imports()  # the helper may setns into a container's mount namespace
        chan = Channel(child_sock)
        try:
            for path in cgroup_procs:
                with open(path, "w") as f:
                    f.write("0")
            calls = sc.LinuxSyscalls()
            for kind, path in joins:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    calls.setns(fd, ns.CLONE_FLAGS[kind])
                except OSError as err:
                    raise OSError(err.errno, f"joining {kind} namespace {path}: {os.strerror(err.errno or 0)}") from err
                finally:
                    os.close(fd)
            pid = sc.clone(sc.CLONE_PARENT | clone_flags)
            if pid == 0:
                child_main()
                os._exit(1)
            chan.send(Msg.INIT_PID, {"pid": pid})
            code = 0
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            text = str(err.strerror or err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
            try:
                chan.send(Msg.ERROR, {"kind": "setup", "message": text[:1].lower() + text[1:]})
            except OSError:
                pass
    finally:
        os._exit(code)


def _mount_fuse_in(pid: int, mounts: Sequence[Mount], rootfs_dir: str, *, userns: bool) -> None:
    """Mount a fuse snapshot (fuse-overlayfs) for the waiting init, keeping its daemon out of the
    container: out of its pid namespace and cgroups, and out of its mount namespace too (a
    pivot_root there would move the daemon's root along with the container's).

    A helper mounts it in a throwaway mount namespace, takes a detached copy (open_tree), drops
    its own mount and attaches the copy in the init's namespace (move_mount). The container's
    mount is then the only one: when the container's namespace goes, the daemon exits.
    """
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(r)
            calls = sc.LinuxSyscalls()

            def join(kind: str) -> None:
                fd = os.open(f"/proc/{pid}/ns/{ns.PROC_NAMES[kind]}", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    calls.setns(fd, ns.CLONE_FLAGS[kind])
                finally:
                    os.close(fd)

            if userns:
                join("user")
            calls.unshare(sc.CLONE_NEWNS)
            calls.mount(None, "/", None, sc.MS_SLAVE | sc.MS_REC, None)
            snapshot_mount.mount_all(mounts, rootfs_dir)
            tree = sc.open_tree_clone(rootfs_dir)
            calls.umount2(rootfs_dir, sc.MNT_DETACH)
            join("mount")
            # the init has not made / a slave yet: do it first, so that nothing reaches the host
            calls.mount(None, "/", None, sc.MS_SLAVE | sc.MS_REC, None)
            sc.move_mount_fd(tree, rootfs_dir)
            code = 0
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            os.write(w, str(err).encode()[:2000])
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        message = f.read().decode(errors="replace")
    status = reap(child)
    if status != 0:
        raise start_error("setup", f"mounting the snapshot: {message or f'exit status {status}'}")


def _single_threaded() -> bool:
    """True when the caller has one thread: a raw clone is then as safe as fork(2)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def reap(pid: int) -> int | None:
    """waitpid(pid) if it is our child; its exit code (128+N for a signal), None if not ours."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    reap(pid)


def create(
    container_id: str,
    *,
    state_dir: Path,
    bundle: Path | None = None,
    spec: Spec | None = None,
    stdio: Stdio | None = None,
    root_mounts: Sequence[Mount] = (),
) -> Created:
    """Create the container ``container_id`` from ``bundle`` (its config.json) or ``spec``.

    ``root_mounts`` (a snapshot's mounts) are mounted on the rootfs inside the container's own
    mount namespace, so the host never sees them and nothing needs unmounting after a crash.
    The init is the caller's child, blocked before execve until :func:`dockernb.runtime.start`.

    Raises:
        InvalidConfig: a malformed spec. Conflict: the state directory holds a live container.
        CommandNotFound / CommandNotExecutable: argv[0] cannot be run (create-time, as in runc).
        ContainerStartFailed: any other failure while building the container.
    """
    if not container_id or not set(container_id) <= _ID_CHARS or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container id format: {container_id!r}")
    from_bundle = spec is None
    if spec is None:
        if bundle is None:
            raise InvalidArgument("create needs a bundle directory or a spec")
        spec = load_spec(bundle)
    rootfs_dir = _rootfs_path(spec, bundle)
    state_dir = Path(state_dir)
    if st.exists(state_dir):
        old = st.load(state_dir, container_id)
        if st.alive(old):
            raise Conflict(f"container with id exists: {container_id}")
        from dockernb.runtime.control import delete

        delete(state_dir, force=True)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    h = cg.discover()
    try:
        rel = cg.relative_path(container_id, spec.linux.cgroups_path)
    except ValueError as err:
        raise InvalidConfig(str(err)) from err
    manager = cg.manager_for(rel, hierarchies=h)
    try:
        warnings = manager.create(spec.linux.resources)
    except OSError as err:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise ContainerStartFailed(f"{CREATE_PREFIX}error during container init: cgroups: {err}: unknown") from err

    pid = 0
    helper = 0
    listener: socket.socket | None = None
    parent_sock: socket.socket | None = None
    pty_master: int | None = None
    try:
        plan, flags, joins = _plan(container_id, spec, rootfs_dir, stdio or Stdio(), root_mounts, manager, h)
        listener = _listen(state_dir)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        chan = Channel(parent_sock)
        lsock = listener
        psock = parent_sock

        def child() -> None:
            psock.close()
            init_main(plan, Channel(child_sock), lsock)

        if not joins and _single_threaded():
            # nothing to join and no other thread: clone the init straight from here (one fork less)
            pid = sc.clone(flags)
            if pid == 0:
                child()
                os._exit(1)
        else:
            helper = spawn(child, flags, joins, child_sock)
        child_sock.close()
        listener.close()
        listener = None
        error: tuple[str, str] | None = None
        while not pid:
            kind, payload, fds = chan.recv()
            for fd in fds:
                os.close(fd)
            if kind is Msg.INIT_PID:
                pid = int(payload["pid"])
            elif kind is Msg.ERROR:
                error = error or (payload.get("kind", "setup"), payload.get("message", ""))
            else:
                break
        if helper:
            reap(helper)
            helper = 0
        if error or not pid:
            kind_, message = error or ("setup", "the helper process exited without creating the init")
            raise start_error(kind_, message)
        if flags & sc.CLONE_NEWUSER:
            try:
                ns.write_id_maps(pid, spec.linux.uid_mappings, spec.linux.gid_mappings)
            except OSError as err:
                raise start_error("setup", f"writing id maps: {err.strerror or err}") from err
        manager.add(pid)
        fuse = [m for m in root_mounts if is_fuse(m)]
        if fuse:
            _mount_fuse_in(pid, fuse, rootfs_dir, userns="user" in {n.type for n in spec.linux.namespaces})
        chan.send(Msg.GO)
        while True:
            kind, payload, fds = chan.recv()
            if kind is Msg.PTY and fds:
                pty_master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
                continue
            for fd in fds:
                os.close(fd)
            if kind is Msg.CREATED:
                break
            if kind is Msg.ERROR:
                raise start_error(payload.get("kind", "setup"), payload.get("message", ""))
            raise start_error("setup", "container init exited unexpectedly")
        chan.close()
        parent_sock = None
        start_time = st.process_start_time(pid)
        if start_time is None:
            raise start_error("setup", "container init exited unexpectedly")
        if from_bundle and bundle is not None:
            config_path = str(bundle / "config.json")
        else:
            from dockernb.store.atomic import write_json

            config_path = str(state_dir / "config.json")
            write_json(state_dir / "config.json", spec_to_json(spec), sync=False)
        st.save(
            state_dir,
            st.State(
                id=container_id,
                pid=pid,
                pid_start=start_time,
                bundle=str(bundle) if bundle is not None else str(state_dir),
                config=config_path,
                status="created",
                created=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                rootless=os.geteuid() != 0,
                cgroup_kind=manager.kind,
                cgroup_paths=manager.paths(),
                cgroup_controllers=list(h.v2_controllers),
                own_namespaces=[n.type for n in spec.linux.namespaces if not n.path],
                annotations=dict(spec.annotations),
            ),
        )
        return Created(id=container_id, pid=pid, state_dir=state_dir, pty_master=pty_master, warnings=warnings)
    except BaseException as err:
        if helper:
            _kill_and_reap(helper)
        if pid:
            _kill_and_reap(pid)
        if pty_master is not None:
            os.close(pty_master)
        for s in (listener, parent_sock):
            if s is not None:
                s.close()
        try:
            manager.destroy(force=True)
        except OSError as cleanup:
            err.add_note(f"cleanup: removing cgroups: {cleanup}")
        shutil.rmtree(state_dir, ignore_errors=True)
        if isinstance(err, OSError) and err.errno in (errno.EPERM, errno.EACCES, errno.ENOENT, errno.EINVAL):
            raise start_error("setup", str(err.strerror or err)) from err
        raise


def wait_gone(pid: int, start_time: int, timeout: float = 10.0) -> bool:
    """Poll until ``pid`` (started at ``start_time``) is gone; True if it went away in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if st.process_start_time(pid) != start_time:
            return True
        time.sleep(0.002)
    return False
