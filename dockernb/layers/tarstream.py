"""A streaming tar reader: headers (ustar, GNU long names, pax, base-256) and data straight to fds (L2).

stdlib ``tarfile`` in stream mode spends 0.9 s just walking debian's 164 MB layer here; this
reader parses the same headers in about a tenth of that and writes file data from the decompressed
chunks without copying them. It knows nothing about the filesystem: :mod:`dockernb.layers.apply`
decides what an entry means.
"""

from __future__ import annotations

import os
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field

from dockernb.errors import InvalidLayer

__all__ = [
    "BLOCK",
    "Entry",
    "TarStream",
    "clean_name",
]

BLOCK = 512

# type flags (POSIX + GNU)
REG, AREG, LNK, SYM, CHR, BLK, DIR, FIFO, CONT = b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"
PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE = b"x", b"g", b"L", b"K", b"S"
_ZERO = bytes(BLOCK)


class _EndOfData(InvalidLayer):
    """The data ended (cleanly, at a block boundary, or not): only ``next`` tells which."""


@dataclass(slots=True)
class Entry:
    """One tar member after pax/GNU extensions are folded in. ``name`` is as stored (see clean_name)."""

    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)

    @property
    def is_file(self) -> bool:
        return self.type in (REG, AREG, CONT)


def _num(field_: bytes) -> int:
    if field_ and field_[0] & 0x80:  # base-256 (GNU/star) for big uids, sizes, negative mtimes
        value = int.from_bytes(field_[1:], "big")
        if field_[0] & 0x40:  # negative
            value -= 1 << (8 * (len(field_) - 1))
        return value
    text = field_.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise InvalidLayer(f"archive/tar: invalid numeric field {field_!r}") from None


def _str(field_: bytes) -> str:
    return os.fsdecode(field_.split(b"\0", 1)[0])


def clean_name(name: str) -> str:
    """Lexically clean a member name (Go's filepath.Clean), relative to the root, "" for the root.

    Absolute names are taken relative to the root, as docker does. A name that climbs above the
    root with ``..`` is refused, as docker refuses it (``... is outside of ...``).
    """
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise InvalidLayer(f"invalid layer entry {name!r}: the path is outside of the root")
            parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)


