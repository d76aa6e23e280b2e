"""Attach and exec sessions over hijacked connections; the server's exec instances (layer L8).

- :class:`PendingAttaches`: the docker CLI attaches *before* it starts a container (``run``,
  ``start -a``). An attach to a container that is not running waits here; the start route then
  starts it with the engine's attach-before-start connection (no output is lost) and hands that
  connection over.
- :func:`pump_attachment` / :func:`pump_exec`: bytes both ways between a hijacked client
  connection and a container attach connection or an exec's file descriptors, multiplexed
  frames without a TTY, raw with one. The client's half-close ends the container's stdin;
  the detach keys (default Ctrl-P Ctrl-Q) end the session and leave the container running.
- :class:`ExecRegistry`: exec instances live in the server, as dockerd keeps them in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import selectors
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockernb.apiserver.responses import Connection
from dockernb.apiserver.streams import MuxWriter, Stream
from dockernb.engine.containers import Attachment, DetachScanner, parse_detach_keys
from dockernb.engine.containers.execs import ExecProcess
from dockernb.errors import InvalidRequest, NoSuchExec

__all__ = ["ExecInstance", "ExecRegistry", "PendingAttach", "PendingAttaches", "detach_keys", "finish",
           "pump_attachment", "pump_exec"]


def detach_keys(spec: str) -> bytes:
    """The ``detachKeys`` query/body value as bytes (default Ctrl-P Ctrl-Q). Raises InvalidRequest."""
    if not spec:
        return b"\x10\x11"
    try:
        return parse_detach_keys(spec)
    except Exception as err:  # noqa: BLE001 - the parser's own error wording
        raise InvalidRequest(f"Invalid detach keys ({spec}) provided: {err}") from None


# --- attach before start ----------------------------------------------------------------------


@dataclass(slots=True)
class PendingAttach:
    """One attach waiting for its container's start."""

    streams: tuple[bool, bool, bool]  # stdin, stdout, stderr
    ready: threading.Event = field(default_factory=threading.Event)
    attachment: Attachment | None = None
    #: set when the start gave no connection to this waiter (it connects by itself) or failed
    failed: str = ""
    abandoned: bool = False


class PendingAttaches:
    """container id -> attaches waiting for its start."""

    _KEEP_EXITS = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[PendingAttach]] = {}
        #: container id -> the exit code an attach session saw (``run --rm`` may remove the container
        #: before a waiter reads its state)
        self._exits: dict[str, int] = {}

    def record_exit(self, container_id: str, code: int) -> None:
        with self._lock:
            self._exits[container_id] = code
            while len(self._exits) > self._KEEP_EXITS:
                del self._exits[next(iter(self._exits))]

    def exit_code(self, container_id: str) -> int | None:
        with self._lock:
            return self._exits.get(container_id)

    def add(self, container_id: str, streams: tuple[bool, bool, bool]) -> PendingAttach:
        pending = PendingAttach(streams)
        with self._lock:
            self._waiting.setdefault(container_id, []).append(pending)
        return pending

    def discard(self, container_id: str, pending: PendingAttach) -> None:
        with self._lock:
            waiting = self._waiting.get(container_id, [])
            if pending in waiting:
                waiting.remove(pending)
            if not waiting:
                self._waiting.pop(container_id, None)

    def take(self, container_id: str) -> list[PendingAttach]:
        with self._lock:
            return [p for p in self._waiting.pop(container_id, []) if not p.abandoned]


# --- pumping -----------------------------------------------------------------------------------


