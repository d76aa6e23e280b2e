"""Network (and user) namespace handles: enter, unshare, and sockets made inside another namespace (layer L1).

A socket belongs to the network namespace it was created in, for its whole life. So to
configure or serve inside a container's namespace we create the sockets there and use them
from here:

* as root, a short-lived thread calls ``setns(CLONE_NEWNET)`` (a per-thread operation), creates
  the sockets and ends; the caller's own threads never change namespace;
* without root, entering a namespace owned by another user namespace needs CAP_SYS_ADMIN there,
  which only a member of that user namespace has; ``setns(CLONE_NEWUSER)`` refuses a
  multi-threaded caller (EINVAL) and a plain thread gets EPERM on the network namespace, so a
  forked child joins the user namespace, then the network namespace, makes the sockets and hands
  them back over a socketpair with SCM_RIGHTS (``man 2 setns``, ``man 7 unix``).

Python 3.11 has no ``os.setns``/``os.unshare`` (3.12), hence ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import socket
import threading
from collections.abc import Callable, Sequence

__all__ = [
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWUSER",
    "SocketSpec",
    "bind_files",
    "in_namespaces",
    "setns",
    "sockets_in",
    "sockets_made_by",
    "unshare",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

#: (family, type, proto) of one socket to create in the target namespace
SocketSpec = tuple[int, int, int]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def setns(fd: int, nstype: int) -> None:
    if _libc().setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns({nstype:#x}): {os.strerror(err)}")


def unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare({flags:#x}): {os.strerror(err)}")


MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def bind_files(files: dict[str, str]) -> None:
    """In a new mount namespace, bind-mount each source file over its target (``{target: source}``).

    For processes standing in for containers in tests (the runtime does this for real ones).
    """
    libc = _libc()
    unshare(CLONE_NEWNS)
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"make / private: {os.strerror(err)}")
    for target, source in files.items():
        if libc.mount(source.encode(), target.encode(), None, MS_BIND, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"bind {source} on {target}: {os.strerror(err)}")


def _make(specs: Sequence[SocketSpec]) -> list[socket.socket]:
    return [socket.socket(f, t | socket.SOCK_CLOEXEC, p) for f, t, p in specs]


def _in_thread(netns: str, specs: Sequence[SocketSpec]) -> list[socket.socket]:
    result: list[socket.socket] = []
    failure: list[BaseException] = []
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)

    def work() -> None:
        try:
            setns(fd, CLONE_NEWNET)  # this thread only; it ends right after
            result.extend(_make(specs))
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller
            failure.append(err)

    try:
        t = threading.Thread(target=work, name="dockernb-netns")
        t.start()
        t.join()
    finally:
        os.close(fd)
    if failure:
        raise failure[0]
    return result


def in_namespaces(netns: str, userns: str | None, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a forked child that joined ``userns`` (if given) then ``netns``.

    Raises OSError with the child's message when entering or ``fn`` fails.
    """

    def run() -> list[socket.socket]:
        fn()
        return []

    sockets_made_by(netns, userns, run)


def sockets_made_by(
    netns: str, userns: str | None, make: Callable[[], list[socket.socket]]
) -> list[socket.socket]:
    """Run ``make`` in a forked child that joined ``userns`` (if given), then ``netns``; return
    the sockets it made (passed back with SCM_RIGHTS). ``make`` may enter further namespaces."""
    libc = _libc()  # resolve before fork: the child only makes syscalls
    assert libc is not None
    nfd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    ufd = os.open(userns, os.O_RDONLY | os.O_CLOEXEC) if userns else -1
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = os.fork()
        if pid == 0:  # child: never return into the caller's stack
            code = 0
            try:
                parent.close()
                if ufd >= 0:
                    setns(ufd, CLONE_NEWUSER)
                setns(nfd, CLONE_NEWNET)
                socks = make()
                socket.send_fds(child, [b"ok"], [s.fileno() for s in socks])
            except BaseException as err:  # noqa: BLE001 - reported to the parent
                try:
                    child.send(f"{getattr(err, 'errno', 0) or 0}:{err}".encode()[:1000])
                except OSError:
                    pass
                code = 1
            os._exit(code)
        child.close()
        child = None  # type: ignore[assignment]
        msg, fds, _flags, _addr = socket.recv_fds(parent, 1024, 64)
        os.waitpid(pid, 0)
    finally:
        os.close(nfd)
        if ufd >= 0:
            os.close(ufd)
        parent.close()
        if child is not None:
            child.close()
    if msg != b"ok":
        text = msg.decode(errors="replace") or "helper died"
        code_s, _, detail = text.partition(":")
        raise OSError(int(code_s) if code_s.isdigit() else 0, f"in namespace {netns}: {detail or text}")
    out = []
    for fd in fds:
        os.set_inheritable(fd, False)
        out.append(socket.socket(fileno=fd))
    return out


def sockets_in(netns: str, specs: Sequence[SocketSpec], *, userns: str | None = None) -> list[socket.socket]:
    """Sockets created inside the network namespace at path ``netns`` (e.g. /proc/PID/ns/net).

    ``userns``: the user namespace owning ``netns``, joined first (needed without root).
    """
    if userns is None and os.geteuid() == 0:
        return _in_thread(netns, specs)
    return sockets_made_by(netns, userns, lambda: _make(specs))
