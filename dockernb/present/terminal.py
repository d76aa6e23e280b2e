"""The client side of an attached container or exec: copying between it and the user's terminal (L7).

What docker's CLI does around ``run`` (attached), ``start -a``, ``attach`` and ``exec``: output
frames to our stdout/stderr; our stdin to the container (``-i``), in raw mode when both ends are
terminals, watching for the detach keys (default Ctrl-P Ctrl-Q); the window size on SIGWINCH;
with ``--sig-proxy`` (the default without a tty) the signals we receive forwarded to the
container. Returns the exit code, or None when the user detached.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import selectors
import signal
import struct
import sys
import termios
import tty as ttymod
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from dockernb.engine.containers import Attachment, DetachScanner, parse_detach_keys

if TYPE_CHECKING:
    from dockernb.engine.containers.execs import ExecProcess

__all__ = ["binary", "pump_attachment", "pump_exec", "stdin_fd", "terminal_size"]

_PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def binary(stream: IO[Any]) -> IO[bytes]:
    """The byte stream under a text stream (sys.stdout.buffer), or the stream itself."""
    found: IO[bytes] = getattr(stream, "buffer", stream)
    return found


def stdin_fd(stream: IO[Any] | None = None) -> int | None:
    """The fd of our standard input, or None when there is none (a notebook)."""
    stream = stream if stream is not None else sys.stdin
    try:
        return stream.fileno() if stream is not None else None
    except (OSError, ValueError, AttributeError):
        return None


def terminal_size(fd: int | None = None) -> tuple[int, int] | None:
    """(rows, cols) of our terminal, or None."""
    for candidate in ([fd] if fd is not None else []) + [1, 0, 2]:
        try:
            rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(candidate, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            continue
        if rows and cols:
            return rows, cols
    return None


@contextlib.contextmanager
def _raw(fd: int | None, enabled: bool) -> Iterator[None]:
    if not enabled or fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd, termios.TCSANOW)  # TCSAFLUSH (the default) would drop what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _signals(handler: Callable[[int], None] | None, winch: Callable[[], None] | None) -> Iterator[None]:
    """Install the proxy and SIGWINCH handlers (main thread only; restored afterwards)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved: dict[signal.Signals, Any] = {}
    try:
        if handler is not None:
            for sig in _PROXIED:
                saved[sig] = signal.signal(sig, lambda s, _f: handler(s))
        if winch is not None:
            saved[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, lambda _s, _f: winch())
        yield
    finally:
        for signum, old in saved.items():
            signal.signal(signum, old)


def _write(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except BrokenPipeError:
        pass


def pump_attachment(
    att: Attachment,
    *,
    out: IO[Any],
    err: IO[Any],
    stdin: IO[Any] | None = None,
    send_stdin: bool = False,
    detach_keys: str | None = None,
    forward: Callable[[int], None] | None = None,
) -> int | None:
    """Copy until the container exits (its exit code) or the user detaches (None).

    ``forward(sig)`` proxies our signals to the container (``--sig-proxy``, not with a tty).
    """
    out_b, err_b = binary(out), binary(err)
    fd = stdin_fd(stdin) if send_stdin else None
    scanner = DetachScanner(parse_detach_keys(detach_keys)) if detach_keys else DetachScanner()
    pending_signals: list[int] = []
    sel = selectors.DefaultSelector()
    sel.register(att.fileno(), selectors.EVENT_READ, "container")
    if fd is not None:
        sel.register(fd, selectors.EVENT_READ, "stdin")

    def winch() -> None:
        size = terminal_size(fd)
        if size is not None:
            with contextlib.suppress(OSError):
                att.resize(*size)

    raw = att.tty and fd is not None and os.isatty(fd)
    detached = False
    try:
        with _raw(fd, raw), _signals(pending_signals.append if forward else None, winch if att.tty else None):
            if att.tty:
                winch()
            while True:
                for sig in pending_signals:
                    if forward is not None:
                        with contextlib.suppress(Exception):
                            forward(sig)
                pending_signals.clear()
                try:
                    events = sel.select(0.2 if forward else None)
                except InterruptedError:
                    continue
                done = False
                for key, _ in events:
                    if key.data == "container":
                        frames = att.read_available()
                        if frames is None:
                            done = True
                            break
                        for stream, data in frames:
                            _write(err_b if stream == "stderr" else out_b, data)
                    else:
                        try:
                            data = os.read(key.fd, 65536)
                        except OSError as e:
                            if e.errno == errno.EINTR:
                                continue
                            data = b""
                        if not data:
                            sel.unregister(key.fd)
                            with contextlib.suppress(OSError):
                                att.close_stdin()
                            continue
                        if att.tty:
                            data, detached = scanner.feed(data)
                        if data:
                            with contextlib.suppress(OSError):
                                att.write(data)
                        if detached:
                            done = True
                            break
                if done:
                    break
    finally:
        sel.close()
        att.close()
    if detached:
        if raw:
            _write(err_b, b"\r\n")
        return None
    return att.exit_code


def pump_exec(
    proc: ExecProcess,
    *,
    out: IO[Any],
    err: IO[Any],
    stdin: IO[Any] | None = None,
    send_stdin: bool = False,
    detach_keys: str | None = None,
) -> int | None:
    """Copy between an exec'd process and our stdio until it ends; its exit code (None: detached)."""
    out_b, err_b = binary(out), binary(err)
    fd = stdin_fd(stdin) if send_stdin else None
    scanner = DetachScanner(parse_detach_keys(detach_keys)) if detach_keys else DetachScanner()
    sel = selectors.DefaultSelector()
    tty = proc.pty_master is not None
    if tty:
        assert proc.pty_master is not None
        sel.register(proc.pty_master, selectors.EVENT_READ, "stdout")
    else:
        for name in ("stdout", "stderr"):
            src = getattr(proc, name)
            if src is not None:
                sel.register(src, selectors.EVENT_READ, name)
    if fd is not None:
        sel.register(fd, selectors.EVENT_READ, "stdin")

    def winch() -> None:
        size = terminal_size(fd)
        if size is not None and proc.pty_master is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(proc.pty_master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))

    raw = tty and fd is not None and os.isatty(fd)
    detached = False
    try:
        with _raw(fd, raw), _signals(None, winch if tty else None):
            while any(k.data != "stdin" for k in sel.get_map().values()):
                try:
                    events = sel.select()
                except InterruptedError:
                    continue
                for key, _ in events:
                    if key.data == "stdin":
                        try:
                            data = os.read(key.fd, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            sel.unregister(key.fd)
                            if not tty and proc.stdin is not None:
                                os.close(proc.stdin)
                                proc.stdin = None
                            continue
                        if tty:
                            data, detached = scanner.feed(data)
                        target = proc.pty_master if tty else proc.stdin
                        if data and target is not None:
                            with contextlib.suppress(OSError):
                                os.write(target, data)
                        if detached:
                            break
                        continue
                    try:
                        data = os.read(key.fd, 65536)
                    except OSError:  # EIO: the pty's other side is closed
                        data = b""
                    if not data:
                        sel.unregister(key.fd)
                        continue
                    _write(err_b if key.data == "stderr" else out_b, data)
                if detached:
                    break
    finally:
        sel.close()
    if detached:
        proc.close()
        return None
    proc.close()
    return proc.wait()