def _parse_pax(data: bytes) -> dict[str, bytes]:
    """``<len> <key>=<value>\\n`` records; values stay bytes (xattrs are binary)."""
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        sp = data.find(b" ", pos)
        if sp < 0:
            raise InvalidLayer("archive/tar: invalid pax header")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise InvalidLayer("archive/tar: invalid pax header") from None
        record = data[sp + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise InvalidLayer("archive/tar: invalid pax header")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


def _mtime_ns(text: bytes) -> int:
    sec, _, frac = text.decode().partition(".")
    neg = sec.startswith("-")
    ns = abs(int(sec or "0")) * 1_000_000_000 + int((frac + "000000000")[:9] or "0")
    return -ns if neg else ns


class TarStream:
    """Iterate entries from ``read_chunk()`` (returns decompressed bytes, ``b""`` at the end).

    After :meth:`next` returns an entry, its data must be consumed with :meth:`copy_to` or
    :meth:`skip` before the next call (``next`` skips it otherwise).
    """

    def __init__(self, read_chunk: Callable[[], bytes]) -> None:
        self._read_chunk = read_chunk
        self._buf = b""
        self._pos = 0
        self._pending = 0  # data bytes (plus padding) of the current entry not yet consumed
        self._global: dict[str, bytes] = {}
        self.offset = 0  # uncompressed bytes consumed so far

    # --- buffer -------------------------------------------------------------------------

    def _fill(self) -> bool:
        chunk = self._read_chunk()
        if not chunk:
            return False
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + chunk
        else:
            self._buf = chunk
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise _EndOfData("archive/tar: unexpected end of layer data")
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.offset += n
        return out

    def skip(self, n: int | None = None) -> None:
        n = self._pending if n is None else n
        self._pending -= n
        while n:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    raise InvalidLayer("archive/tar: unexpected end of layer data")
                continue
            k = min(avail, n)
            self._pos += k
            self.offset += k
            n -= k

    def copy_to(self, fd: int, size: int) -> None:
        """Write the current entry's ``size`` data bytes to ``fd`` (then skip its padding)."""
        left = size
        while left:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    raise InvalidLayer("archive/tar: unexpected end of layer data")
                continue
            k = min(avail, left)
            view = memoryview(self._buf)[self._pos : self._pos + k]
            done = 0
            while done < k:
                done += os.write(fd, view[done:])
            self._pos += k
            self.offset += k
            left -= k
        self._pending -= size
        self.skip()

    def read_data(self, size: int) -> bytes:
        data = self._take(size)
        self._pending -= size
        self.skip()
        return data

    def drain(self) -> None:
        """Consume everything after the end-of-archive blocks (it still counts for the diff_id)."""
        self.offset += len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        while chunk := self._read_chunk():
            self.offset += len(chunk)

    # --- headers ------------------------------------------------------------------------

    def next(self) -> Entry | None:
        """The next entry, or None at the end of the archive."""
        if self._pending:
            self.skip()
        pax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            try:
                block = self._take(BLOCK)
            except _EndOfData:
                if not pax and longname is None and longlink is None and self._pos == len(self._buf):
                    return None  # a tar without end blocks: accepted, as Go's reader does
                raise
            if block == _ZERO:
                return None
            if sum(block[:148]) + sum(block[156:]) + 256 != _num(block[148:156]):
                raise InvalidLayer("archive/tar: invalid tar header checksum")
            kind = block[156:157]
            size = _num(block[124:136])
            if size < 0:
                raise InvalidLayer("archive/tar: negative entry size")
            padded = -(-size // BLOCK) * BLOCK
            if kind in (PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK):
                if size > 16 << 20:
                    raise InvalidLayer("archive/tar: extended header too large")
                data = self._take(padded)[:size]
                if kind == PAX:
                    pax.update(_parse_pax(data))
                elif kind == PAX_GLOBAL:
                    self._global.update(_parse_pax(data))
                elif kind == GNU_LONGNAME:
                    longname = os.fsdecode(data.split(b"\0", 1)[0])
                else:
                    longlink = os.fsdecode(data.split(b"\0", 1)[0])
                continue
            if kind == GNU_SPARSE:
                raise InvalidLayer("archive/tar: GNU sparse files are not supported in layers")
            return self._entry(block, kind, size, {**self._global, **pax}, longname, longlink)

    def _entry(
        self, block: bytes, kind: bytes, size: int, pax: dict[str, bytes],
        longname: str | None, longlink: str | None,
    ) -> Entry:
        name = _str(block[0:100])
        if block[257:263] == b"ustar\0" and block[345]:
            name = _str(block[345:500]) + "/" + name
        linkname = _str(block[157:257])
        if longname is not None:
            name = longname
        if longlink is not None:
            linkname = longlink
        e = Entry(
            name=name, type=kind, mode=_num(block[100:108]) & 0o7777, uid=_num(block[108:116]),
            gid=_num(block[116:124]), size=size, mtime_ns=_num(block[136:148]) * 1_000_000_000,
            linkname=linkname, devmajor=_num(block[329:337]), devminor=_num(block[337:345]),
        )
        if pax:
            self._apply_pax(e, pax)
        if kind in (LNK, SYM, DIR, CHR, BLK, FIFO):
            e.size = 0  # header-only types carry no data, whatever the size field says (as Go's reader)
        self._pending = -(-e.size // BLOCK) * BLOCK
        return e

    @staticmethod
    def _apply_pax(e: Entry, pax: dict[str, bytes]) -> None:
        try:
            for key, value in pax.items():
                if key == "path":
                    e.name = value.decode("utf-8", "surrogateescape")
                elif key == "linkpath":
                    e.linkname = value.decode("utf-8", "surrogateescape")
                elif key == "size":
                    e.size = int(value)
                elif key == "uid":
                    e.uid = int(value)
                elif key == "gid":
                    e.gid = int(value)
                elif key == "mtime":
                    e.mtime_ns = _mtime_ns(value)
                elif key.startswith("SCHILY.xattr."):
                    e.xattrs[key[len("SCHILY.xattr.") :]] = value
                elif key.startswith("LIBARCHIVE.xattr."):
                    e.xattrs[key[len("LIBARCHIVE.xattr.") :]] = b64decode(value + b"==")
        except ValueError:
            raise InvalidLayer(f"archive/tar: invalid pax header for {e.name!r}") from None
