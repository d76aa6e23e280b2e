"""The Python twin of ``dockernb-monitor.c``, for machines without a C compiler (layer L4).

Same configuration (the DOCKERNB_MONITOR environment variable), same files (json-file log
with docker's escaping and rotation, ``exit.json``), same attach protocol, same reaping as a
subreaper; see the C source's header for the protocol. It costs a Python process per
running container (about 10 MB RSS), which is why the C one is preferred.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import termios
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dockernb.logs.jsonfile import JsonFileWriter, LineSplitter

__all__ = ["main"]

_HEADER = struct.Struct(">BxxxI")
_CLIENT_HIGH = 256 * 1024
_READ = 32 * 1024
STDIN, STDOUT, STDERR, EXIT, RESIZE, HELLO = 0, 1, 2, 3, 4, 0x10


@dataclass
class _Stream:
    fd: int
    kind: int
    name: str
    splitter: LineSplitter = field(default_factory=LineSplitter)


@dataclass
class _Client:
    sock_fd: int
    flags: int = 0
    out: bytearray = field(default_factory=bytearray)
    inbuf: bytearray = field(default_factory=bytearray)


class _Supervisor:
    def __init__(self, cfg: dict[str, list[str]]) -> None:
        def one(key: str, default: str = "") -> str:
            return cfg.get(key, [default])[-1]

        def fd(key: str) -> int:
            return int(one(key, "-1"))

        self.id = one("id")
        self.pid = int(one("pid", "0"))
        self.generation = int(one("generation", "0"))
        self.pty = fd("pty")
        self.stdin = fd("stdin")
        self.stdin_once = one("stdin_once", "0") == "1"
        self.attach = fd("attach")
        self.ready = fd("ready")
        self.drain = int(one("drain_ms", "2000")) / 1000
        self.oom_file = one("oom_file")
        self.exit_exec = cfg.get("exit_exec", [])
        os.chdir(one("dir"))
        self.streams: list[_Stream] = []
        if self.pty >= 0:
            self.streams.append(_Stream(self.pty, STDOUT, "stdout"))
            if self.stdin >= 0:
                self.stdin = os.dup(self.pty)
        else:
            for key, kind in (("stdout", STDOUT), ("stderr", STDERR)):
                if fd(key) >= 0:
                    self.streams.append(_Stream(fd(key), kind, key))
        for f in [s.fd for s in self.streams] + [self.stdin, self.attach]:
            if f >= 0:
                os.set_blocking(f, False)
        self.writer: JsonFileWriter | None = None
        if one("log_driver", "json-file") == "json-file" and one("log_path"):
            self.writer = JsonFileWriter(
                Path(one("log_path")),
                max_size=int(one("log_max_size", "-1")),
                max_file=int(one("log_max_file", "1")),
                attrs_json=one("log_attrs"),
            )
        self.listener = socket.socket(fileno=self.attach) if self.attach >= 0 else None
        self.clients: list[_Client] = []
        self.stdin_owner: _Client | None = None
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.status: int | None = None
        self.exit_ns = 0
        self.oom_before = self._oom()

    # --- pieces -------------------------------------------------------------------------

    def _oom(self) -> int:
        try:
            text = open(self.oom_file).read() if self.oom_file else ""
        except OSError:
            return -1
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return -1

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid and self.status is None:
                self.status, self.exit_ns = status, time.time_ns()

    def _log(self, stream: _Stream, pieces: list[tuple[bytes, int]]) -> None:
        if self.writer is not None:
            for data, ns in pieces:
                with contextlib.suppress(OSError):
                    self.writer.write(stream.name, data, ns)

    def _close_stdin(self) -> None:
        if self.stdin >= 0:
            os.close(self.stdin)
            self.stdin = -1
        self.stdin_buf.clear()
        self.stdin_closing = False

    def _stdin_eof(self) -> None:
        if self.stdin_once and self.pty < 0:
            if self.stdin_buf:
                self.stdin_closing = True
            else:
                self._close_stdin()

    def _drop(self, c: _Client) -> None:
        with contextlib.suppress(OSError):
            os.close(c.sock_fd)
        self.clients.remove(c)
        if self.stdin_owner is c:
            self.stdin_owner = None
            self._stdin_eof()

    def _frame(self, c: _Client, kind: int, data: bytes) -> None:
        if kind == HELLO and data:
            c.flags = data[0] & 7
            if c.flags & 1 and self.stdin_owner is None and self.stdin >= 0:
                self.stdin_owner = c
        elif kind == STDIN and self.stdin_owner is c:
            if not data:
                self._stdin_eof()
            elif self.stdin >= 0 and not self.stdin_closing:
                self.stdin_buf += data
        elif kind == RESIZE and len(data) >= 4 and self.pty >= 0:
            rows, cols = struct.unpack(">HH", data[:4])
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.pty, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _client_read(self, c: _Client) -> bool:
        gone = False
        try:
            while True:
                chunk = os.read(c.sock_fd, 8192)
                if not chunk:
                    gone = True  # handle what it sent before it hung up
                    break
                c.inbuf += chunk
        except BlockingIOError:
            pass
        except OSError:
            gone = True
        while len(c.inbuf) >= 8:
            kind, size = _HEADER.unpack_from(c.inbuf)
            if size > 1 << 20:
                return False
            if len(c.inbuf) < 8 + size:
                break
            self._frame(c, kind, bytes(c.inbuf[8 : 8 + size]))
            del c.inbuf[: 8 + size]
        return not gone

    def _client_flush(self, c: _Client) -> bool:
        try:
            while c.out:
                n = os.write(c.sock_fd, c.out)
                del c.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, OSError):
                return
            sock.setblocking(False)
            c = _Client(sock.detach())
            self.clients.append(c)
            if not self._client_read(c):  # its hello may already be queued
                self._drop(c)

    def _stream_read(self, s: _Stream) -> None:
        try:
            data = os.read(s.fd, _READ)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty master whose slave side is gone
            data = b""
        if not data:
            self._log(s, s.splitter.flush(time.time_ns()))
            os.close(s.fd)
            s.fd = -1
            return
        want = 2 if s.kind == STDOUT else 4
        for c in self.clients:
            if c.flags & want:
                c.out += _HEADER.pack(s.kind, len(data)) + data
        self._log(s, s.splitter.feed(data, time.time_ns()))

    def _stdin_flush(self) -> None:
        try:
            while self.stdin_buf and self.stdin >= 0:
                n = os.write(self.stdin, self.stdin_buf)
                del self.stdin_buf[:n]
        except BlockingIOError:
            return
        except OSError:
            self._close_stdin()
            return
        if self.stdin_closing and not self.stdin_buf:
            self._close_stdin()

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wfd)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGPIPE, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        self._reap()
        if self.ready >= 0:
            with contextlib.suppress(OSError):
                os.write(self.ready, b'{"ready":true}\n')
            os.close(self.ready)
        deadline = None
        while True:
            open_streams = [s for s in self.streams if s.fd >= 0]
            if self.status is not None:
                deadline = deadline or time.monotonic() + self.drain
                if not open_streams or time.monotonic() >= deadline:
                    break
            poll = select.poll()
            poll.register(rfd, select.POLLIN)
            if self.attach >= 0:
                poll.register(self.attach, select.POLLIN)
            lagging = any(len(c.out) > _CLIENT_HIGH for c in self.clients)
            if not lagging:
                for s in open_streams:
                    poll.register(s.fd, select.POLLIN)
            if self.stdin >= 0 and self.stdin_buf:
                poll.register(self.stdin, select.POLLOUT)
            for c in self.clients:
                poll.register(c.sock_fd, select.POLLIN | (select.POLLOUT if c.out else 0))
            timeout = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            try:
                ready = dict(poll.poll(timeout))
            except InterruptedError:
                continue
            if rfd in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(rfd, 512):
                        pass
                self._reap()
            for c in list(self.clients):
                ev = ready.get(c.sock_fd, 0)
                gone = ev & (select.POLLIN | select.POLLHUP | select.POLLERR) and not self._client_read(c)
                if gone or (ev & select.POLLOUT and not self._client_flush(c)):
                    self._drop(c)
            if self.attach in ready:
                self._accept()
            self._stdin_flush()
            for s in open_streams:
                if ready.get(s.fd, 0):
                    self._stream_read(s)
            for c in list(self.clients):
                if c.out and not self._client_flush(c):
                    self._drop(c)
        return self._finish()

    def _finish(self) -> int:
        for s in self.streams:
            self._log(s, s.splitter.flush(time.time_ns()))
            if s.fd >= 0:
                os.close(s.fd)
        self._close_stdin()
        if self.writer is not None:
            self.writer.close()
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink("attach.sock")
        status = self.status if self.status is not None else 255 << 8
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + sig if sig else 255
        oom_after = self._oom()
        finished = datetime.fromtimestamp(self.exit_ns / 1e9, UTC) if self.exit_ns else datetime.now(UTC)
        record = {
            "generation": self.generation,
            "exit_code": code,
            "signal": sig,
            "pid": self.pid,
            "finished_at": finished.isoformat(),
            "finished_at_ns": self.exit_ns,
            "oom_killed": self.oom_before >= 0 and oom_after > self.oom_before,
        }
        with open(".exit.json.tmp", "w") as f:
            f.write(json.dumps(record) + "\n")
        os.rename(".exit.json.tmp", "exit.json")
        for c in self.clients:
            c.out += _HEADER.pack(EXIT, 4) + struct.pack(">i", code)
        end = time.monotonic() + 2
        while self.clients and time.monotonic() < end:
            for c in list(self.clients):
                if not self._client_flush(c) or not c.out:
                    self._drop(c)
            if self.clients:
                time.sleep(0.01)
        for c in list(self.clients):
            self._drop(c)
        if self.exit_exec:
            os.execv(self.exit_exec[0], self.exit_exec)
        return 0


def main() -> int:
    text = os.environ.pop("DOCKERNB_MONITOR", "")
    if not text:
        print("dockernb-monitor: started without DOCKERNB_MONITOR (it is started by dockernb)", flush=True)
        return 125
    cfg: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg.setdefault(key, []).append(value)
    with contextlib.suppress(OSError):
        from dockernb.linux.process import set_child_subreaper

        set_child_subreaper()
    return _Supervisor(cfg).run()
