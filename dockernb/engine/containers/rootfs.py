"""A container's filesystem as a directory fd, for cp and export (layer L6).

:func:`on_rootfs` runs ``fn(root_fd)`` in a child process that sees the container's files the way
its own processes do, and returns ``fn``'s (JSON) result:

- **running** (or paused): ``root_fd`` is the init's ``/proc/<pid>/root``: the container's tree
  with its volumes, binds and tmpfs. When the container has a user namespace of its own (always
  when rootless), the child joins it first, so the container's ids and permissions apply to what
  it reads and writes, exactly as inside.
- **stopped** (created, exited): the child makes a private mount namespace (rootless: inside a
  user namespace mapped like the containers'), mounts the container's snapshot there and, when
  asked, its volumes and bind mounts; ``root_fd`` is that mount. All of it dies with the child.
  The container's lock is held meanwhile, so it cannot start on a snapshot mounted twice.

Either way ``fn`` resolves every path under ``root_fd`` (:mod:`dockernb.layers.copy`), so a
symlink in the container never leads to the host. Data travels through pipes the caller sets up
(:class:`ChildStream` reads one while the child writes it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockernb.errors import ContainerStateConflict, DockernbError
from dockernb.linux.mount import mount_all, run_in_userns
from dockernb.linux.syscalls import CLONE_NEWUSER, LinuxSyscalls
from dockernb.spec.container import ContainerRecord
from dockernb.spec.status import ContainerStatus

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["ChildStream", "RootfsInfo", "on_rootfs"]

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED)


@dataclass(frozen=True, slots=True)
class RootfsInfo:
    """What ``fn`` may need beside the root fd: whether the container runs, its rootfs device,
    and its read-only flag (docker refuses to extract into a read-only rootfs outside volumes)."""

    running: bool
    rootfs_dev: int
    read_only: bool


def _pinned_root(pid: int, pid_start: int) -> tuple[int, int | None]:
    """(fd of /proc/<pid>/root, fd of its user namespace when it differs from ours)."""
    from dockernb.linux.process import alive

    root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    userns: int | None = None
    try:
        theirs = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        if os.fstat(theirs).st_ino != os.stat("/proc/self/ns/user").st_ino:
            userns = theirs
        else:
            os.close(theirs)
        if pid_start and not alive(pid, pid_start):
            raise ProcessLookupError(pid)
    except BaseException:
        os.close(root)
        if userns is not None:
            os.close(userns)
        raise
    return root, userns


def _volume_binds(svc: ContainerService, record: ContainerRecord) -> list[tuple[str, str, bool]]:
    """(host source, target, read-only) of the container's volumes and binds, in mount order."""
    from dockernb.errors import NoSuchVolume

    out = []
    for m in record.host_config.mounts:
        if m.type == "volume":
            with contextlib.suppress(NoSuchVolume):
                out.append((str(svc.volume_store.get(m.source).mountpoint), m.target, m.read_only))
        elif m.type == "bind":
            out.append((m.source, m.target, m.read_only))
    return out


def _bind_into(root: str, source: str, target: str, read_only: bool) -> None:
    """Bind ``source`` on ``target`` inside ``root`` (resolved in it; a missing target is skipped)."""
    from dockernb.linux.mount import MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, mount, umount
    from dockernb.linux.rootfs import open_in_root

    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = open_in_root(root_fd, target)
        except OSError:
            return  # never started: docker makes volume mount points at start
        try:
            where = f"/proc/self/fd/{fd}"
            mount(source, where, "", MS_BIND | MS_REC, "")
            if read_only:
                try:
                    mount("", where, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "")
                except OSError:
                    umount(where, MNT_DETACH)
                    raise
        finally:
            os.close(fd)
    finally:
        os.close(root_fd)


def on_rootfs(
    svc: ContainerService,
    container_id: str,
    fn: Callable[[int, RootfsInfo], Any],
    *,
    volumes: bool = True,
    after_fork: Callable[[], None] | None = None,
) -> Any:  # noqa: ANN401 - fn's JSON result
    """Run ``fn(root_fd, info)`` in a child on the container's filesystem (see the module docstring).

    ``fn`` must import nothing new and return JSON-shaped data; a DockernbError it raises is
    raised here again. ``after_fork`` runs in this process right after the fork (close the
    child's ends of pipes there). Raises NoSuchContainer, ContainerStateConflict (removing).
    """
    record = svc.store.record(container_id)
    state = svc.current_state(container_id)
    if state.status in (ContainerStatus.REMOVING, ContainerStatus.DEAD):
        raise ContainerStateConflict(f"container {container_id} is marked for removal")
    if state.status in _LIVE and state.pid:
        try:
            root, userns = _pinned_root(state.pid, state.pid_start)
        except OSError:
            pass  # it exited meanwhile: the stopped path below (under the lock) applies
        else:
            try:
                return _running(root, userns, record, fn, after_fork)
            finally:
                os.close(root)
                if userns is not None:
                    os.close(userns)
    with svc.store.lock(container_id):
        state = svc.reconcile_locked(container_id)
        if state.status in _LIVE:
            raise ContainerStateConflict(f"container {container_id} changed state, try again")
        return _stopped(svc, record, fn, volumes=volumes, after_fork=after_fork)


