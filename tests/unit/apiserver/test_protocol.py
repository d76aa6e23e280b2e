"""The HTTP/1.1 layer: keep-alive, chunked bodies, limits, JSON errors, streams, hijack."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dockernb.apiserver.app import App
from dockernb.apiserver.protocol import Limits
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Connection, Hijack, Response, StreamResponse, json_response
from dockernb.errors import InternalError, NoSuchContainer
from tests.unit.apiserver.conftest import recv_all, recv_until

pytestmark = pytest.mark.rootless  # no root needed: the unprivileged pass runs them too


def _routes(app: App) -> None:
    r = app.router

    def echo(req: Request) -> Response:
        return Response(200, req.body.read_all(1 << 20), "application/octet-stream")

    def echo_json(req: Request) -> Response:
        return json_response({"got": req.json(), "version": req.api_version})

    def missing(req: Request) -> Response:
        raise NoSuchContainer(req.params["name"])

    def broken(req: Request) -> Response:
        raise ValueError("a bug")

    def corrupt(req: Request) -> Response:
        raise InternalError("state.json of x is corrupt")

    def ignore_body(req: Request) -> Response:
        return json_response({"ok": True})

    r.add("POST", "/echo", echo)
    r.add("POST", "/json", echo_json)
    r.add("GET", "/containers/{name}/json", missing)
    r.add("GET", "/broken", broken)
    r.add("GET", "/corrupt", corrupt)
    r.add("POST", "/ignore", ignore_body)


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def _one(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(request)
    raw = recv_until(sock, b"\r\n\r\n")
    status, headers, body = _parse(raw)
    want = int(headers.get("content-length", "0"))
    while len(body) < want:
        body += sock.recv(65536)
    return status, headers, body


def test_keep_alive_and_pipelining(serve) -> None:
    s = serve().connect()
    for _ in range(3):
        status, headers, body = _one(s, b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert (status, body) == (200, b"OK")
        assert headers["api-version"] == "1.41" and "builder-version" not in headers
    last = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n" * 2 + last)
    raw = recv_all(s)
    assert raw.count(b"HTTP/1.1 200 OK") == 3 and raw.endswith(b"OK")


def test_http10_closes(serve) -> None:
    s = serve().connect()
    s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
    raw = recv_all(s)  # returns only because the server closed
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in raw


def test_chunked_request_body(serve) -> None:
    s = serve(setup=_routes).connect()
    req = (b"POST /echo HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n")
    assert _one(s, req)[::2] == (200, b"hello world")
    assert _one(s, b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")[0] == 200  # still in step


def test_malformed_chunked_body_is_400(serve) -> None:
    s = serve(setup=_routes).connect()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    status, _, body = _parse(recv_all(s))
    assert status == 400 and json.loads(body) == {"message": "malformed chunked request body"}


def test_protocol_errors_are_json(serve) -> None:
    served = serve()
    cases = [
        (b"GARBAGE\r\n\r\n", 400, "malformed HTTP request line"),
        (b"GET /_ping HTTP/2.0\r\n\r\n", 505, "unsupported HTTP version: HTTP/2.0"),
        (b"GET /_ping HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n", 431, "request header fields too large"),
        (b"GET /_ping HTTP/1.1\r\nBad Header\r\n\r\n", 400, "malformed HTTP header line"),
        (b"POST /_ping HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length: x"),
        (b"POST /_ping HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported transfer encoding: gzip"),
    ]
    for request, want_status, want_message in cases:
        s = served.connect()
        try:
            s.sendall(request)
        except BrokenPipeError:  # the server may answer and close before the rest is sent
            pass
        status, headers, body = _parse(recv_all(s))
        assert (status, json.loads(body)) == (want_status, {"message": want_message}), request[:40]
        assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert _one(served.connect(), b"GET /_ping HTTP/1.1\r\n\r\n")[0] == 200  # the server is fine


def test_json_bodies(serve) -> None:
    served = serve(setup=_routes, limits=Limits(json_body=64))
    s = served.connect()
    ok = _one(s, b'POST /v1.24/json HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"a": [1]}')
    assert ok[0] == 200 and json.loads(ok[2]) == {"got": {"a": [1]}, "version": "1.24"}
    status, _, body = _one(s, b"POST /json HTTP/1.1\r\nContent-Length: 5\r\n\r\n{bad}")
    assert status == 400 and json.loads(body)["message"].startswith("malformed JSON: ")
    big = b"[" + b"1," * 100 + b"1]"
    status, _, body = _one(served.connect(), b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n%b" % (len(big), big))
    assert (status, json.loads(body)) == (400, {"message": "request body too large (limit 64 bytes)"})
    deep = b"[" * 100000 + b"]" * 100000
    served2 = serve(setup=_routes)
    req = b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n%b" % (len(deep), deep)
    status, _, body = _one(served2.connect(), req)
    assert status == 400


def test_unread_body_is_drained_and_expect_continue(serve) -> None:
    s = serve(setup=_routes).connect()
    assert _one(s, b"POST /ignore HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")[0] == 200
    assert _one(s, b"GET /_ping HTTP/1.1\r\n\r\n")[2] == b"OK"
    s.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert recv_until(s, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"data")
    assert _parse(recv_until(s, b"data"))[::2] == (200, b"data")


def test_errors_map_to_status(serve, caplog) -> None:
    s = serve(setup=_routes).connect()
    status, _, body = _one(s, b"GET /v1.41/containers/web/json HTTP/1.1\r\n\r\n")
    assert (status, json.loads(body)) == (404, {"message": "No such container: web"})
    with caplog.at_level(logging.ERROR):
        status, _, body = _one(s, b"GET /broken HTTP/1.1\r\n\r\n")
        assert (status, json.loads(body)) == (500, {"message": "internal error: ValueError"})
        status, _, body = _one(s, b"GET /corrupt HTTP/1.1\r\n\r\n")
        assert (status, json.loads(body)) == (500, {"message": "state.json of x is corrupt"})
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 2 and "ValueError: a bug" in caplog.text


def test_versions_and_not_found(serve) -> None:
    s = serve().connect()
    assert _one(s, b"GET /v1.12/_ping HTTP/1.1\r\n\r\n")[0] == 200
    status, _, body = _one(s, b"GET /v1.99/_ping HTTP/1.1\r\n\r\n")
    assert (status, json.loads(body)["message"]) == (
        400, "client version 1.99 is too new. Maximum supported API version is 1.41")
    status, _, body = _one(s, b"GET /v1.11/version HTTP/1.1\r\n\r\n")
    assert status == 400 and "is too old. Minimum supported API version is 1.12" in json.loads(body)["message"]
    for req in (b"GET /nope HTTP/1.1\r\n\r\n", b"POST /_ping HTTP/1.1\r\n\r\n", b"GET /v1.41/x/y HTTP/1.1\r\n\r\n"):
        status, _, body = _one(s, req)
        assert (status, json.loads(body)) == (404, {"message": "page not found"})
    status, headers, body = _one(s, b"HEAD /_ping HTTP/1.1\r\n\r\n")
    assert (status, headers["content-length"], body) == (200, "0", b"")
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate" and headers["pragma"] == "no-cache"


def test_stream_is_chunked_and_ends_when_the_client_leaves(serve) -> None:
    ended = threading.Event()

    def setup(app: App) -> None:
        def ticks(req: Request) -> StreamResponse:
            def gen() -> Iterator[bytes | None]:
                try:
                    yield b'{"n":1}\n'
                    yield b'{"n":2}\n'
                    if req.query_bool("forever"):
                        while True:
                            time.sleep(0.02)
                            yield None
                finally:
                    ended.set()
            return StreamResponse(gen())
        app.router.add("GET", "/ticks", ticks)

    served = serve(setup=setup)
    s = served.connect()
    s.sendall(b"GET /ticks HTTP/1.1\r\n\r\n")
    raw = recv_until(s, b"0\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in raw and raw.endswith(b'8\r\n{"n":1}\n\r\n8\r\n{"n":2}\n\r\n0\r\n\r\n')
    assert ended.wait(2)
    ended.clear()
    s2 = served.connect()
    s2.sendall(b"GET /ticks?forever=1 HTTP/1.1\r\n\r\n")
    recv_until(s2, b'{"n":2}')
    s2.close()
    assert ended.wait(5), "the producer was not closed after the client left"


def _hijack_setup(app: App) -> None:
    def attach(req: Request) -> Hijack:
        def run(conn: Connection) -> None:
            got = b""
            while True:
                data = conn.read()
                if not data:  # the client half-closed: output may still flow
                    break
                got += data
                conn.write(data.upper())
            conn.write(b"[stdin closed after %d bytes]" % len(got))
        return Hijack(run)
    app.router.add("POST", "/containers/{name}/attach", attach)


def test_hijack_upgrade_and_half_close(serve) -> None:
    s = serve(setup=_hijack_setup).connect()
    s.sendall(b"POST /v1.41/containers/x/attach?stream=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\n"
              b"Upgrade: tcp\r\nContent-Length: 0\r\n\r\nhello")
    raw = recv_until(s, b"HELLO")
    assert raw.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
    assert b"Content-Type: application/vnd.docker.raw-stream\r\n" in raw and b"Upgrade: tcp\r\n" in raw
    s.sendall(b" world")
    recv_until(s, b" WORLD")
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == b"[stdin closed after 11 bytes]"


def test_hijack_without_upgrade_headers(serve) -> None:
    s = serve(setup=_hijack_setup).connect()
    s.sendall(b"POST /containers/x/attach HTTP/1.1\r\nHost: d\r\n\r\nabc")
    s.shutdown(socket.SHUT_WR)
    raw = recv_all(s)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n")
    assert raw.endswith(b"\r\n\r\nABC[stdin closed after 3 bytes]")


def test_connection_cap(serve) -> None:
    served = serve(limits=Limits(max_connections=1))
    first = served.connect()
    assert _one(first, b"GET /_ping HTTP/1.1\r\n\r\n")[0] == 200
    second = served.connect()
    status, _, body = _parse(recv_all(second))
    assert (status, json.loads(body)) == (503, {"message": "too many connections; try again later"})
    first.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        third = served.connect()
        try:
            third.sendall(b"GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n")
            if _parse(recv_all(third))[0] == 200:
                break
        except (BrokenPipeError, ConnectionResetError):  # refused (503) before the slot came back
            pass
        time.sleep(0.05)
    else:
        raise AssertionError("the slot was not released")
