"""docker's json-file log format, byte for byte: encoding, decoding, and a Python writer (layer L2).

One JSON object per line, fields in docker's order::

    {"log":"hello\\n","stream":"stdout","attrs":{"k":"v"},"time":"2026-11-28T11:42:20.923414039Z"}

Strings are escaped the way moby's ``jsonlog`` does (Go's encoder with HTML escaping): ``"``
and ``\\`` escaped, ``\\n`` and ``\\r`` short, other control bytes and ``< > &`` as ``\\u00XX``
(so a tab is ``\\u0009``), invalid UTF-8 as ``\\ufffd``, U+2028/2029 escaped. Times are Go's
RFC3339Nano (trailing zeros of the fraction trimmed). The C supervisor
(``dockernb/monitor/dockernb-monitor.c``) writes the same bytes; :class:`JsonFileWriter` is the
Python twin used when no C compiler is available and by the tests that compare the two.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from dockernb.spec.logline import LogLine, timestamp_fixed

__all__ = [
    "BUF_SIZE",
    "JsonFileWriter",
    "LineSplitter",
    "decode_block",
    "decode_line",
    "encode_entry",
    "format_time",
    "format_time_fixed",
    "parse_time",
    "rotated_paths",
    "timestamp_fixed",
]

#: docker's copier buffer: a line longer than this is logged in partial chunks
BUF_SIZE = 16 * 1024

_SAFE = re.compile(rb"[\x20-\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7f]+")
_HEX = "0123456789abcdef"


def _escape(data: bytes) -> str:
    out: list[str] = ['"']
    i, n = 0, len(data)
    while i < n:
        m = _SAFE.match(data, i)
        if m:
            out.append(m.group().decode("ascii"))
            i = m.end()
            continue
        b = data[i]
        if b < 0x80:
            if b in (0x22, 0x5C):
                out.append("\\" + chr(b))
            elif b == 0x0A:
                out.append("\\n")
            elif b == 0x0D:
                out.append("\\r")
            else:
                out.append(f"\\u00{_HEX[b >> 4]}{_HEX[b & 15]}")
            i += 1
            continue
        size = _utf8_len(data, i)
        if size == 0:
            out.append("\\ufffd")
            i += 1
            continue
        ch = data[i : i + size].decode("utf-8")
        out.append("\\u2028" if ch == "\u2028" else "\\u2029" if ch == "\u2029" else ch)
        i += size
    out.append('"')
    return "".join(out)


def _utf8_len(data: bytes, i: int) -> int:
    """Length of the valid UTF-8 sequence at ``i`` as Go's utf8.DecodeRune sees it, or 0 if invalid."""
    b0 = data[i]
    if 0xC2 <= b0 <= 0xDF:
        size, lo, hi = 2, 0x80, 0xBF
    elif 0xE0 <= b0 <= 0xEF:
        size = 3
        lo, hi = (0xA0, 0xBF) if b0 == 0xE0 else (0x80, 0x9F) if b0 == 0xED else (0x80, 0xBF)
    elif 0xF0 <= b0 <= 0xF4:
        size = 4
        lo, hi = (0x90, 0xBF) if b0 == 0xF0 else (0x80, 0x8F) if b0 == 0xF4 else (0x80, 0xBF)
    else:
        return 0
    if i + size > len(data):
        return 0
    if not lo <= data[i + 1] <= hi:
        return 0
    if any(not 0x80 <= data[i + k] <= 0xBF for k in range(2, size)):
        return 0
    return size


def format_time(ns: int) -> str:
    """Go's RFC3339Nano in UTC: ``2026-11-28T11:42:20.92341Z`` (trailing zeros trimmed)."""
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def format_time_fixed(ns: int) -> str:
    """docker's ``logs -t`` stamp: RFC3339 with exactly nine fractional digits."""
    sec, frac = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))}.{frac:09d}Z"


