"""HTTPTransport on real sockets: keep-alive reuse, streaming, chunked bodies, truncation, stale connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dockernb.registry import HTTPTransport, Request
from dockernb.testing.faultproxy import FaultProxy

pytestmark = pytest.mark.rootless

BIG = bytes(range(256)) * 8192  # 2 MiB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(1.0)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_PUT(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        data = self.rfile.read(length)
        body = str(len(data)).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield "127.0.0.1", int(srv.server_address[1])
    srv.shutdown()
    srv.server_close()


def test_keep_alive_streaming_and_reuse(server: tuple[str, int]) -> None:
    with FaultProxy(server) as proxy:
        t = HTTPTransport(timeout=5)
        for _ in range(3):
            with t.handle(Request("GET", f"http://{proxy.address}/big")) as resp:
                got = bytearray()
                buf = bytearray(100_000)
                while n := resp.readinto(buf):
                    got += buf[:n]
            assert bytes(got) == BIG
        chunked = t.handle(Request("GET", f"http://{proxy.address}/chunked"))
        assert chunked.read() == b"hello chunked world"
        put = t.handle(Request("PUT", f"http://{proxy.address}/up", body=b"z" * 12345))
        assert (put.status, put.read()) == (201, b"12345")
        assert proxy.connections == 1  # one kept-alive connection carried all of it
        # a body closed before its end cannot carry the next request: a new connection is made
        half = t.handle(Request("GET", f"http://{proxy.address}/big"))
        half.read(1000)
        half.close()
        assert t.handle(Request("GET", f"http://{proxy.address}/chunked")).read() == b"hello chunked world"
        assert proxy.connections == 2
        t.close()


def test_truncated_body_is_an_error(server: tuple[str, int]) -> None:
    t = HTTPTransport(timeout=5)
    resp = t.handle(Request("GET", f"http://{server[0]}:{server[1]}/short"))
    with pytest.raises(ConnectionResetError, match="unexpected EOF"):
        resp.read()
    t.close()


def test_stale_pooled_connection_is_retried(server: tuple[str, int]) -> None:
    with FaultProxy(server) as proxy:
        t = HTTPTransport(timeout=5)
        assert t.handle(Request("GET", f"http://{proxy.address}/chunked")).read()
        assert sum(len(v) for v in t._idle.values()) == 1
        proxy.stop()  # the idle pooled connection dies with the proxy...
        with FaultProxy(server, port=proxy.port) as again:  # ...and a new server answers on the same port
            assert t.handle(Request("GET", f"http://{again.address}/chunked")).read() == b"hello chunked world"
            assert again.connections == 1
        t.close()


def test_timeouts_and_refusals(server: tuple[str, int]) -> None:
    t = HTTPTransport(timeout=0.2)
    with pytest.raises(TimeoutError, match="timeout awaiting response headers"):
        t.handle(Request("GET", f"http://{server[0]}:{server[1]}/slow"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as info:
        t.handle(Request("GET", f"http://127.0.0.1:{port}/v2/"))
    assert str(info.value) == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    with pytest.raises(ConnectionError, match="http: server gave HTTP response to HTTPS client"):
        t.handle(Request("GET", f"https://{server[0]}:{server[1]}/v2/", verify_tls=False))
    with pytest.raises(ConnectionError, match=r"dial tcp: lookup nonexistent\.invalid on .*:53: no such host"):
        t.handle(Request("GET", "http://nonexistent.invalid/v2/"))
    t.close()
