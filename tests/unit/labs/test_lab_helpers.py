"""The notebooks' small helpers (dockernb.labkit.lab): free ports and a GET that waits for a server."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator

import pytest

from dockernb.labkit import lab


def test_free_port_prefers_the_seeds_port_and_steps_aside_when_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        other = lab.free_port(taken)
        assert other != taken and 0 < other < 65536
    assert lab.free_port(other) == other  # free again: the preferred one is given back


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        code = 404 if self.path == "/missing" else 200
        body = b"hello from the lab" if code == 200 else b"no"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def late_server() -> Iterator[int]:
    """A server that starts listening a moment after its port is known (a container starting up)."""
    port = lab.free_port(0)
    servers: list[http.server.HTTPServer] = []

    def serve() -> None:
        time.sleep(0.8)
        server = http.server.HTTPServer(("127.0.0.1", port), _Handler)
        servers.append(server)
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    deadline = time.monotonic() + 10
    while not servers and time.monotonic() < deadline:
        time.sleep(0.05)
    for server in servers:
        server.shutdown()
        server.server_close()
    thread.join(10)


def test_get_waits_for_the_server_and_returns_the_body(late_server: int) -> None:
    assert lab.get(f"http://127.0.0.1:{late_server}/", timeout=30) == "hello from the lab"


def test_get_an_http_error_is_the_answer_not_a_retry(late_server: int) -> None:
    lab.get(f"http://127.0.0.1:{late_server}/", timeout=30)
    with pytest.raises(urllib.error.HTTPError) as err:
        lab.get(f"http://127.0.0.1:{late_server}/missing", timeout=30)
    assert err.value.code == 404
    err.value.close()


def test_get_gives_up_after_its_timeout() -> None:
    port = lab.free_port(0)  # nothing listens there
    with pytest.raises(OSError):
        lab.get(f"http://127.0.0.1:{port}/", timeout=1)