class _Input(threading.Thread):
    """Client -> container: forwards what the client sends, watches for the detach keys, and ends
    the container's stdin when the client half-closes."""

    def __init__(self, conn: Connection, write: Callable[[bytes], None], close: Callable[[], None], keys: bytes,
                 on_detach: Callable[[], None], *, scan: bool) -> None:
        super().__init__(name="dockernb-api-stdin", daemon=True)
        self._conn, self._write, self._close = conn, write, close
        self._scanner = DetachScanner(keys) if scan and keys else None
        self._on_detach = on_detach
        self.detached = False

    def run(self) -> None:
        try:
            while True:
                data = self._conn.read(65536)
                if not data:
                    break
                if self._scanner is not None:
                    data, hit = self._scanner.feed(data)
                    if data:
                        self._write(data)
                    if hit:
                        self.detached = True
                        self._on_detach()
                        return
                else:
                    self._write(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self._close()


def _hang_up(att: Attachment) -> None:
    """End an attach connection now: a shutdown wakes the pump's blocked receive (a close alone would
    not) and the monitor forgets this client, so the next attach owns the container's stdin."""
    with contextlib.suppress(OSError):
        att.client.sock.shutdown(socket.SHUT_RDWR)
    att.close()


def pump_attachment(conn: Connection, att: Attachment, *, stdin: bool, keys: bytes) -> int | None:
    """Serve one attach session until the container's output ends, the client leaves or detaches;
    the container's exit code when it exited."""
    out = MuxWriter(conn, tty=att.tty)
    if stdin:
        # the client's end of input: without a TTY it closes the container's stdin (``run -i`` with
        # input from a pipe) and the output goes on; with one it is the client leaving (its own
        # detach), and the container's stdin stays open for the next attach, as in dockerd
        end = (lambda: _hang_up(att)) if att.tty else att.close_stdin
        _Input(conn, att.write, end, keys, lambda: _hang_up(att), scan=True).start()
    try:
        while (frame := att.recv()) is not None:
            out.write(Stream.STDERR if frame[0] == "stderr" else Stream.STDOUT, frame[1])
    except OSError:
        pass  # detached: the input thread closed the attach connection
    finally:
        att.close()
    return att.exit_code


@dataclass(slots=True)
class ExecInstance:
    """An exec as ``GET /exec/{id}/json`` shows it."""

    id: str
    container_id: str
    cmd: tuple[str, ...]
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    privileged: bool = False
    detach_keys: str = ""
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    process: ExecProcess | None = None
    size: tuple[int, int] | None = None

    def inspect(self) -> dict[str, Any]:
        return {
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.detach_keys,
            "ExitCode": self.exit_code,
            "ID": self.id,
            "OpenStderr": self.attach_stderr,
            "OpenStdin": self.attach_stdin,
            "OpenStdout": self.attach_stdout,
            "ProcessConfig": {"arguments": list(self.cmd[1:]), "entrypoint": self.cmd[0] if self.cmd else "",
                              "privileged": self.privileged, "tty": self.tty, "user": self.user},
            "Running": self.running,
            "Pid": self.pid,
        }

    def resize(self, rows: int, cols: int) -> None:
        self.size = (rows, cols)
        proc = self.process
        if proc is not None and proc.pty_master is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(proc.pty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ExecRegistry:
    """The server's exec instances by id (kept a while after they end, as dockerd does)."""

    _KEEP = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, ExecInstance] = {}

    def add(self, instance_args: dict[str, Any]) -> ExecInstance:
        inst = ExecInstance(id=secrets.token_hex(32), **instance_args)
        with self._lock:
            self._items[inst.id] = inst
            if len(self._items) > self._KEEP:  # forget the oldest finished ones
                for key in [k for k, v in self._items.items() if not v.running][: len(self._items) - self._KEEP]:
                    del self._items[key]
        return inst

    def get(self, exec_id: str) -> ExecInstance:
        with self._lock:
            inst = self._items.get(exec_id)
            if inst is None:  # docker also takes a unique prefix
                hits = [v for k, v in self._items.items() if exec_id and k.startswith(exec_id)]
                inst = hits[0] if len(hits) == 1 else None
        if inst is None:
            raise NoSuchExec(exec_id)
        return inst

    def for_container(self, container_id: str) -> list[str]:
        with self._lock:
            return [k for k, v in self._items.items() if v.container_id == container_id and v.running]


def pump_exec(conn: Connection, inst: ExecInstance, proc: ExecProcess) -> int:
    """Serve an attached exec until its output ends; its exit code (recorded on ``inst``)."""
    out = MuxWriter(conn, tty=inst.tty)
    keys = detach_keys(inst.detach_keys) if inst.detach_keys else b""
    gone = threading.Event()
    in_fd = proc.pty_master if inst.tty else proc.stdin

    def write(data: bytes) -> None:
        if in_fd is None:
            return
        view = memoryview(data)
        while view:
            n = os.write(in_fd, view)
            view = view[n:]

    def close_in() -> None:
        if inst.tty:
            return  # the pty stays: closing the master would hang up the session's output too
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                os.close(proc.stdin)
            proc.stdin = None

    if inst.attach_stdin and in_fd is not None:
        _Input(conn, write, close_in, keys, gone.set, scan=bool(keys)).start()
    elif proc.stdin is not None:
        close_in()
    sel = selectors.DefaultSelector()
    sources = {proc.pty_master: Stream.STDOUT} if inst.tty else {proc.stdout: Stream.STDOUT,
                                                                  proc.stderr: Stream.STDERR}
    try:
        for fd in sources:
            if fd is not None:
                sel.register(fd, selectors.EVENT_READ)
        while sel.get_map() and not gone.is_set():
            for key, _ in sel.select(0.5):
                try:
                    data = os.read(key.fd, 65536)
                except OSError:  # EIO: the pty's last user closed it
                    data = b""
                if not data:
                    sel.unregister(key.fd)
                    continue
                out.write(sources[key.fd], data)
    finally:
        sel.close()
    if gone.is_set():  # detached: the process goes on, reaped by a thread
        threading.Thread(target=finish, args=(inst, proc), daemon=True).start()
        return -1
    return finish(inst, proc)


def finish(inst: ExecInstance, proc: ExecProcess) -> int:
    code = proc.wait()
    proc.close()
    inst.exit_code = code
    inst.running = False
    inst.process = None
    return code


def poll_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return check()
