"""Thin ctypes wrappers for the Linux calls Python 3.11 lacks, behind a small Protocol (layer L1).

:class:`Syscalls` is the seam the rootfs and init code call (youki's ``Syscall`` trait): a real
implementation (:class:`LinuxSyscalls`) and a recording fake (``dockernb.testing.fakes``) so that
mount logic is unit-tested without root. Calls that only make sense for real (the raw ``clone``
with ``CLONE_PARENT``, ``close_range``, ``capget``) are plain functions here.

Every failure raises ``OSError(errno, "<call> <args>: <strerror>")``, so callers can add context.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from typing import Protocol

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "CLONE_PARENT",
    "LinuxSyscalls",
    "Syscalls",
    "capget",
    "clone",
    "close_range",
    "move_mount_fd",
    "open_tree_clone",
    "openat2",
]

CLONE_PARENT = 0x00008000
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

# openat2 resolve flags
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SIGCHLD = 17

_NR = {
    # name: (x86_64, aarch64)
    "clone": (56, 220),
    "pivot_root": (155, 41),
    "capget": (125, 90),
    "capset": (126, 91),
    "seccomp": (317, 277),
    "close_range": (436, 436),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "openat2": (437, 437),
    "setns": (308, 268),
    "unshare": (272, 97),
}
_ARCH = {"x86_64": 0, "amd64": 0, "aarch64": 1, "arm64": 1}


def _nr(name: str) -> int:
    try:
        return _NR[name][_ARCH[platform.machine()]]
    except KeyError as err:
        raise OSError(38, f"{name}: unsupported architecture {platform.machine()}") from err


_libc = ctypes.CDLL(None, use_errno=True)
# PyDLL keeps the GIL across the call: the raw clone below must return into a consistent interpreter
_plibc = ctypes.PyDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_plibc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


class Syscalls(Protocol):
    """The kernel calls the rootfs and init stages make; one method per call, no policy.

    Paths are host paths as the calling process sees them (after pivot_root, container paths).
    Implementations raise ``OSError`` with the errno of the call.
    """

    def unshare(self, flags: int) -> None: ...

    def setns(self, fd: int, nstype: int) -> None: ...

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None: ...

    def umount2(self, target: str, flags: int) -> None: ...

    def pivot_root(self, new_root: str, put_old: str) -> None: ...

    def sethostname(self, name: str) -> None: ...

    def mknod(self, path: str, mode: int, device: int) -> None: ...

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int: ...

    def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...

    def seccomp_load(self, bpf: bytes) -> None: ...


class LinuxSyscalls:
    """The real thing, through libc and raw syscall(2)."""

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(ctypes.c_int(flags)), f"unshare {flags:#x}")

    def setns(self, fd: int, nstype: int) -> None:
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns {nstype:#x}")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        res = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
        _check(res, f"mount {source or ''} on {target} ({fstype or 'bind/remount'}, {flags:#x})")

    def umount2(self, target: str, flags: int) -> None:
        _check(_libc.umount2(_b(target), flags), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        res = _libc.syscall(ctypes.c_long(_nr("pivot_root")), _b(new_root), _b(put_old))
        _check(res, f"pivot_root {new_root}")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.sethostname(raw, len(raw)), f"sethostname {name}")

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl {option}")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        # _LINUX_CAPABILITY_VERSION_3: a header and two 32-bit data triples (low and high words)
        header = struct.pack("Ii", 0x20080522, 0)
        data = struct.pack(
            "6I",
            effective & 0xFFFFFFFF,
            permitted & 0xFFFFFFFF,
            inheritable & 0xFFFFFFFF,
            effective >> 32,
            permitted >> 32,
            inheritable >> 32,
        )
        _check(_libc.syscall(ctypes.c_long(_nr("capset")), header, data), "capset")

    def seccomp_load(self, bpf: bytes) -> None:
        count = len(bpf) // 8
        buf = ctypes.create_string_buffer(bpf, len(bpf))
        # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        prog = struct.pack("HxxxxxxP", count, ctypes.addressof(buf))
        _check(
            _libc.syscall(ctypes.c_long(_nr("seccomp")), ctypes.c_uint(1), ctypes.c_uint(0), prog),
            "seccomp(SECCOMP_SET_MODE_FILTER)",
        )


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of ``pid`` (0: the caller)."""
    header = struct.pack("Ii", 0x20080522, pid)
    data = ctypes.create_string_buffer(24)
    _check(_libc.syscall(ctypes.c_long(_nr("capget")), header, data), "capget")
    e0, p0, i0, e1, p1, i1 = struct.unpack("6I", data.raw)
    return e0 | e1 << 32, p0 | p1 << 32, i0 | i1 << 32


