"""inotify(7) through ctypes, for following files as they grow (layer L1).

Only what ``logs -f`` needs: watch a directory for writes, creations and renames, and wait
with a timeout. Python's stdlib has no inotify binding; the calls are three and stable.
"""

from __future__ import annotations

import ctypes
import os
import select
from pathlib import Path

__all__ = ["IN_CLOSE_WRITE", "IN_CREATE", "IN_DELETE_SELF", "IN_MODIFY", "IN_MOVED_TO", "Inotify"]

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

_libc = ctypes.CDLL(None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


class Inotify:
    """An inotify instance; ``wait(timeout)`` is true when something happened (events drained)."""

    def __init__(self) -> None:
        fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self.fd: int = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def watch(self, path: Path, mask: int) -> int:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")
        return int(wd)

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for events; drain them; true if any arrived."""
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return False
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
