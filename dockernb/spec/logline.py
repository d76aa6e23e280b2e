"""One line of a container's log, as the log reader yields it (layer L0).

Kept apart from ``spec/events.py`` (progress records of other verbs) so the two grow
independently. A ``LogLine`` is a named tuple because ``logs`` makes 100,000 of them in well
under a second. ``time`` is the stamp as stored (RFC3339Nano, UTC): docker's ``logs -t``
prints nine fractional digits and a ``datetime`` holds only six, so it stays text, and
:func:`dockernb.logs.jsonfile.parse_time` gives nanoseconds when a filter needs them.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LogLine"]


class LogLine(NamedTuple):
    """``data`` is the raw line as docker returns it (with its ``\\n``, unless the line was partial)."""

    stream: str  # "stdout" | "stderr"
    data: bytes
    time: str  # RFC3339Nano as stored, e.g. "2026-11-28T11:42:20.923414039Z"
    #: the entry's "attrs" object (log-opt labels/env/tag) as raw JSON text, or "" when none
    attrs: str = ""
