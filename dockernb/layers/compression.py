"""Layer compression: detect gzip/zstd/none and decompress a stream on the fly, bounded (L2).

Detection trusts the magic bytes first and the media type second (registries mislabel layers,
and docker does the same). gzip goes through ISA-L (``isal``: 2.5x faster than zlib here, 0.4 s
instead of 1.0 s for debian's 63 MB layer), zstd through ``zstandard``; both read the source in
small pieces and hand out at most ``n`` bytes per ``read``, so a bomb cannot balloon memory.
"""

from __future__ import annotations

import enum
from typing import BinaryIO, Protocol

import zstandard

from dockernb.errors import InvalidLayer

try:  # ISA-L's inflate; zlib is the (slower) fallback where no isal wheel exists
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    import zlib as _zlib  # type: ignore[no-redef]

__all__ = ["Compression", "DecompressReader", "RawReader", "detect", "open_decompressed"]

_ZLIB_ERROR: type[Exception] = getattr(_zlib, "error")  # noqa: B009 - isal's stubs type it oddly
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_IN_CHUNK = 1 << 16


class Compression(enum.StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


class RawReader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def detect(head: bytes, media_type: str | None = None) -> Compression:
    """What ``head`` (the first bytes of a blob) is compressed with; the media type breaks ties."""
    if head.startswith(_GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(_ZSTD_MAGIC):
        return Compression.ZSTD
    mt = media_type or ""
    if len(head) < 4 and (mt.endswith(("gzip", "+zstd", ".zstd"))):
        # too short to carry magic: an empty compressed stream is still invalid input
        raise InvalidLayer(f"layer too short for {mt}: {len(head)} bytes")
    return Compression.NONE


class _Counting:
    """Counts the compressed bytes read (for progress) and remembers the first bytes for detection."""

    def __init__(self, raw: RawReader, head: bytes) -> None:
        self._raw = raw
        self._pending = head
        self.count = len(head)

    def read(self, n: int = -1, /) -> bytes:
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        data = self._raw.read(n)
        self.count += len(data)
        return data


class DecompressReader:
    """``read(n)`` returns up to ``n`` decompressed bytes, ``b""`` at the end of the stream."""

    def __init__(self, raw: RawReader, kind: Compression, head: bytes) -> None:
        self.kind = kind
        self._src = _Counting(raw, head)
        self._zstd: BinaryIO | None = None
        self._gz: _zlib._Decompress | None = None  # type: ignore[name-defined]
        self._tail = b""
        self._fed = False
        self._eof = False
        if kind is Compression.ZSTD:
            dctx = zstandard.ZstdDecompressor()
            self._zstd = dctx.stream_reader(self._src, read_size=_IN_CHUNK, read_across_frames=True)  # type: ignore[arg-type]
        elif kind is Compression.GZIP:
            self._gz = _zlib.decompressobj(16 + _zlib.MAX_WBITS)

    @property
    def compressed_bytes(self) -> int:
        return self._src.count

    def read(self, n: int) -> bytes:
        if self._eof:
            return b""
        try:
            if self._zstd is not None:
                out = self._zstd.read(n)
            elif self._gz is not None:
                out = self._read_gzip(n)
            else:
                out = self._src.read(n)
        except (zstandard.ZstdError, _ZLIB_ERROR) as err:
            raise InvalidLayer(f"invalid {self.kind} layer data: {err}") from err
        if not out:
            self._eof = True
        return out

    def _read_gzip(self, n: int) -> bytes:
        assert self._gz is not None
        while True:
            if not self._tail:
                self._tail = self._src.read(_IN_CHUNK)
                if not self._tail:
                    if self._fed and not self._gz.eof:
                        raise InvalidLayer("unexpected end of gzip layer data")
                    return b""
            if self._gz.eof:
                if not self._tail.strip(b"\0"):
                    self._tail = b""  # zero padding after the last member
                    continue
                # concatenated members (pigz, appended data) are one stream, as in Go's gzip reader
                self._gz = _zlib.decompressobj(16 + _zlib.MAX_WBITS)
            out = self._gz.decompress(self._tail, n)
            self._fed = True
            self._tail = self._gz.unconsumed_tail or (self._gz.unused_data if self._gz.eof else b"")
            if out:
                return bytes(out)


def open_decompressed(raw: RawReader, media_type: str | None = None) -> DecompressReader:
    """Wrap ``raw`` (a file or a download stream) in a decompressing reader; reads it only once."""
    head = b""
    while len(head) < 4:
        more = raw.read(4 - len(head))
        if not more:
            break
        head += more
    return DecompressReader(raw, detect(head, media_type), head)