def clone(flags: int) -> int:
    """fork(2) with namespace flags (and ``CLONE_PARENT``): 0 in the child, its pid in the caller.

    Only for single-threaded callers (a freshly forked helper): unlike fork(3), a raw clone takes
    none of glibc's locks. Python's own fork bookkeeping runs around it, as os.fork does.
    """
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _plibc.syscall(
        ctypes.c_long(_nr("clone")),
        ctypes.c_ulong(flags | _SIGCHLD),
        ctypes.c_void_p(0),
        ctypes.c_void_p(0),
        ctypes.c_void_p(0),
        ctypes.c_ulong(0),
    )
    err = ctypes.get_errno()
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone {flags:#x}: {os.strerror(err)}")
    return int(pid)


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """close_range(2) (flags: 4 = CLOSE_RANGE_CLOEXEC); falls back to a loop on old kernels."""
    if first > last:
        return
    res = _libc.syscall(ctypes.c_long(_nr("close_range")), ctypes.c_uint(first), ctypes.c_uint(last), flags)
    if res < 0:
        if flags:
            raise OSError(ctypes.get_errno(), "close_range")
        os.closerange(first, min(last, os.sysconf("SC_OPEN_MAX")))


OPEN_TREE_CLONE = 1
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100


def open_tree_clone(path: str) -> int:
    """open_tree(2) with OPEN_TREE_CLONE|AT_RECURSIVE: a detached copy of the mounts at ``path``
    (kernel >= 5.2), which move_mount can attach in another mount namespace."""
    fd = _libc.syscall(ctypes.c_long(_nr("open_tree")), ctypes.c_int(_AT_FDCWD), _b(path),
                       ctypes.c_uint(OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC))
    return _check(fd, f"open_tree {path}")


def move_mount_fd(fd: int, target: str) -> None:
    """move_mount(2): attach the detached tree ``fd`` at ``target`` in the caller's mount namespace."""
    res = _libc.syscall(ctypes.c_long(_nr("move_mount")), ctypes.c_int(fd), b"", ctypes.c_int(_AT_FDCWD),
                        _b(target), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
    _check(res, f"move_mount onto {target}")


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` under ``dirfd`` with RESOLVE_* rules (symlinks kept inside a root)."""
    how = struct.pack("QQQ", flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(ctypes.c_long(_nr("openat2")), ctypes.c_int(dirfd), _b(path), how, ctypes.c_size_t(len(how)))
    return _check(fd, f"open {path}")


def set_title(title: str) -> None:
    """Name the calling process for ``ps``: its comm (15 bytes) and, as far as it fits, its cmdline.

    The cmdline is the original argv area (arg_start..arg_end in /proc/self/stat), overwritten in
    place through /proc/self/mem: PR_SET_MM would need CAP_SYS_RESOURCE, which root lacks here.
    """
    name = title.split(" ", 1)[0].encode()[:15]
    _libc.prctl(PR_SET_NAME, ctypes.c_ulong(ctypes.cast(ctypes.c_char_p(name), ctypes.c_void_p).value or 0), 0, 0, 0)
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])
        size = end - start
        if size <= 1:
            return
        raw = title.encode()[: size - 1]
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(raw + b"\0" * (size - len(raw)))
    except (OSError, ValueError, IndexError):
        pass  # a title is a courtesy, never a reason to fail
