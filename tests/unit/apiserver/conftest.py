"""An in-process Engine API server on a private unix socket, with test routes (no root, no subprocess)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockernb.apiserver.app import App
from dockernb.apiserver.listeners import Address, Listener, open_listener
from dockernb.apiserver.protocol import Limits
from dockernb.config import Config
from dockernb.engine import Engine


@dataclass
class Served:
    app: App
    path: str
    listener: Listener
    sockets: list[socket.socket]

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sockets.append(s)
        s.settimeout(10)
        s.connect(self.path)
        return s


def recv_all(sock: socket.socket) -> bytes:
    out = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return out
        out += data


def recv_until(sock: socket.socket, marker: bytes, have: bytes = b"") -> bytes:
    while marker not in have:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed before {marker!r}; got {have!r}")
        have += data
    return have


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    made: list[tuple[Listener, threading.Thread, str]] = []
    sockets: list[socket.socket] = []

    def start(*, modules: tuple[str, ...] = ("system",), limits: Limits | None = None,
              setup: Callable[[App], None] | None = None) -> Served:
        tmp = tempfile.mkdtemp(prefix="dnb-unit-", dir="/tmp")
        engine = Engine(Config(root=Path(tmp) / "root"))
        app = App(engine, limits=limits, route_modules=modules)
        if setup:
            setup(app)
        path = f"{tmp}/api.sock"
        lst = open_listener(Address("unix", path=path), app)
        t = threading.Thread(target=lst.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        made.append((lst, t, tmp))
        return Served(app, path, lst, sockets)

    yield start
    for sock in sockets:
        sock.close()
    for lst, _t, tmp in made:
        lst.server.shutdown()
        lst.close()
        lst.server.app.close()
        shutil.rmtree(tmp, ignore_errors=True)
