"""mount(2), umount2(2), openat2(2) and the user namespace that storage work runs in (L1).

* :func:`openat2` resolves a path *inside* a directory fd (``RESOLVE_IN_ROOT``, kernel >= 5.6):
  symlinks and ``..`` cannot leave it. The layer extractor prices it against per-entry resolution.
* :func:`mount_all` / :func:`unmount_all` apply a snapshotter's ``Mount`` list (overlay, bind,
  fuse-overlayfs); snapshotters never call them for the runtime, tests and the runtime do.
* :class:`IdMap` and :func:`run_in_userns` run a function in a forked child that has entered a new
  user namespace mapped with the caller's subordinate ids (newuidmap/newgidmap), or the caller's
  own id only when there are none. Rootless extraction and copying run there so that chown works
  and files keep their image owners (as subuids on the host).

These live here, not in a ``linux/ns.py``, to keep this branch's kernel code in one module while
the runtime's namespace code is written in parallel; merge them when both have landed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dockernb.errors import DockernbError, InternalError, ProbeFailed
from dockernb.spec.mount import Mount

__all__ = [
    "RESOLVE_BENEATH",
    "RESOLVE_IN_ROOT",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_SYMLINKS",
    "RESOLVE_NO_XDEV",
    "IdMap",
    "is_mountpoint",
    "mount",
    "mount_all",
    "openat2",
    "overlay_options",
    "rootless_idmap",
    "run_in_userns",
    "umount",
    "unmount_all",
    "wait_gone",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# linux/openat2.h
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_SYS_OPENAT2 = 437  # the same number on every architecture (asm-generic and x86_64)

# linux/mount.h
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

_FLAG_OPTIONS = {
    "ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
    "bind": MS_BIND, "rbind": MS_BIND | MS_REC,
}
_IGNORED_OPTIONS = {"rw", "suid", "dev", "exec"}


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` relative to ``dirfd`` under the ``RESOLVE_*`` rules. Raises OSError."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    libc = _libc()
    fd = libc.syscall(_SYS_OPENAT2, dirfd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


# --- mounting ---------------------------------------------------------------------------


def mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    """mount(2). Raises OSError naming the target."""
    res = _libc().mount(os.fsencode(source), os.fsencode(target), fstype.encode(), flags, data.encode() or None)
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} {source} on {target}: {os.strerror(err)}")


def umount(target: str, flags: int = 0) -> None:
    if _libc().umount2(os.fsencode(target), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mountpoint(path: str) -> bool:
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == real for line in f)
    except OSError:
        return False


def _split_options(options: Sequence[str]) -> tuple[int, list[str]]:
    flags, data = 0, []
    for opt in options:
        if opt in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[opt]
        elif opt not in _IGNORED_OPTIONS:
            data.append(opt)
    return flags, data


def overlay_options(options: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """(upperdir, workdir, lowerdirs top first) from overlay mount options."""
    upper = work = None
    lowers: list[str] = []
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "upperdir":
            upper = value
        elif key == "workdir":
            work = value
        elif key == "lowerdir":
            lowers = value.split(":")
    return upper, work, lowers


def _mount_overlay(m: Mount, target: str, flags: int, data: list[str]) -> None:
    text = ",".join(data)
    if len(text) < 4000:
        mount("overlay", target, "overlay", flags, text)
        return
    # the option page is 4 KiB: with many layers, mount from their common parent with relative
    # paths, in a child so that our cwd never changes (containerd does the same)
    upper, work, lowers = overlay_options(m.options)
    common = os.path.commonpath([*lowers, *(p for p in (upper, work) if p)])
    rel = []
    for o in data:
        key, _, value = o.partition("=")
        if key == "lowerdir":
            o = "lowerdir=" + ":".join(os.path.relpath(p, common) for p in value.split(":"))
        elif key in ("upperdir", "workdir"):
            o = f"{key}={os.path.relpath(value, common)}"
        rel.append(o)
    text = ",".join(rel)
    if len(text) >= 4096:
        raise OSError(errno.E2BIG, f"overlay options too long even relative to {common}")
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.chdir(common)
            mount("overlay", os.path.abspath(target), "overlay", flags, text)
        except BaseException:  # noqa: BLE001 - reported through the exit code
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(errno.EINVAL, f"mount overlay on {target} (relative to {common}) failed")


def mount_all(mounts: Sequence[Mount], target: str) -> None:
    """Mount a snapshotter's Mount list on ``target`` (in order; undone if one fails)."""
    done: list[str] = []
    try:
        for m in mounts:
            dest = os.path.join(target, m.target.lstrip("/")) if m.target else target
            flags, data = _split_options(m.options)
            if m.type == "overlay":
                _mount_overlay(m, dest, flags, data)
            elif m.type.startswith(("fuse.", "fuse3.")):
                _mount_fuse(m, dest)
            elif m.type == "bind" or flags & MS_BIND:
                mount(m.source, dest, "", flags | MS_BIND, "")
                if flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC):
                    # bind mounts ignore these until remounted (mount(8) does the same dance)
                    mount("", dest, "", (flags & ~MS_REC) | MS_REMOUNT | MS_BIND, "")
            else:
                mount(m.source, dest, m.type, flags, ",".join(data))
            done.append(dest)
    except BaseException:
        for dest in reversed(done):
            try:
                umount(dest, MNT_DETACH)
            except OSError:
                pass
        raise


