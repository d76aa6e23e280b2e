"""One line of a container's log, as the log reader yields it (layer L0).

Kept apart from ``spec/events.py`` (progress records of other verbs) so the two grow
independently. A ``LogLine`` is a named tuple because ``logs`` makes 100,000 of them in well
under a second. ``time`` is the stamp as stored (RFC3339Nano, UTC): docker's ``logs -t``
prints nine fractional digits and a ``datetime`` holds only six, so it stays text, and
:func:`dockernb.logs.jsonfile.parse_time` gives nanoseconds when a filter needs them.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import NamedTuple

__all__ = ["LogLine", "timestamp_fixed"]


class LogLine(NamedTuple):
    """``data`` is the raw line as docker returns it (with its ``\\n``, unless the line was partial)."""

    stream: str  # "stdout" | "stderr"
    data: bytes
    time: str  # RFC3339Nano as stored, e.g. "2026-11-28T11:42:20.923414039Z"
    #: the entry's "attrs" object (log-opt labels/env/tag) as raw JSON text, or "" when none
    attrs: str = ""


def timestamp_fixed(stored: str) -> str:
    """The ``logs -t`` form of a stored stamp: RFC3339 in UTC with exactly nine fractional digits."""
    if stored.endswith("Z") and len(stored) >= 20 and stored[10] == "T":
        if len(stored) == 20:
            return stored[:19] + ".000000000Z"
        if stored[19] == ".":
            return stored[:20] + stored[20:-1].ljust(9, "0") + "Z"
    # another zone (not written by dockernb or docker, but valid RFC3339): convert to UTC
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)", stored)
    if not m:
        raise ValueError(f"bad log time {stored!r}")
    zone = "+00:00" if m.group(3) in ("Z", "z") else m.group(3)
    sec = int(datetime.fromisoformat(m.group(1) + zone).timestamp())
    digits = (m.group(2) or "")[:9].ljust(9, "0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{digits}Z"
