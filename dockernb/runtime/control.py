"""The verbs after create: start, kill, pause/resume, delete, state, wait, and run = all of them (L4).

Each verb takes the container's state directory, so any process can call it: the one that
created the container, a monitor, the engine after a restart. Every verb refreshes the status
from the kernel first (youki's shape) and refuses with docker's/runc's words when the status
does not allow it.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockernb.errors import ContainerStateConflict, NoSuchContainer
from dockernb.linux import cgroups as cg
from dockernb.runtime import record as st
from dockernb.runtime.create import Created, Stdio, connect_init, create, reap, start_error
from dockernb.runtime.messages import Channel, Msg
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Resources, Spec

__all__ = [
    "OciState",
    "delete",
    "kill",
    "oom_killed",
    "pause",
    "pids",
    "resume",
    "run",
    "start",
    "state",
    "stats",
    "stop",
    "update",
    "wait",
]


@dataclass(frozen=True, slots=True)
class OciState:
    """The OCI runtime ``state`` of a container (what ``runc state`` prints)."""

    id: str
    status: str
    pid: int
    bundle: str
    created: str
    annotations: dict[str, str]

    def to_json(self) -> dict[str, object]:
        return {
            "ociVersion": "1.0.2-dev",
            "id": self.id,
            "status": self.status,
            "pid": self.pid if self.status != "stopped" else 0,
            "bundle": self.bundle,
            "created": self.created,
            "annotations": self.annotations,
        }


def _manager(s: st.State) -> cg.CgroupManager:
    return cg.manager_from(s.cgroup_kind, s.cgroup_paths, s.cgroup_controllers)


def state(state_dir: Path) -> OciState:
    """The container's status from the kernel. Raises NoSuchContainer when there is none."""
    s = st.load(state_dir)
    return OciState(s.id, st.status(s), s.pid, s.bundle, s.created, dict(s.annotations))


def start(state_dir: Path) -> None:
    """Release a created container's init to execve the process (like ``runc start``).

    Raises:
        ContainerStateConflict: the container is not in the created state.
        CommandNotFound / CommandNotExecutable / ContainerStartFailed: execve failed.
    """
    s = st.load(state_dir)
    now = st.status(s)
    if now != "created":
        raise ContainerStateConflict(f"cannot start a container in the {now} state")
    try:
        sock = connect_init(state_dir)
    except OSError as err:
        raise ContainerStateConflict(f"cannot start container {s.id}: it is not waiting to start ({err})") from err
    chan = Channel(sock)
    try:
        chan.send(Msg.START)
        kind, payload, fds = chan.recv()
        for fd in fds:
            os.close(fd)
    finally:
        chan.close()
    if kind is Msg.EXEC_FAILED:
        raise start_error(payload.get("kind", "exec"), payload.get("message", ""))
    try:
        os.unlink(state_dir / "init.sock")
    except FileNotFoundError:
        pass
    s.status = "running"
    st.save(state_dir, s)


def wait(pid: int) -> int | None:
    """Reap ``pid`` (the caller's child) and return its exit code, 128+N when killed by signal N."""
    return reap(pid)


def oom_killed(state_dir: Path) -> bool:
    """Whether the kernel's OOM killer killed a process of the container (read before delete)."""
    return _manager(st.load(state_dir)).oom_killed()


def stats(state_dir: Path) -> cg.CgroupStats:
    """Memory, CPU and pids counters of the container's cgroups (empty without cgroups)."""
    return _manager(st.load(state_dir)).stats()


def update(state_dir: Path, resources: Resources) -> list[str]:
    """New cgroup limits for a created or running container (``docker update``); the warnings of
    limits this host cannot apply. Raises OSError from the kernel (a limit below the usage...)."""
    return _manager(st.load(state_dir)).update(resources)


def pids(state_dir: Path) -> list[int]:
    """Host pids of every process in the container (its cgroup, or its pid namespace)."""
    s = st.load(state_dir)
    if not st.alive(s):
        return []
    found = _manager(s).procs()
    if found:
        return found
    return _pidns_members(s.pid)


def _pidns_members(init_pid: int) -> list[int]:
    try:
        target = os.stat(f"/proc/{init_pid}/ns/pid").st_ino
    except OSError:
        return []
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == target:
                    out.append(int(name))
            except OSError:
                continue
    return out


