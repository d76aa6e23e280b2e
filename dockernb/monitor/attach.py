"""The client side of attach: talk to a running container's monitor over its unix socket (L4).

Frames both ways have docker's multiplexed-stream header: 1 byte type, 3 zero bytes, a
4-byte big-endian length. From the monitor: 1 stdout, 2 stderr, 3 exit (4-byte big-endian
code; the last frame). To the monitor: 0x10 hello (flags: 1 stdin, 2 stdout, 4 stderr; sent
on connect), 0 stdin (empty: end of input), 4 resize (rows, cols as big-endian 16-bit).

Detaching is the client's business, as in docker: :class:`DetachScanner` watches what the
user types for the detach sequence (default Ctrl-P Ctrl-Q) and the client simply disconnects.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator

from dockernb.errors import InvalidArgument
from dockernb.store.containers import ContainerPaths

__all__ = [
    "DEFAULT_DETACH_KEYS",
    "STDERR",
    "STDOUT",
    "AttachClient",
    "DetachScanner",
    "parse_detach_keys",
]

STDIN, STDOUT, STDERR, EXIT, RESIZE, HELLO = 0, 1, 2, 3, 4, 0x10
_HEADER = struct.Struct(">BxxxI")

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

_CTRL = {"ctrl-@": 0, **{f"ctrl-{chr(c)}": c - 96 for c in range(ord("a"), ord("z") + 1)}}
_CTRL.update({"ctrl-[": 27, "ctrl-\\": 28, "ctrl-]": 29, "ctrl-^": 30, "ctrl-_": 31})


def parse_detach_keys(spec: str) -> bytes:
    """docker's --detach-keys: comma-separated single characters or ``ctrl-<x>``."""
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key in _CTRL:
            codes.append(_CTRL[key])
        else:
            raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    if not codes:
        raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(codes)


class DetachScanner:
    """Finds the detach sequence in typed input; bytes of a possible start are held back."""

    def __init__(self, keys: bytes = b"\x10\x11") -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(what to pass on to the container, whether the user detached)."""
        out = bytearray()
        for b in data:
            candidate = self.held + bytes([b])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self.held = b""
                    return bytes(out), True
                self.held = candidate
                continue
            out += candidate
            self.held = b""
        return bytes(out), False


class AttachClient:
    """One attach connection; iterate :meth:`frames` for output, then read ``exit_code``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.exit_code: int | None = None
        self._buf = b""
        self._ended = False

    @classmethod
    def connect(
        cls, paths: ContainerPaths, *, stdin: bool = False, stdout: bool = True, stderr: bool = True
    ) -> AttachClient:
        """Connect to the container's monitor.

        Raises FileNotFoundError / ConnectionRefusedError when no monitor serves (not running).
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # through the directory's fd: a socket path may not exceed 108 bytes, a root path may
        dirfd = os.open(paths.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/attach.sock")
        except BaseException:
            sock.close()
            raise
        finally:
            os.close(dirfd)
        client = cls(sock)
        client._send(HELLO, bytes([(1 if stdin else 0) | (2 if stdout else 0) | (4 if stderr else 0)]))
        return client

    def _send(self, kind: int, data: bytes = b"") -> None:
        self.sock.sendall(_HEADER.pack(kind, len(data)) + data)

    def write(self, data: bytes) -> None:
        """Send input to the container's stdin (only the first client asking for stdin owns it)."""
        for i in range(0, len(data), 65536):
            self._send(STDIN, data[i : i + 65536])

    def close_stdin(self) -> None:
        """End of input (closes the container's stdin when it was started with stdin_once)."""
        self._send(STDIN, b"")

    def resize(self, rows: int, cols: int) -> None:
        self._send(RESIZE, struct.pack(">HH", rows, cols))

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """The next output frame ``(STDOUT|STDERR, data)``, or None at the end (``exit_code`` set
        when the container exited, left None when the monitor went away or we detached)."""
        self.sock.settimeout(timeout)
        while True:
            if len(self._buf) >= 8:
                kind, size = _HEADER.unpack_from(self._buf)
                if len(self._buf) >= 8 + size:
                    data = self._buf[8 : 8 + size]
                    self._buf = self._buf[8 + size :]
                    if kind == EXIT:
                        self.exit_code = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else None
                        return None
                    return kind, data
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self._buf += chunk

    def read_available(self) -> list[tuple[int, bytes]] | None:
        """Every complete output frame available now without blocking (call it when the socket is
        readable); None once the stream ended (``exit_code`` set if the container exited)."""
        if self._ended:
            return None
        self.sock.setblocking(False)
        ended = False
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    ended = True
                    break
                self._buf += chunk
        finally:
            self.sock.setblocking(True)
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= 8:
            kind, size = _HEADER.unpack_from(self._buf)
            if len(self._buf) < 8 + size:
                break
            data = self._buf[8 : 8 + size]
            self._buf = self._buf[8 + size :]
            if kind == EXIT:
                self.exit_code = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else None
                ended = True
                break
            out.append((kind, data))
        if ended and not out:
            return None
        if ended:
            self._ended = True
        return out

    def frames(self, timeout: float | None = None) -> Iterator[tuple[int, bytes]]:
        """Output frames until the end; ``timeout`` bounds each wait (TimeoutError)."""
        while (frame := self.recv(timeout)) is not None:
            yield frame

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> AttachClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