def _running(root: int, userns: int | None, record: ContainerRecord, fn: Callable[[int, RootfsInfo], Any],
             after_fork: Callable[[], None] | None) -> Any:  # noqa: ANN401
    calls = LinuxSyscalls()

    def child() -> Any:  # noqa: ANN401
        if userns is not None:
            # the container's ids and capabilities, for its files (setns(2): single-threaded, as a fresh child is)
            calls.setns(userns, CLONE_NEWUSER)
        info = RootfsInfo(running=True, rootfs_dev=os.fstat(root).st_dev, read_only=record.host_config.read_only)
        return fn(root, info)

    return run_in_userns(child, None, after_fork=after_fork)


def _stopped(svc: ContainerService, record: ContainerRecord, fn: Callable[[int, RootfsInfo], Any], *,
             volumes: bool, after_fork: Callable[[], None] | None) -> Any:  # noqa: ANN401
    from dockernb.linux.mount import unmount_all

    mounts = svc.images.snapshotter.mounts(record.extra.get("snapshot", record.id))
    binds = _volume_binds(svc, record) if volumes else []
    tmp = svc.layout.tmp
    tmp.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="rootfs-", dir=tmp)
    rootfs = os.path.join(scratch, "rootfs")
    os.mkdir(rootfs, 0o700)

    def child() -> Any:  # noqa: ANN401
        mount_all(mounts, rootfs)
        try:
            for source, target, read_only in binds:
                _bind_into(rootfs, source, target, read_only)
            root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                info = RootfsInfo(running=False, rootfs_dev=os.fstat(root).st_dev,
                                  read_only=record.host_config.read_only)  # fmt: skip
                return fn(root, info)
            finally:
                os.close(root)
        finally:
            with contextlib.suppress(OSError, DockernbError):
                unmount_all(rootfs)

    try:
        return run_in_userns(child, svc.images.idmap, mount_ns=True, after_fork=after_fork)
    finally:
        # empty mount points: the mounts lived in the child's namespace and died with it
        with contextlib.suppress(OSError):
            os.rmdir(rootfs)
        with contextlib.suppress(OSError):
            os.rmdir(scratch)


class ChildStream:
    """Bytes a child process writes to a pipe, read here as they come (a file-like ``read``).

    ``start(write_fd, after_fork, read_fd)`` runs the child to its end (on a thread) and returns
    its result; the child writes into ``write_fd`` and closes its copy of ``read_fd``. The
    child's error is raised by :meth:`read` at the end of the data (or by :meth:`close`), so a
    reader never mistakes a failure for an end.
    """

    def __init__(self, start: Callable[[int, Callable[[], None], int], Any]) -> None:
        self._r, w = os.pipe2(os.O_CLOEXEC)
        #: the read end, which the child must close (or the pipe never reports a gone reader)
        self.read_fd = self._r
        self.result: Any = None
        self._error: BaseException | None = None
        self._closed_w = False
        forked = threading.Event()

        def close_w() -> None:
            if not self._closed_w:
                self._closed_w = True
                os.close(w)
            forked.set()

        def run() -> None:
            try:
                self.result = start(w, close_w, self.read_fd)
            except BaseException as err:  # noqa: BLE001 - raised by the reader
                self._error = err
            finally:
                close_w()

        self._thread = threading.Thread(target=run, name="dockernb-rootfs", daemon=True)
        self._thread.start()
        # until the child exists and our copy of the write end is closed, a fork elsewhere in this
        # process (the reader's own helper) would inherit that end and the pipe would never end
        forked.wait()

    def read(self, n: int = 1 << 16) -> bytes:
        data = os.read(self._r, n if n > 0 else 1 << 16)
        if not data:
            self._finish()
        return data

    def _finish(self) -> None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        if self._r >= 0:
            os.close(self._r)  # the child gets EPIPE and ends
            self._r = -1
        self._thread.join()
        self._error = None

    def finish(self) -> Any:  # noqa: ANN401
        """Read to the end (discarding), then return the child's result or raise its error."""
        while self.read():
            pass
        return self.result

    def __enter__(self) -> ChildStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