_EPOCH_CACHE: dict[str, int] = {}
_SCALE: list[int] = [int(10 ** (9 - n)) for n in range(10)]
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch from an RFC3339(Nano) stamp; ValueError if malformed."""
    head = text[:19]
    base = _EPOCH_CACHE.get(head)
    if base is not None and text[-1] == "Z":  # the fast path: a UTC stamp as the writers make them
        frac = text[20:-1]
        if not frac:
            return base * 1_000_000_000
        if text[19] == "." and frac.isdigit() and len(frac) <= 9:
            return base * 1_000_000_000 + int(frac) * _SCALE[len(frac)]
    m = _TIME.match(text)
    if not m:
        raise ValueError(f"bad log time {text!r}")
    head, frac, zone = m.groups()
    base = _EPOCH_CACHE.get(head)
    if base is None:
        base = int(calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")))
        if len(_EPOCH_CACHE) > 4096:
            _EPOCH_CACHE.clear()
        _EPOCH_CACHE[head] = base
    ns = base * 1_000_000_000 + (int(frac) * _SCALE[len(frac)] if frac else 0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        ns -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * 1_000_000_000
    return ns


def encode_entry(stream: str, data: bytes, time_ns: int, attrs_json: str = "") -> bytes:
    """One log line as json-file stores it (with the trailing newline of the file format)."""
    parts = []
    if data:
        parts.append('"log":' + _escape(data))
    parts.append('"stream":' + _escape(stream.encode()))
    if attrs_json:
        parts.append('"attrs":' + attrs_json)
    parts.append(f'"time":"{format_time(time_ns)}"')
    return ("{" + ",".join(parts) + "}\n").encode()


def decode_line(raw: bytes | str) -> LogLine:
    """Parse one json-file line (any field order); ValueError/KeyError when it is not one."""
    obj = json.loads(raw)
    attrs = obj.get("attrs")
    return LogLine(
        obj.get("stream", ""),
        obj.get("log", "").encode(),
        obj["time"],
        json.dumps(attrs, separators=(",", ":")) if attrs else "",
    )


# The common entry, as every writer of json-file makes it: escape-free text and its newline,
# no attrs. Anything else (escapes, attrs, partial lines, other field orders) is the second
# branch: the whole line, decoded with json.
_ENTRY = re.compile(rb'\{"log":"([^"\\\n]*)\\n","stream":"(stdout|stderr)","time":"([^"\n]+)"\}\n|([^\n]*)\n')
_STREAMS = {b"stdout": "stdout", b"stderr": "stderr"}
_NL = b"\n"
_new_line = tuple.__new__


def decode_block(block: bytes) -> list[LogLine]:
    """Every line of ``block`` (complete lines, each ending in a newline), decoded quickly.

    Lines that are not json-file entries are skipped, as docker skips what it cannot decode.
    """
    out: list[LogLine] = []
    append, streams, nl, make, cls = out.append, _STREAMS, _NL, _new_line, LogLine
    for body, stream, stamp, other in _ENTRY.findall(block):
        if stream:
            append(make(cls, (streams[stream], body + nl, stamp.decode(), "")))
        elif other.strip():
            try:
                append(decode_line(other))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return out


def rotated_paths(path: Path, max_file: int) -> list[Path]:
    """The log files oldest first: ``path.N`` ... ``path.1``, ``path`` (those that exist)."""
    older = [Path(f"{path}.{i}") for i in range(max(max_file, 1) - 1, 0, -1)]
    return [p for p in [*older, path] if p.exists()]


class LineSplitter:
    """docker's copier: split a stream into lines, a chunk of BUF_SIZE bytes without newline
    becomes a partial message, and every chunk of one line carries the time of its first chunk."""

    def __init__(self) -> None:
        self.buf = b""
        self.partial_ns = 0

    def feed(self, data: bytes, now_ns: int) -> list[tuple[bytes, int]]:
        self.buf += data
        out: list[tuple[bytes, int]] = []
        while True:
            # like the copier, look for a newline only within one buffer's worth
            nl = self.buf.find(b"\n", 0, BUF_SIZE)
            if nl >= 0:
                out.append((self.buf[: nl + 1], self.partial_ns or now_ns))
                self.buf = self.buf[nl + 1 :]
                self.partial_ns = 0
            elif len(self.buf) >= BUF_SIZE:
                self.partial_ns = self.partial_ns or now_ns
                out.append((self.buf[:BUF_SIZE], self.partial_ns))
                self.buf = self.buf[BUF_SIZE:]
            else:
                return out

    def flush(self, now_ns: int) -> list[tuple[bytes, int]]:
        if not self.buf:
            return []
        out = [(self.buf, self.partial_ns or now_ns)]
        self.buf, self.partial_ns = b"", 0
        return out


class JsonFileWriter:
    """Append entries to a json-file log, rotating like docker (``max_size`` -1 = never)."""

    def __init__(self, path: Path, *, max_size: int = -1, max_file: int = 1, attrs_json: str = "") -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(max_file, 1)
        self.attrs_json = attrs_json
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        entry = encode_entry(stream, data, time_ns, self.attrs_json)
        if self.max_size > 0 and self.size >= self.max_size:
            self._rotate()
        os.write(self.fd, entry)
        self.size += len(entry)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 1, -1):
                try:
                    os.rename(f"{self.path}.{i - 1}", f"{self.path}.{i}")
                except FileNotFoundError:
                    pass
            os.rename(self.path, f"{self.path}.1")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def attrs_json(attrs: Mapping[str, str]) -> str:
    """Go's json.Marshal of a map[string]string: keys sorted, docker's string escaping."""
    if not attrs:
        return ""
    return "{" + ",".join(f"{_escape(k.encode())}:{_escape(v.encode())}" for k, v in sorted(attrs.items())) + "}"
