"""What a route handler returns: a whole response, a stream, or a hijacked connection (layer L8).

- :class:`Response`: status, headers and a body of known length (JSON through :func:`json_response`).
- :class:`StreamResponse`: an iterator of byte chunks sent as they come (chunked on HTTP/1.1). A
  ``None`` item sends nothing: it lets the server check that the client is still there while the
  producer is idle (``/events``, ``logs --follow``), and close the iterator when it is gone.
- :class:`Hijack`: attach/exec. The server answers ``101 UPGRADED`` (``Upgrade: tcp``) or the older
  ``200 OK`` + raw stream, then hands the socket to ``run`` as a :class:`Connection`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "RAW_STREAM",
    "Connection",
    "Hijack",
    "Response",
    "StreamResponse",
    "json_bytes",
    "json_response",
    "text_response",
]

#: the content type of attach/exec streams at API 1.41 (``multiplexed-stream`` came in 1.42)
RAW_STREAM = "application/vnd.docker.raw-stream"


def json_bytes(data: Any) -> bytes:
    """Go's ``json.Encoder`` output: compact, with a trailing newline."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json_bytes(data), "application/json", headers or [])


def text_response(text: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8", headers or [])


@dataclass(slots=True)
class StreamResponse:
    chunks: Iterable[bytes | None]
    status: int = 200
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


class Connection(Protocol):
    """A hijacked connection: raw bytes both ways, with half-close.

    ``read`` returns b"" once the client has closed its sending side (docker's CLI does
    ``CloseWrite`` when stdin ends): close the container's stdin then, but keep writing output.
    ``close_write`` tells the client the output is over; the server closes the socket after ``run``.
    """

    def read(self, n: int = 65536) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def close_write(self) -> None: ...


@dataclass(slots=True)
class Hijack:
    run: Callable[[Connection], None]
    content_type: str = RAW_STREAM
    headers: list[tuple[str, str]] = field(default_factory=list)
