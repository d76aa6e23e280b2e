"""Streams the Python front ends read and write: an exec's pty as an attach stream, text sinks with a
byte side (layer L7.5).

:class:`ExecStream` gives an exec started with a tty (``containers.exec_start(..., tty=True)``)
the :class:`~dockernb.client.seam.AttachStream` shape, so the notebook's terminal serves
``docker exec -it`` and ``docker attach`` alike. Its exec is a child of this process: closing
the stream (detach) hangs up its terminal and a daemon thread reaps it, so a kernel collects
no zombies.

:class:`TextSink` lets the shared verb runners, which write container output as bytes to
``out.buffer`` (the CLI's sys.stdout), write into a text stream that has none (a notebook's
stdout, a StringIO): bytes are decoded incrementally as UTF-8.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import threading
from typing import Any, TextIO

from dockernb.client.seam import ExecHandle

__all__ = ["ExecStream", "TextSink", "with_bytes"]


class ExecStream:
    """An exec with a pty as an attach stream: frames ``("stdout", data)``; ``exit_code`` once it ended."""

    tty = True

    def __init__(self, proc: ExecHandle) -> None:
        if proc.pty_master is None:
            raise ValueError("ExecStream needs an exec started with a tty")
        self.proc = proc
        self.fd: int = proc.pty_master
        self._exit: int | None = None
        self._ended = False
        self._reaped = threading.Event()
        self._lock = threading.Lock()

    @property
    def exit_code(self) -> int | None:
        return self._exit

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def close_stdin(self) -> None:
        # a terminal has no separate stdin to close: end-of-input is Ctrl-D at the start of a line
        self.write(b"\x04")

    def resize(self, rows: int, cols: int) -> None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        if self._ended:
            return None
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise TimeoutError
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: every slave fd closed, the exec's processes are gone
            data = b""
        if data:
            return "stdout", data
        self._ended = True
        self._exit = self._reap()
        return None

    def _reap(self) -> int:
        with self._lock:
            if self._reaped.is_set():
                return self._exit if self._exit is not None else 255
            code = self.proc.wait()
            self._reaped.set()
            return code

    def close(self) -> None:
        """Our end closed; an exec still running gets its hangup and is reaped in the background."""
        self.proc.close()
        if not self._reaped.is_set():
            threading.Thread(target=self._reap_quietly, daemon=True, name="dockernb-exec-reaper").start()

    def _reap_quietly(self) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            code = self._reap()
            if self._exit is None:
                self._exit = code


class _ByteSide:
    def __init__(self, text: TextIO) -> None:
        self.text = text
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: bytes) -> int:
        decoded = self.decoder.decode(bytes(data))
        if decoded:
            self.text.write(decoded)
        return len(data)

    def flush(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.text.flush()


class TextSink:
    """A text stream with a ``buffer`` taking bytes (decoded as UTF-8, split characters kept)."""

    def __init__(self, text: TextIO) -> None:
        self.text = text
        self.buffer = _ByteSide(text)

    def write(self, s: str) -> int:
        return self.text.write(s)

    def flush(self) -> None:
        self.buffer.flush()

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - isatty, fileno... as the stream has them
        return getattr(self.text, name)


def with_bytes(stream: TextIO) -> TextIO:
    """``stream`` itself when it has a byte side (sys.stdout of a terminal), else a :class:`TextSink`."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and hasattr(buffer, "write"):
        return stream
    sink: Any = TextSink(stream)
    return sink  # type: ignore[no-any-return]
