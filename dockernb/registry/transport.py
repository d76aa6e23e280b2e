"""The registry client's one-method HTTP seam and its real implementation (layer L3).

:class:`Transport` is httpx's idea, one method wide: ``handle(request) -> response``. A response's
body is a stream the caller reads (``read``/``readinto``) and closes; a body read to its end hands
its connection back for reuse. :class:`HTTPTransport` is the real one, on the stdlib's
``http.client`` (no third-party HTTP stack: it costs nothing at import and reaches the wire speed
measured in bench/fig_registry.py). Fakes for unit tests live in :mod:`dockernb.testing.registry`.

Network failures surface as ``OSError`` subclasses whose text is Go's, because docker's messages
embed it: ``dial tcp 127.0.0.1:5999: connect: connection refused``, ``http: server gave HTTP
response to HTTPS client``, ``unexpected EOF``. The client wraps them with the method and URL.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["Body", "HTTPTransport", "Headers", "Readable", "Request", "Response", "Transport"]

log = logging.getLogger(__name__)


class Headers:
    """Response headers: case-insensitive lookups over the (name, value) pairs as received."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items or [])
        self._items = [(k.lower(), v) for k, v in pairs]

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        for k, v in self._items:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._items if k == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request. ``body`` is bytes or a :class:`Readable` (then ``content_length`` is required)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Readable | None = None
    content_length: int | None = None
    #: seconds without progress before a connect or read fails; None: the transport's default
    timeout: float | None = None
    #: False: TLS without certificate checks (docker's insecure registries tried over https)
    verify_tls: bool = True

    @property
    def replayable(self) -> bool:
        return self.body is None or isinstance(self.body, bytes)


class Readable(Protocol):
    """A request body that is streamed: anything with ``read(n)`` (http.client calls it until b"")."""

    def read(self, n: int = -1, /) -> bytes: ...


class Body(Protocol):
    """What a response's body is read through."""

    def readinto(self, buffer: memoryview | bytearray) -> int: ...

    def close(self) -> None: ...


class _BytesBody:
    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def readinto(self, buffer: memoryview | bytearray) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        buffer[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._pos = len(self._view)


class Response:
    """Status, headers and a streaming body. Read it to the end or close it (a context manager)."""

    def __init__(
        self, status: int, headers: Headers, body: Body | bytes = b"", *, reason: str = "", url: str = ""
    ) -> None:
        self.status = status
        self.headers = headers
        self.reason = reason or http.client.responses.get(status, "")
        self.url = url
        self._body: Body = _BytesBody(body) if isinstance(body, bytes) else body

    def readinto(self, buffer: memoryview | bytearray) -> int:
        return self._body.readinto(buffer)

    def read(self, n: int = -1, *, limit: int = 1 << 30) -> bytes:
        """Up to ``n`` bytes (all when ``n < 0``, refusing more than ``limit``); b"" at the end."""
        if n >= 0:
            buf = bytearray(n)
            got = self.readinto(buf)
            del buf[got:]
            return bytes(buf)
        out = bytearray()
        chunk = bytearray(1 << 16)
        while got := self.readinto(chunk):
            out += chunk[:got]
            if len(out) > limit:
                self.close()
                raise ValueError(f"response body larger than {limit} bytes")
        return bytes(out)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"


class Transport(Protocol):
    """The seam: turn a request into a response, or raise ``OSError`` (Go-worded) when the network fails."""

    def handle(self, request: Request) -> Response: ...


# --- the real transport ----------------------------------------------------------------


def _resolver() -> str:
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1] if ":" not in parts[1] else f"[{parts[1]}]"
    except OSError:
        pass
    return "127.0.0.53"


