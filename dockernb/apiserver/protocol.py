"""HTTP/1.1 on one connection: requests in, responses out, hijack for attach/exec (layer L8).

One thread per connection (``socketserver``), keep-alive by default. Written on the standard
library because the Engine API needs what HTTP frameworks hide: a JSON error body for every
protocol error, chunked request bodies (the docker CLI streams build contexts and ``load``
archives that way), responses streamed with a liveness check while idle, and the raw socket
after ``101 UPGRADED``. Limits (:class:`Limits`) keep a bad client from costing more than one
400/431 and a closed connection.
"""

from __future__ import annotations

import io
import logging
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from dockernb.apiserver.responses import Hijack, Response, StreamResponse, json_bytes
from dockernb.errors import InvalidRequest

__all__ = ["ConnectionHandler", "Dispatch", "Limits", "ParsedRequest"]

log = logging.getLogger(__name__)

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    #: request line plus headers (Go's http.Server default, which dockerd uses)
    max_header_bytes: int = 1 << 20
    max_headers: int = 256
    #: JSON bodies; streamed bodies (build contexts, image archives) are read by their routes
    json_body: int = 4 << 20
    #: an unread body up to this size is drained to keep the connection; larger ones close it
    drain: int = 1 << 20
    #: seconds a keep-alive connection may sit idle or a client may take to send one request
    idle_timeout: float = 300.0
    max_connections: int = 512


Dispatch = Callable[["ParsedRequest"], Response | StreamResponse | Hijack]


class _Closed(Exception):
    """The client went away; nothing more to write."""


# --- request bodies ---------------------------------------------------------------------------


