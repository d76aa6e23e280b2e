"""Stream encodings of the Engine API: multiplexed frames, raw TTY bytes, JSON lines (layer L8).

The multiplexed format (logs and attach without a TTY) prefixes each write with an 8-byte
header: the stream (0 stdin, 1 stdout, 2 stderr, 3 a system error), three zero bytes, then
the payload size as a big-endian uint32. With a TTY the bytes go through as they are.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from dockernb.apiserver.responses import Connection, json_bytes

__all__ = ["MAX_FRAME", "MuxWriter", "Stream", "demux", "frame", "json_lines", "progress_error"]

_HEADER = struct.Struct(">BxxxI")
#: payloads larger than this are split over several frames
MAX_FRAME = 1 << 20


class Stream(enum.IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEMERR = 3


def frame(stream: Stream | int, data: bytes) -> bytes:
    """One or more multiplexed frames carrying ``data`` (none for empty data)."""
    if len(data) <= MAX_FRAME:
        return _HEADER.pack(int(stream), len(data)) + data if data else b""
    return b"".join(
        _HEADER.pack(int(stream), len(data[i : i + MAX_FRAME])) + data[i : i + MAX_FRAME]
        for i in range(0, len(data), MAX_FRAME)
    )


def demux(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split a complete multiplexed byte string into (stream, payload); ValueError if truncated."""
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            raise ValueError("truncated multiplexed stream header")
        stream, size = _HEADER.unpack_from(data, pos)
        pos += _HEADER.size
        if len(data) - pos < size:
            raise ValueError("truncated multiplexed stream payload")
        yield stream, data[pos : pos + size]
        pos += size


class MuxWriter:
    """Writes container output to a hijacked connection: framed without a TTY, raw with one."""

    def __init__(self, conn: Connection, *, tty: bool) -> None:
        self._conn = conn
        self._tty = tty

    def write(self, stream: Stream | int, data: bytes) -> None:
        if data:
            self._conn.write(data if self._tty else frame(stream, data))

    def stdout(self, data: bytes) -> None:
        self.write(Stream.STDOUT, data)

    def stderr(self, data: bytes) -> None:
        self.write(Stream.STDERR, data)


def json_lines(records: Iterable[Any | None]) -> Iterator[bytes | None]:
    """Encode records as JSON lines for a StreamResponse; ``None`` passes through as a heartbeat."""
    for record in records:
        yield None if record is None else json_bytes(record)


def progress_error(message: str) -> dict[str, Any]:
    """How dockerd reports a failure inside a progress stream, after the 200 is sent."""
    return {"errorDetail": {"message": message}, "error": message}
