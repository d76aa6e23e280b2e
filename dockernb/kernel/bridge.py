"""The unix socket between bash's ``docker`` and the kernel, and the client bash runs (top layer).

A request is one ``sendmsg``: a JSON line ``{"argv": [...], "cwd": "...", "tty": bool, "env": {...}}`` with
the caller's stdin, stdout and stderr descriptors attached (SCM_RIGHTS), so the kernel writes
to the caller's pipe or file itself and reads its stdin when a verb wants it. The answer is the
exit code, 4 bytes big-endian. Requests whose stdout is the terminal are queued for the
kernel's main thread (the one that owns the cell's output; :attr:`Bridge.wakeup` becomes
readable when one is waiting); the others are served at once on threads of their own.

:data:`CLIENT` is the client program: stdlib only, started with ``-I -S`` so that it costs
about 20 ms, not dockernb's import time.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CLIENT", "Bridge", "Request"]

CLIENT = r'''
import json, os, socket, sys
def main():
    path = os.environ.get("DOCKERNB_KERNEL_SOCKET", "")
    if not path:
        sys.stderr.write("docker: not inside a dockernb kernel (DOCKERNB_KERNEL_SOCKET is unset)\n")
        return 1
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        sys.stderr.write("docker: cannot reach the kernel: %s\n" % e)
        return 1
    head = json.dumps({"argv": sys.argv[1:], "cwd": os.environ.get("PWD") or os.getcwd(),
                       "tty": os.isatty(1), "env": dict(os.environ)}).encode() + b"\n"
    socket.send_fds(s, [head], [0, 1, 2])
    data = b""
    while len(data) < 4:
        chunk = s.recv(4 - len(data))
        if not chunk:
            return 1
        data += chunk
    return int.from_bytes(data, "big", signed=True) & 0xFF
sys.exit(main())
'''


@dataclass
class Request:
    argv: list[str]
    cwd: str
    tty: bool
    fds: list[int]
    conn: socket.socket
    #: the caller's environment (bash's exported variables: ``-e NAME`` takes its value from there)
    env: dict[str, str] = field(default_factory=dict)

    def reply(self, code: int) -> None:
        try:
            self.conn.sendall(int(code).to_bytes(4, "big", signed=True))
        except OSError:
            pass  # the caller went away (Ctrl-C of the pipeline)
        self.close()

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        self.conn.close()


class Bridge:
    """Serves the socket from a daemon thread; ``bin_dir`` holds the ``docker`` client for bash's PATH."""

    def __init__(self, python: str, background: Callable[[Request], object] | None = None) -> None:
        #: serves a request whose output is not the terminal, at once, whatever the main thread is doing
        #: (``docker save | docker load`` needs both ends served together)
        self.background = background
        self.dir = Path(tempfile.mkdtemp(prefix="dockernb-kernel-"))
        self.socket_path = str(self.dir / "docker.sock")
        self.bin_dir = self.dir / "bin"
        self.bin_dir.mkdir()
        client = self.bin_dir / "docker"
        client.write_text(f"#!{python} -IS\n{CLIENT}")  # one shebang argument: -IS
        client.chmod(0o755)
        self.client = str(client)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        self.server.listen(16)
        self.requests: queue.Queue[Request] = queue.Queue()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._closed = False
        threading.Thread(target=self._serve, daemon=True, name="dockernb-kernel-bridge").start()

    @property
    def wakeup(self) -> int:
        return self._r

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            try:
                msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
                while not msg.endswith(b"\n"):
                    more = conn.recv(65536)
                    if not more:
                        break
                    msg += more
                head = json.loads(msg.decode())
                request = Request([str(a) for a in head["argv"]], str(head["cwd"]), bool(head["tty"]), list(fds), conn,
                                  {str(k): str(v) for k, v in dict(head.get("env") or {}).items()})
            except (OSError, ValueError, KeyError):
                conn.close()
                continue
            if not request.tty and self.background is not None:
                threading.Thread(target=self.background, args=(request,), daemon=True).start()
                continue
            self.requests.put(request)
            os.write(self._w, b"!")

    def pending(self) -> list[Request]:
        """Requests waiting for the main thread (drains the wakeup pipe)."""
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
        out = []
        while True:
            try:
                out.append(self.requests.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._closed = True
        self.server.close()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