class _BodyBase:
    """A body read at most once, with ``100 Continue`` sent before the first read when asked."""

    def __init__(self, rfile: io.BufferedIOBase, on_first_read: Callable[[], None] | None) -> None:
        self._rfile = rfile
        self._on_first_read = on_first_read
        self.done = False

    def _started(self) -> None:
        if self._on_first_read is not None:
            cb, self._on_first_read = self._on_first_read, None
            cb()

    def read(self, n: int = -1) -> bytes:
        raise NotImplementedError

    def read_all(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            data = self.read(min(65536, limit + 1 - total))
            if not data:
                return b"".join(parts)
            total += len(data)
            if total > limit:
                raise InvalidRequest(f"request body too large (limit {limit} bytes)")
            parts.append(data)

    def drain(self, limit: int) -> bool:
        """Discard what is left of the body; False when more than ``limit`` bytes remain."""
        total = 0
        while not self.done:
            data = self.read(65536)
            total += len(data)
            if total > limit:
                return False
        return True


class _EmptyBody(_BodyBase):
    def __init__(self) -> None:
        super().__init__(io.BytesIO(), None)
        self.done = True

    def read(self, n: int = -1) -> bytes:
        return b""


class _SizedBody(_BodyBase):
    def __init__(self, rfile: io.BufferedIOBase, length: int, on_first_read: Callable[[], None] | None) -> None:
        super().__init__(rfile, on_first_read)
        self._left = length
        self.done = length == 0

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            self.done = True
            return b""
        self._started()
        want = self._left if n < 0 else min(n, self._left)
        data = self._rfile.read(want)
        if len(data) < want:
            raise InvalidRequest("request body ended before its Content-Length")
        self._left -= len(data)
        self.done = self._left == 0
        return data


class _ChunkedBody(_BodyBase):
    """``Transfer-Encoding: chunked`` (RFC 9112 §7.1); extensions and trailers are read and ignored."""

    _MAX_LINE = 4096

    def __init__(self, rfile: io.BufferedIOBase, on_first_read: Callable[[], None] | None) -> None:
        super().__init__(rfile, on_first_read)
        self._left = 0  # bytes left in the current chunk

    def _line(self) -> bytes:
        line = self._rfile.readline(self._MAX_LINE + 1)
        if len(line) > self._MAX_LINE or not line.endswith(b"\n"):
            raise InvalidRequest("malformed chunked request body")
        return line

    def read(self, n: int = -1) -> bytes:
        if self.done:
            return b""
        self._started()
        if self._left == 0:
            size = self._line().split(b";", 1)[0].strip()
            try:
                self._left = int(size, 16)
            except ValueError:
                raise InvalidRequest("malformed chunked request body") from None
            if self._left < 0 or size.startswith((b"-", b"+", b"0x", b"0X")):
                raise InvalidRequest("malformed chunked request body")
            if self._left == 0:
                while self._line() not in (b"\r\n", b"\n"):  # trailers
                    pass
                self.done = True
                return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._rfile.read(want)
        if len(data) < want:
            raise InvalidRequest("request body ended inside a chunk")
        self._left -= len(data)
        if self._left == 0 and self._line() not in (b"\r\n", b"\n"):
            raise InvalidRequest("malformed chunked request body")
        return data


# --- the parsed request -----------------------------------------------------------------------


@dataclass(slots=True)
class ParsedRequest:
    """What the protocol hands the application (the app builds its ``Request`` from it)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: _BodyBase
    http11: bool
    keep_alive: bool


class _Reject(Exception):
    """A request the protocol refuses: answer ``status`` with ``message`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_date_cache: tuple[int, bytes] = (0, b"")


def _date() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, f"Date: {formatdate(now, usegmt=True)}\r\n".encode())
    return _date_cache[1]


def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode()


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    out = []
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"header {name!r} holds a line break")  # never let a value split the response
        out.append(f"{name}: {value}\r\n")
    return "".join(out).encode("latin-1", "replace")


class ConnectionHandler(socketserver.StreamRequestHandler):
    """Serves one client connection; the server object carries ``dispatch`` and ``limits``."""

    # buffered reads (headers line by line); writes go through sendall on assembled bytes
    rbufsize = 65536
    wbufsize = 0

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # responses go out in one sendall; Nagle would hold the next one for the ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.limits: Limits = getattr(self.server, "limits", Limits())
        self.dispatch: Dispatch = self.server.dispatch  # type: ignore[attr-defined]
        self.common_headers: Callable[[], list[tuple[str, str]]] = getattr(self.server, "common_headers", list)
        self.connection.settimeout(self.limits.idle_timeout)

    def handle(self) -> None:
        try:
            while self._one():
                pass
        except _Closed:
            pass
        except (ConnectionError, TimeoutError, OSError) as err:
            log.debug("connection ended: %s", err)

    # --- one request --------------------------------------------------------------------------

    def _one(self) -> bool:
        """Serve one request; False when the connection must close."""
        try:
            req = self._read_request()
        except _Reject as rej:
            self._send_error(rej.status, rej.message, close=True)
            return False
        if req is None:
            return False
        try:
            result = self.dispatch(req)
        except InvalidRequest as err:  # a body that turned out malformed while the app read it
            self._send_error(err.http_status, str(err), close=True)
            return False
        if isinstance(result, Hijack):
            self._hijack(req, result)
            return False
        if isinstance(result, StreamResponse):
            keep = self._send_stream(req, result)
        else:
            keep = self._send(req, result)
        if not keep:
            return False
        try:
            return req.body.drain(self.limits.drain)
        except InvalidRequest:
            return False

    def _read_request(self) -> ParsedRequest | None:
        limits = self.limits
        line = self.rfile.readline(limits.max_header_bytes + 1)
        while line in (b"\r\n", b"\n"):  # RFC 9112 §2.2: ignore empty lines before a request
            line = self.rfile.readline(limits.max_header_bytes + 1)
        if not line:
            return None
        budget = limits.max_header_bytes - len(line)
        if budget < 0:
            raise _Reject(414, "request line too long")
        if not line.endswith(b"\n"):
            return None  # the client closed mid-line
        parts = line.rstrip(b"\r\n").split(b" ")
        if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN or not parts[1]:
            raise _Reject(400, "malformed HTTP request line")
        method_b, target_b, version_b = parts
        if version_b not in (b"HTTP/1.1", b"HTTP/1.0"):
            if version_b.startswith(b"HTTP/") and len(version_b) == 8:
                raise _Reject(505, f"unsupported HTTP version: {version_b.decode('latin-1')}")
            raise _Reject(400, "malformed HTTP request line")
        http11 = version_b == b"HTTP/1.1"

        headers: dict[str, str] = {}
        count = 0
        while True:
            hline = self.rfile.readline(budget + 1)
            budget -= len(hline)
            if budget < 0:
                raise _Reject(431, "request header fields too large")
            if hline in (b"\r\n", b"\n"):
                break
            if not hline.endswith(b"\n"):
                return None
            count += 1
            if count > limits.max_headers:
                raise _Reject(431, "too many request header fields")
            name_b, sep, value_b = hline.partition(b":")
            if not sep or not name_b or not set(name_b) <= _TOKEN:
                raise _Reject(400, "malformed HTTP header line")
            name = name_b.decode("ascii").lower()
            value = value_b.strip().decode("latin-1")
            if name in headers:
                if name in ("content-length", "host"):
                    if headers[name] != value:
                        raise _Reject(400, f"conflicting {name} headers")
                    continue
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value

        target = target_b.decode("latin-1")
        raw_path, _, raw_query = target.partition("?")
        if raw_path.startswith(("http://", "https://")):  # absolute form (a proxy's), keep the path
            raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
        if not raw_path.startswith("/"):
            raise _Reject(400, "malformed request target")
        path = unquote(raw_path)
        try:
            query = parse_qs(raw_query, keep_blank_values=True, max_num_fields=1000) if raw_query else {}
        except ValueError as err:
            raise _Reject(400, f"malformed query string: {err}") from None

        conn = headers.get("connection", "").lower()
        keep_alive = ("close" not in conn) if http11 else ("keep-alive" in conn)
        body = self._body(headers, http11)
        if isinstance(body, _ChunkedBody) and "content-length" in headers:
            keep_alive = False  # both framings at once: never reuse the connection (request smuggling)
        return ParsedRequest(method_b.decode("ascii"), path, query, headers, body, http11, keep_alive)

    def _body(self, headers: dict[str, str], http11: bool) -> _BodyBase:
        expect = headers.get("expect", "").lower()
        cont: Callable[[], None] | None = None
        if expect:
            if expect != "100-continue":
                raise _Reject(417, f"unsupported Expect: {expect}")
            if http11:
                cont = self._continue
        te = headers.get("transfer-encoding")
        if te is not None:
            codings = [c.strip().lower() for c in te.split(",")]
            if codings[-1] != "chunked" or any(c not in ("chunked", "identity") for c in codings):
                raise _Reject(501, f"unsupported transfer encoding: {te}")
            return _ChunkedBody(self.rfile, cont)
        cl = headers.get("content-length")
        if cl is not None:
            if not cl.isdigit() or len(cl) > 18:
                raise _Reject(400, f"invalid Content-Length: {cl}")
            return _SizedBody(self.rfile, int(cl), cont) if int(cl) else _EmptyBody()
        return _EmptyBody()

    def _continue(self) -> None:
        self._write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # --- writing ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.connection.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as err:
            raise _Closed() from err

    def _head(self, status: int, content_type: str, extra: list[tuple[str, str]], close: bool) -> list[bytes]:
        head = [_status_line(status), _header_block(self.common_headers()), _header_block(extra)]
        if content_type:
            head.append(f"Content-Type: {content_type}\r\n".encode("latin-1"))
        head.append(_date())
        if close:
            head.append(b"Connection: close\r\n")
        return head

    def _send(self, req: ParsedRequest, resp: Response) -> bool:
        keep = req.keep_alive
        head = self._head(resp.status, resp.content_type, resp.headers, not keep)
        if resp.status not in (204, 304) and resp.status >= 200:
            head.append(b"Content-Length: %d\r\n" % len(resp.body))
        head.append(b"\r\n")
        if req.method != "HEAD" and resp.status not in (204, 304):
            head.append(resp.body)
        self._write(b"".join(head))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d", req.method, req.path, resp.status)
        return keep

    def _send_error(self, status: int, message: str, *, close: bool) -> None:
        log.debug("refused request: %d %s", status, message)
        body = json_bytes({"message": message})
        head = self._head(status, "application/json", [], close)
        head.append(b"Content-Length: %d\r\n\r\n" % len(body))
        head.append(body)
        try:
            self._write(b"".join(head))
        except _Closed:
            pass

    def _client_gone(self) -> bool:
        """True when the client has closed its side (checked while a stream has nothing to send)."""
        try:
            ready, _, _ = select.select([self.connection], [], [], 0)
            if not ready:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except (OSError, ValueError):
            return True

    def _send_stream(self, req: ParsedRequest, resp: StreamResponse) -> bool:
        chunked = req.http11
        keep = req.keep_alive and chunked
        head = self._head(resp.status, resp.content_type, resp.headers, not keep)
        if chunked:
            head.append(b"Transfer-Encoding: chunked\r\n")
        head.append(b"\r\n")
        self._write(b"".join(head))
        if req.method == "HEAD":
            _close_iter(resp.chunks)
            return keep
        it = iter(resp.chunks)
        try:
            for chunk in it:
                if chunk is None:
                    if self._client_gone():
                        raise _Closed()
                    continue
                if not chunk:
                    continue
                self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        except _Closed:
            log.debug("%s %s: client left during the stream", req.method, req.path)
            raise
        except Exception:
            # the status is already sent: end the connection without the final chunk so the
            # client sees a truncated stream rather than a clean end
            log.exception("%s %s: stream failed", req.method, req.path)
            return False
        finally:
            _close_iter(it)
        if chunked:
            self._write(b"0\r\n\r\n")
        return keep

    def _hijack(self, req: ParsedRequest, hj: Hijack) -> None:
        upgrade = "upgrade" in req.headers.get("connection", "").lower() and req.headers.get("upgrade", "")
        if upgrade:
            first = b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        else:  # the older form some clients use: 200 and the raw stream on the same connection
            first = b"HTTP/1.1 200 OK\r\n"
        head = [first, f"Content-Type: {hj.content_type}\r\n".encode(), _header_block(hj.headers), b"\r\n"]
        self._write(b"".join(head))
        self.connection.settimeout(None)  # an interactive session may be idle for hours
        conn = _Hijacked(self.connection, self.rfile)
        try:
            hj.run(conn)
        except _Closed:
            log.debug("%s %s: client left the hijacked session", req.method, req.path)
        except Exception:
            log.exception("%s %s: hijacked session failed", req.method, req.path)
        finally:
            conn.close_write()


def _close_iter(it: object) -> None:
    close = getattr(it, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("closing a response stream failed")


class _Hijacked:
    """The socket after the upgrade; reads start with whatever the parser had buffered."""

    def __init__(self, sock: socket.socket, rfile: io.BufferedIOBase) -> None:
        self._sock = sock
        self._rfile = rfile
        self._lock = threading.Lock()
        self._write_closed = False

    def read(self, n: int = 65536) -> bytes:
        try:
            data: bytes = self._rfile.read1(n)
            return data
        except (ConnectionError, OSError):
            return b""

    def write(self, data: bytes) -> None:
        with self._lock:
            try:
                self._sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError) as err:
                raise _Closed() from err

    def close_write(self) -> None:
        with self._lock:
            if self._write_closed:
                return
            self._write_closed = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

