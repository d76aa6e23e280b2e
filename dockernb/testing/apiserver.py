"""Run `dockernb serve` for one test on a private unix socket (and optionally loopback TCP).

Used by every Engine API suite (system now; containers, images, build... as they land)::

    with ServedApi(root=root_dir, env=kit_env, tcp=True) as api:
        status, headers, body = api.request("GET", "/v1.41/_ping")
        subprocess.run(["docker", "version"], env={**os.environ, "DOCKER_HOST": api.docker_host})

The server is a real subprocess (``python -m dockernb serve``) in its own session, so a test
sees exactly what a docker client sees; ``stop()`` sends SIGTERM as a user would and reports
whether the socket file went away. Nothing here imports the server itself.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["ApiResponse", "ServedApi", "UnixHTTPConnection"]


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a unix socket (the Host header says ``docker``, as the CLI's does)."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


@dataclass
class ApiResponse:
    status: int
    #: header names lower-cased
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ServedApi:
    """`dockernb serve` for the length of a ``with`` block."""

    def __init__(self, *, root: Path, env: Mapping[str, str] | None = None, tcp: bool = False,
                 args: Sequence[str] = (), startup_timeout: float = 30.0) -> None:
        base = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() != 0 else None
        # sun_path holds 107 bytes: keep the socket's directory short
        self.dir = Path(tempfile.mkdtemp(prefix="dockernb-api-", dir=base if base and len(base) < 60 else "/tmp"))
        self.socket_path = self.dir / "api.sock"
        self.log_path = self.dir / "serve.log"
        self.root = root
        self.tcp = tcp
        self.tcp_address = ""
        self._env = {**os.environ, "DOCKERNB_ROOT": str(root), **(env or {})}
        self._args = list(args)
        self._startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the TCP listener (``tcp=True``)."""
        if not self.tcp_address:
            raise RuntimeError("this server has no TCP listener (pass tcp=True)")
        return f"http://{self.tcp_address}"

    def start(self) -> ServedApi:
        argv = [sys.executable, "-m", "dockernb", "serve", "-H", self.docker_host]
        if self.tcp:
            argv += ["-H", "tcp://127.0.0.1:0"]
        argv += self._args
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._env,
                                         start_new_session=True)
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockernb serve exited with {self.proc.returncode}:\n{self.log()}")
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dockernb serve did not come up in {self._startup_timeout} s:\n{self.log()}")

    def _ready(self) -> bool:
        if self.tcp and not self.tcp_address:
            m = re.search(r'API listen on (127\.0\.0\.1:\d+)"', self.log())
            if m is None:
                return False
            self.tcp_address = m.group(1)
        if not self.socket_path.exists():
            return False
        try:
            return self.request("GET", "/_ping", timeout=2).status == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Signal the server and wait; the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return None
        return proc.returncode

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ServedApi:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- talking to it ------------------------------------------------------------------------

    def connection(self, timeout: float = 30.0) -> UnixHTTPConnection:
        return UnixHTTPConnection(str(self.socket_path), timeout)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> ApiResponse:
        """One request on a fresh connection; the whole body is read."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return ApiResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def raw(self) -> socket.socket:
        """A connected unix socket, for tests that speak HTTP by hand."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(self.socket_path))
        return sock