def _mount_fuse(m: Mount, dest: str) -> None:
    helper = m.type.split(".", 1)[1]
    exe = shutil.which(helper)
    if exe is None:
        raise ProbeFailed(f"{helper} is not installed", probe=f"{helper} on PATH", hint="apt-get install " + helper)
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise ProbeFailed(
            f"{helper} cannot open /dev/fuse", probe="/dev/fuse readable and writable by this user",
            hint="chmod 0666 /dev/fuse (the usual udev default) or use the overlay or native driver",
        )
    opts = ",".join(o for o in m.options if o not in _IGNORED_OPTIONS)
    proc = subprocess.run([exe, "-o", opts, dest], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OSError(errno.EIO, f"{helper} on {dest}: {proc.stderr.strip() or proc.returncode}")


def unmount_all(target: str) -> None:
    """Unmount everything mounted on ``target`` (innermost first); fuse mounts via fusermount3 too."""
    for _ in range(64):
        if not is_mountpoint(target):
            return
        try:
            umount(target)
        except OSError as err:
            if err.errno == errno.EPERM and shutil.which("fusermount3"):
                # an unprivileged fuse mount: only fusermount3 may undo it
                subprocess.run(["fusermount3", "-u", "-z", target], capture_output=True, check=False)
            elif err.errno in (errno.EBUSY,):
                umount(target, MNT_DETACH)
            elif err.errno != errno.EINVAL:
                raise
    raise InternalError(f"could not unmount {target}")


# --- user namespaces for storage work ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdMap:
    """``uid_map``/``gid_map`` lines: (inside, outside, count). The first maps to the caller."""

    uids: tuple[tuple[int, int, int], ...]
    gids: tuple[tuple[int, int, int], ...]

    @property
    def single(self) -> bool:
        return len(self.uids) == 1 and self.uids[0][2] == 1

    def to_host_uid(self, uid: int) -> int | None:
        for inside, outside, count in self.uids:
            if inside <= uid < inside + count:
                return outside + uid - inside
        return None

    def to_host_gid(self, gid: int) -> int | None:
        for inside, outside, count in self.gids:
            if inside <= gid < inside + count:
                return outside + gid - inside
        return None


def _subids(path: str, name: str, uid: int) -> tuple[int, int] | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (name, str(uid)):
            return int(parts[1]), int(parts[2])
    return None


def rootless_idmap(uid: int | None = None, gid: int | None = None) -> IdMap:
    """The caller's id as 0 plus its subordinate ranges from 1 (podman's default); just 0 without them."""
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    su, sg = _subids("/etc/subuid", name, uid), _subids("/etc/subgid", name, uid)
    have_helpers = shutil.which("newuidmap") and shutil.which("newgidmap")
    if su and sg and have_helpers:
        return IdMap(((0, uid, 1), (1, su[0], su[1])), ((0, gid, 1), (1, sg[0], sg[1])))
    return IdMap(((0, uid, 1),), ((0, gid, 1),))


def _write_maps(pid: int, idmap: IdMap) -> None:
    if idmap.single:
        # a single mapping of our own ids needs no helper (setgroups must be denied first)
        Path(f"/proc/{pid}/setgroups").write_text("deny")
        Path(f"/proc/{pid}/uid_map").write_text(" ".join(map(str, idmap.uids[0])))
        Path(f"/proc/{pid}/gid_map").write_text(" ".join(map(str, idmap.gids[0])))
        return
    for tool, ranges in (("newuidmap", idmap.uids), ("newgidmap", idmap.gids)):
        args = [tool, str(pid)] + [str(x) for r in ranges for x in r]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ProbeFailed(f"{tool} failed: {proc.stderr.strip()}", probe="newuidmap/newgidmap")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _close_other_fds(keep: set[int]) -> None:
    """In a forked child: close every descriptor but ``keep`` and stdio (sockets the parent's threads use
    must not stay open in the child: a peer closing one would never see it close)."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def run_in_userns(
    fn: Callable[[], T],
    idmap: IdMap | None,
    *,
    mount_ns: bool = False,
    after_fork: Callable[[], None] | None = None,
    keep_fds: Sequence[int] | None = None,
) -> T:
    """Run ``fn()`` in a forked child inside a new user namespace mapped by ``idmap``; return its result.

    With ``mount_ns`` the child also gets a private mount namespace (mounts die with it). With
    ``idmap=None`` no user namespace is made (root: just the mount namespace, or just a child).

    The result travels back as JSON (so ``T`` must be JSON-shaped); a DockernbError raised in the
    child is raised again here with its class and message; anything else becomes an InternalError
    carrying the child's traceback. The child never returns into the caller's stack.
    ``after_fork`` runs in the parent right after the fork (to close the child's ends of pipes).
    ``keep_fds``: the child closes every other inherited descriptor (default: it keeps them all).
    """
    ready_r, ready_w = os.pipe()  # child -> parent: "unshared"
    go_r, go_w = os.pipe()  # parent -> child: "maps written"
    res_r, res_w = os.pipe()  # child -> parent: the result
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            os.close(res_r)
            if keep_fds is not None:
                _close_other_fds({ready_w, go_r, res_w, *keep_fds})
            flags = (CLONE_NEWUSER if idmap is not None else 0) | (CLONE_NEWNS if mount_ns else 0)
            if flags and _libc().unshare(flags) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"unshare: {os.strerror(err)}")
            os.write(ready_w, b"1")
            if os.read(go_r, 1) != b"1":
                os._exit(3)
            if idmap is not None:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            if mount_ns:
                # nothing we mount here may propagate back to the host's namespace
                mount("none", "/", "", MS_REC | MS_PRIVATE, "")
            payload: dict[str, object] = {"ok": fn()}
        except DockernbError as err:
            payload = {"error": type(err).__name__, "module": type(err).__module__, "message": str(err)}
            code = 1
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            payload = {"error": "", "message": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
            code = 1
        try:
            data = json.dumps(payload).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(res_w, view) :]
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    os.close(res_w)
    if after_fork is not None:
        after_fork()
    try:
        if os.read(ready_r, 1) != b"1":
            raise InternalError("the user namespace helper died before unsharing")
        try:
            if idmap is not None:
                _write_maps(pid, idmap)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            raise
        os.write(go_w, b"1")
        os.close(go_w)
        go_w = -1
        raw = _read_all(res_r)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        raise
    finally:
        for fd in (ready_r, res_r, go_w):
            if fd >= 0:
                os.close(fd)
    os.waitpid(pid, 0)
    try:
        answer: Any = json.loads(raw)
    except ValueError:
        raise InternalError("the user namespace helper died without a result") from None
    if "ok" in answer:
        result: T = answer["ok"]
        return result
    if answer.get("error"):
        import dockernb.errors as errors_mod

        cls = getattr(errors_mod, answer["error"], None)
        if isinstance(cls, type) and issubclass(cls, DockernbError):
            again = cls.__new__(cls)
            DockernbError.__init__(again, answer["message"])
            raise again
    raise InternalError(f"in the user namespace: {answer['message']}\n{answer.get('trace', '')}")


def wait_gone(path: str, timeout: float = 5.0) -> None:
    """Wait until ``path`` is no longer a mount point (fuse unmounts are asynchronous)."""
    deadline = time.monotonic() + timeout
    while is_mountpoint(path) and time.monotonic() < deadline:
        time.sleep(0.01)
