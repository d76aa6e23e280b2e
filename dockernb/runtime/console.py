"""A pseudo-terminal per container: allocated inside the container's own devpts, sized, attached (L4).

The init opens ``/dev/ptmx`` *after* pivot_root, so the pty belongs to the container's devpts
instance (``tty`` prints /dev/pts/0 inside), sends the master to the caller over the create
channel, and becomes the session leader with the slave as its controlling terminal
(setsid + TIOCSCTTY inside the namespaces: handing the caller's terminal into a new pid
namespace instead makes dash report exit 2 for ``exit 3``).
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

__all__ = ["attach_slave", "open_master", "resize", "window_size"]

_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430


def open_master(ptmx: str = "/dev/ptmx") -> tuple[int, str]:
    """(master fd, slave path) of a new pty from ``ptmx`` (the container's, after pivot_root)."""
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, struct.pack("I", 0)))[0]
    except BaseException:
        os.close(master)
        raise
    return master, f"/dev/pts/{number}"


def resize(fd: int, rows: int, cols: int) -> None:
    """Set the window size of the pty behind ``fd`` (master or slave); the process gets SIGWINCH."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def window_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal behind ``fd``."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def attach_slave(slave: str, *, uid: int, gid: int, size: tuple[int, int] | None) -> None:
    """Make ``slave`` the caller's controlling terminal and its stdin/stdout/stderr.

    The caller must already be a session leader (setsid). The slave is chowned to the process's
    user, as runc does, so a non-root process can reopen /dev/stdout.
    """
    fd = os.open(slave, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
        try:
            os.fchown(fd, uid, gid)
        except OSError:
            pass
        if size and size[0] and size[1]:
            resize(fd, size[0], size[1])
        for target in (0, 1, 2):
            if fd != target:
                os.dup2(fd, target)
            # os.open made it close-on-exec, and dup2 onto itself would not clear that
            os.set_inheritable(target, True)
    finally:
        if fd > 2:
            os.close(fd)
