"""How ``logs`` looks, and what its --since/--until accept (layer L7).

:func:`log_chunks` turns log lines into the bytes docker writes to stdout and stderr: the raw
line, preceded with ``-t`` by the time (RFC3339 with nine fractional digits) and a space,
and with ``--details`` by the entry's attributes (``k=v,...`` sorted and query-escaped) and a
space. Consecutive lines of one stream are joined, so 100,000 lines are a few writes.

:func:`parse_time_arg` is docker's ``timetypes.GetTimestamp``: a Go duration (``10m``,
``1h30m``) back from now, an RFC3339 date or time (local when it has no zone), or a Unix
timestamp; anything else is ``invalid value for "since": failed to parse value as time or
duration: "bad"`` (exit 1, golden ``logs-since-bad``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_plus

from dockernb.spec.logline import LogLine, timestamp_fixed

__all__ = ["TimeArgError", "details_prefix", "log_chunks", "parse_duration", "parse_time_arg", "tail_arg"]


class TimeArgError(ValueError):
    """A --since/--until value docker would refuse; ``str()`` is docker's sentence."""


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds; ValueError if it is not one."""
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * int(total)


_FORMATS = [
    # (pattern, strptime format) for values with a zone; local ones are the same without it
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+", "%Y-%m-%dT%H:%M:%S.%f"),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "%Y-%m-%dT%H:%M:%S"),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d", "%Y-%m-%dT%H:%M"),
    (r"^\d{4}-\d\d-\d\dT\d\d", "%Y-%m-%dT%H"),
    (r"^\d{4}-\d\d-\d\d", "%Y-%m-%d"),
]
_ZONE = re.compile(r"(Z|z|[+-]\d\d:\d\d)$")


def _parse_rfc3339ish(value: str, now: datetime) -> int:
    zone_m = _ZONE.search(value)
    head = value[: zone_m.start()] if zone_m else value
    for pattern, fmt in _FORMATS:
        if re.fullmatch(pattern, head):
            frac = ""
            if "." in head and fmt.endswith("%f"):
                head, frac = head.split(".", 1)
                fmt = fmt[: -len(".%f")]
            parsed = datetime.strptime(head, fmt)
            if zone_m:
                z = zone_m.group(1)
                tz = UTC
                if z not in ("Z", "z"):
                    sign = 1 if z[0] == "+" else -1
                    tz = timezone(sign * timedelta(hours=int(z[1:3]), minutes=int(z[4:6])))
                parsed = parsed.replace(tzinfo=tz)
            else:
                parsed = parsed.replace(tzinfo=now.tzinfo or now.astimezone().tzinfo)  # the reference (local) zone
            ns = int(parsed.timestamp()) * 1_000_000_000
            return ns + (int(frac[:9].ljust(9, "0")) if frac else 0)
    raise ValueError(f'parsing time "{value}": cannot parse')


def parse_time_arg(value: str, flag: str = "since", now: datetime | None = None) -> int:
    """A --since/--until value as nanoseconds since the epoch (docker's GetTimestamp)."""
    now = now or datetime.now().astimezone()
    now_ns = int(now.timestamp() * 1e9)
    if value != "0":
        try:
            return now_ns - parse_duration(value)
        except ValueError:
            pass
    try:
        return _parse_rfc3339ish(value, now)
    except ValueError as err:
        if "-" in value:
            raise TimeArgError(f'invalid value for "{flag}": {err}') from None
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?", value)
    if not m:
        raise TimeArgError(f'invalid value for "{flag}": failed to parse value as time or duration: "{value}"')
    return int(m.group(1)) * 1_000_000_000 + (int(m.group(2)[:9].ljust(9, "0")) if m.group(2) else 0)


def tail_arg(value: str) -> int:
    """``--tail``: a number of lines, or "all" (docker treats anything unparsable or negative as all)."""
    try:
        n = int(value)
    except ValueError:
        return -1
    return n if n >= 0 else -1


def details_prefix(attrs: str) -> bytes:
    """``--details``: the entry's attributes as ``k=v,k2=v2`` (sorted, query-escaped)."""
    if not attrs:
        return b""
    data = json.loads(attrs)
    pairs = (f"{quote_plus(k, safe='-_.~')}={quote_plus(str(v), safe='-_.~')}" for k, v in sorted(data.items()))
    return ",".join(pairs).encode()


def log_chunks(
    lines: Iterable[LogLine], *, timestamps: bool = False, details: bool = False, batch: int = 512
) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes) to write, consecutive lines of one stream joined (up to ``batch`` lines)."""
    stream, parts = "", list[bytes]()
    plain = not timestamps and not details
    for line in lines:
        if line.stream != stream:
            if parts:
                yield stream, b"".join(parts)
            stream, parts = line.stream, []
        data = line.data
        if not plain:
            if details:
                data = details_prefix(line.attrs) + b" " + data
            if timestamps:
                data = timestamp_fixed(line.time).encode() + b" " + data
        parts.append(data)
        # a full batch goes at once (batch=1: every line as it comes, for a follower)
        if len(parts) >= batch:
            yield stream, b"".join(parts)
            parts = []
    if parts:
        yield stream, b"".join(parts)