def _hostport(addr: tuple[object, ...]) -> str:
    host, port = str(addr[0]), addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dial(host: str, port: int, timeout: float) -> socket.socket:
    """socket.create_connection with Go's error texts (docker's messages quote them)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ConnectionError(f"dial tcp: lookup {host} on {_resolver()}:53: no such host") from err
    last: OSError | None = None
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
        except TimeoutError as err:
            sock.close()
            last = TimeoutError(f"dial tcp {_hostport(addr)}: i/o timeout")
            last.__cause__ = err
        except ConnectionRefusedError as err:
            sock.close()
            last = ConnectionRefusedError(f"dial tcp {_hostport(addr)}: connect: connection refused")
            last.__cause__ = err
        except OSError as err:
            sock.close()
            last = ConnectionError(f"dial tcp {_hostport(addr)}: connect: {(err.strerror or str(err)).lower()}")
            last.__cause__ = err
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
    raise last or ConnectionError(f"dial tcp: lookup {host}: no addresses")


def _speaks_plain_http(host: str, port: int, timeout: float) -> bool:
    # Go notices an HTTP answer to its ClientHello; OpenSSL only says "wrong version number", so ask again
    try:
        with _dial(host, port, timeout) as sock:
            sock.sendall(b"GET /v2/ HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
            return sock.recv(5) == b"HTTP/"
    except OSError:
        return False


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=timeout, blocksize=1 << 20)
        self.tls = tls

    def connect(self) -> None:
        sock = _dial(self.host, self.port, self.timeout or 30.0)
        if self.tls is None:
            self.sock = sock
            return
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLCertVerificationError as err:
            sock.close()
            raise ConnectionError(f"x509: {err.verify_message or err.reason}") from err
        except (ssl.SSLError, OSError) as err:
            sock.close()
            if _speaks_plain_http(self.host, self.port, self.timeout or 30.0):
                raise ConnectionError("http: server gave HTTP response to HTTPS client") from err
            if isinstance(err, ssl.SSLEOFError | ConnectionResetError) or "EOF" in str(err):
                raise ConnectionError("EOF") from err
            raise ConnectionError(f"tls: {getattr(err, 'reason', None) or err}") from err


_PoolKey = tuple[str, str, int, bool]


class _PooledBody:
    """A response body that returns its connection to the pool once read to the end."""

    def __init__(self, resp: http.client.HTTPResponse, conn: _Connection, key: _PoolKey, pool: HTTPTransport) -> None:
        self._resp, self._conn, self._key, self._pool = resp, conn, key, pool
        self._length = resp.length  # None when chunked or until close
        self._done = False

    def readinto(self, buffer: memoryview | bytearray) -> int:
        if self._done or not len(buffer):
            return 0
        try:
            n = self._resp.readinto(buffer)
        except TimeoutError as err:
            self._abort()
            raise TimeoutError(f"read tcp {self._peer()}: i/o timeout") from err
        except (http.client.HTTPException, OSError) as err:
            self._abort()
            raise ConnectionResetError("unexpected EOF") from err
        if n == 0:
            if self._length is not None and self._resp.length:  # the server closed early
                self._abort()
                raise ConnectionResetError("unexpected EOF")
            self._finish()
        elif self._resp.isclosed():
            self._finish()
        return n

    def _peer(self) -> str:
        try:
            return f"{_hostport(self._conn.sock.getsockname())}->{_hostport(self._conn.sock.getpeername())}"
        except (OSError, AttributeError):
            return f"{self._conn.host}:{self._conn.port}"

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._resp.close()
            self._pool._release(self._key, self._conn, reusable=not self._resp.will_close)

    def _abort(self) -> None:
        if not self._done:
            self._done = True
            self._resp.close()
            self._conn.close()

    def close(self) -> None:
        if self._done:
            return
        if self._resp.isclosed():
            self._finish()
        else:  # unread bytes left: the connection cannot carry another request
            self._abort()


class HTTPTransport:
    """http.client with a connection pool per (scheme, host, port, verify), safe to share between threads.

    ``insecure_tls`` hosts get TLS without certificate checks (docker's insecure registries over
    https); ``ca_dirs`` are searched for ``<host>/*.crt`` extra roots and ``<host>/*.cert``+``.key``
    client certificates, as docker's ``certs.d``.
    """

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        ca_dirs: tuple[str, ...] = ("/etc/dockernb/certs.d", "/etc/docker/certs.d"),
        max_idle: int = 8,
    ) -> None:
        self.timeout = timeout
        self.ca_dirs = ca_dirs
        self.max_idle = max_idle
        self._idle: dict[_PoolKey, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}

    def _context(self, host: str, verify: bool) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get((host, verify))
            if ctx is not None:
                return ctx
        dirs = [d for d in (os.path.join(base, host) for base in self.ca_dirs) if os.path.isdir(d)]
        shared = ("", verify)
        if not dirs and shared in self._contexts:
            return self._contexts[shared]
        if verify:
            ctx = ssl.create_default_context()  # loads the system roots: ~40 ms, so once per process
        else:  # docker's InsecureSkipVerify: no roots needed, no checks made
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        for d in dirs:
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                if name.endswith(".crt"):
                    ctx.load_verify_locations(cafile=path)
                elif name.endswith(".cert") and os.path.exists(path[:-5] + ".key"):
                    ctx.load_cert_chain(path, path[:-5] + ".key")
        with self._lock:
            self._contexts[(host, verify) if dirs else shared] = ctx
        return ctx

    def _acquire(self, key: _PoolKey, timeout: float) -> tuple[_Connection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                conn = idle.pop()
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
        scheme, host, port, verify = key
        tls = self._context(f"{host}:{port}", verify) if scheme == "https" else None
        return _Connection(host, port, timeout, tls), False

    def _release(self, key: _PoolKey, conn: _Connection, *, reusable: bool) -> None:
        if reusable and conn.sock is not None:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.max_idle:
                    idle.append(conn)
                    return
        conn.close()

    def handle(self, request: Request) -> Response:
        url = urlsplit(request.url)
        scheme = url.scheme.lower()
        if scheme not in ("http", "https") or not url.hostname:
            raise ConnectionError(f"unsupported protocol scheme {url.scheme!r}")
        port = url.port or (443 if scheme == "https" else 80)
        key: _PoolKey = (scheme, url.hostname, port, request.verify_tls)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = dict(request.headers)
        if request.body is not None:
            size = len(request.body) if isinstance(request.body, bytes) else request.content_length
            if size is None:
                raise ValueError("a file body needs content_length")
            headers["Content-Length"] = str(size)
        elif request.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = "0"
        timeout = request.timeout or self.timeout
        for attempt in (1, 2):
            conn, reused = self._acquire(key, timeout)
            if conn.sock is None:
                conn.connect()  # raises Go-worded OSErrors: nothing was sent, nothing to retry
            try:
                conn.request(request.method, target, body=request.body, headers=headers)
                resp = conn.getresponse()
            except TimeoutError as err:
                conn.close()
                raise TimeoutError("net/http: timeout awaiting response headers") from err
            except (http.client.HTTPException, OSError) as err:
                conn.close()
                # a pooled connection the server closed while idle: once more on a fresh one
                if reused and attempt == 1 and request.replayable:
                    log.debug("stale pooled connection to %s:%s (%r), retrying", url.hostname, port, err)
                    continue
                if isinstance(err, http.client.RemoteDisconnected | ConnectionError):
                    raise ConnectionResetError("EOF") from err
                raise ConnectionError(f"net/http: HTTP/1.x transport connection broken: {err}") from err
            hdrs = Headers(list(resp.getheaders()))
            if request.method == "HEAD" or resp.status in (204, 304) or resp.length == 0:
                resp.read()
                resp.close()
                self._release(key, conn, reusable=not resp.will_close)
                return Response(resp.status, hdrs, b"", reason=resp.reason, url=request.url)
            return Response(resp.status, hdrs, _PooledBody(resp, conn, key, self), reason=resp.reason, url=request.url)
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