def kill(state_dir: Path, sig: int = signal.SIGTERM, *, all_processes: bool = False) -> None:
    """Send ``sig`` to the init, or to every process of the container (``runc kill --all``).

    Raises:
        ContainerStateConflict: the container is not running (nothing to signal).
    """
    s = st.load(state_dir)
    if not st.alive(s):
        raise ContainerStateConflict(f"container {s.id} is not running")
    if all_processes:
        manager = _manager(s)
        if manager.kind != "none":
            manager.kill_all(sig)
            return
        for pid in _pidns_members(s.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return
    try:
        os.kill(s.pid, sig)
    except ProcessLookupError as err:
        raise ContainerStateConflict(f"container {s.id} is not running") from err


def stop(state_dir: Path, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """docker's stop escalation: ``sig`` to the init, then SIGKILL to every process after ``timeout``.

    Returns True if the container was running. Waits until the init is gone (the caller that is
    the init's parent still has to reap it).
    """
    s = st.load(state_dir)
    if not st.alive(s):
        return False
    if st.status(s) == "paused":
        resume(state_dir)
    try:
        os.kill(s.pid, sig)
    except ProcessLookupError:
        return True
    if _wait_gone(s, timeout):
        return True
    kill(state_dir, signal.SIGKILL, all_processes=True)
    try:
        os.kill(s.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait_gone(s, 10.0)
    return True


def _wait_gone(s: st.State, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not st.alive(s):
            return True
        time.sleep(0.005)
    return not st.alive(s)


def pause(state_dir: Path) -> None:
    """Freeze every process of the container (``docker pause``).

    Raises:
        ContainerStateConflict: not running, or no writable freezer (rootless without delegation).
    """
    s = st.load(state_dir)
    if st.status(s) != "running":
        raise ContainerStateConflict(f"container {s.id} is not running")
    try:
        _manager(s).freeze()
    except OSError as err:
        raise ContainerStateConflict(f"cannot pause container {s.id}: {err.strerror or err}") from err


def resume(state_dir: Path) -> None:
    """Thaw a paused container (``docker unpause``)."""
    s = st.load(state_dir)
    if st.status(s) != "paused":
        raise ContainerStateConflict(f"container {s.id} is not paused")
    try:
        _manager(s).thaw()
    except OSError as err:
        raise ContainerStateConflict(f"cannot resume container {s.id}: {err.strerror or err}") from err


def delete(state_dir: Path, *, force: bool = False) -> None:
    """Remove the container's cgroups and state (``runc delete``). Idempotent and crash-safe.

    Safe to call for a container whose creator or monitor died: a missing state directory is
    not an error. A live container needs ``force`` (it is killed first, every process).

    Raises:
        ContainerStateConflict: the container still runs and ``force`` is False.
    """
    state_dir = Path(state_dir)
    try:
        s = st.load(state_dir)
    except NoSuchContainer:
        shutil.rmtree(state_dir, ignore_errors=True)
        return
    if st.alive(s):
        if not force and st.status(s) != "created":
            raise ContainerStateConflict(f"cannot delete container {s.id} that is not stopped: {st.status(s)}")
        manager = _manager(s)
        if manager.kind != "none":
            manager.kill_all(signal.SIGKILL)
        try:
            os.kill(s.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not _wait_gone(s, 10.0):
            raise ContainerStateConflict(f"container {s.id} did not die after SIGKILL")
    try:
        _manager(s).destroy(force=True)
    except OSError as err:
        if err.errno not in (errno.ENOENT,):
            raise
    shutil.rmtree(state_dir, ignore_errors=True)


def run(
    container_id: str,
    *,
    state_dir: Path,
    bundle: Path | None = None,
    spec: Spec | None = None,
    stdio: Stdio | None = None,
    root_mounts: Sequence[Mount] = (),
    keep: bool = False,
    pty_out: int = 1,
) -> int:
    """create + start + wait (+ delete unless ``keep``): ``runc run``. Returns the exit code.

    The caller is the init's parent, so this blocks until the container's init exits. With a
    terminal, the pty's output is copied to ``pty_out``.
    """
    created: Created = create(
        container_id, state_dir=state_dir, bundle=bundle, spec=spec, stdio=stdio, root_mounts=root_mounts
    )
    try:
        start(state_dir)
        if created.pty_master is not None:
            _copy_out(created.pty_master, pty_out)
    except BaseException:
        delete(state_dir, force=True)
        reap(created.pid)
        raise
    finally:
        if created.pty_master is not None:
            os.close(created.pty_master)
    code = reap(created.pid)
    if not keep:
        delete(state_dir, force=True)
    return 255 if code is None else code


def _copy_out(master: int, out: int) -> None:
    """Copy a pty's output to ``out`` until every holder of the slave is gone (EIO)."""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as err:
            if err.errno == errno.EIO:
                return
            raise
        if not data:
            return
        os.write(out, data)
