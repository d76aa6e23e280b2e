"""The few Go library behaviours docker's builder output depends on (layer L5, pure functions).

docker prints history lines with Go's ``%q`` (``CMD ["cat" "/hello.txt"]``), cleans paths with
``filepath.Clean``, parses HEALTHCHECK durations with ``time.ParseDuration`` and validates
.dockerignore patterns with ``filepath.Match``; matching their results (and their error words)
is what makes our output and our errors read like docker's.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BadPattern",
    "DurationError",
    "clean_path",
    "parse_duration",
    "quote",
    "quote_list",
    "validate_match_pattern",
]


def quote(text: str) -> str:
    """Go's ``%q`` of a string: double-quoted, backslash escapes, non-printables as ``\\x..``/``\\u....``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def quote_list(items: Sequence[str] | None) -> str:
    """Go's ``%q`` of a ``[]string``: ``["cat" "/hello.txt"]`` (``[]`` for nil or empty)."""
    return "[" + " ".join(quote(i) for i in (items or ())) + "]"


def clean_path(path: str) -> str:
    """Go's ``path/filepath.Clean`` (on Linux): lexical, ``""`` becomes ``"."``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    body = "/".join(parts)
    if rooted:
        return "/" + body
    return body or "."


# --- time.ParseDuration -------------------------------------------------------------

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


class DurationError(ValueError):
    """A malformed duration, with Go's message (``time: invalid duration "5x"``)."""


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds: ``"1m30s"``, ``"1.5h"``, ``"300ms"``, ``"-2s"``."""
    orig, s = text, text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise DurationError(f"time: invalid duration {quote(orig)}")
    total = 0.0
    while s:
        i = 0
        while i < len(s) and s[i].isdigit():
            i += 1
        whole = s[:i]
        s = s[i:]
        frac = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isdigit():
                j += 1
            frac = s[:j]
            s = s[j:]
        if not whole and not frac:
            raise DurationError(f"time: invalid duration {quote(orig)}")
        k = 0
        while k < len(s) and s[k] != "." and not s[k].isdigit():
            k += 1
        unit = s[:k]
        s = s[k:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {quote(orig)}")
        if unit not in _UNITS_NS:
            raise DurationError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        value = float(f"{whole or '0'}.{frac or '0'}")
        total += value * _UNITS_NS[unit]
    if total > 2**63 - 1:
        raise DurationError(f"time: invalid duration {quote(orig)}")
    return -int(total) if neg else int(total)


# --- filepath.Match's syntax check ------------------------------------------------------


class BadPattern(ValueError):
    """Go's ``filepath.ErrBadPattern``."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def validate_match_pattern(pattern: str) -> None:
    """Raise :class:`BadPattern` where Go's ``filepath.Match(pattern, ".")`` would.

    Since Go 1.16 ``Match`` checks the whole pattern: every ``[...]`` class must be closed with
    valid ranges and every ``\\`` must escape something.
    """
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise BadPattern()
            i += 2
        elif ch == "[":
            i = _check_class(pattern, i + 1)
        else:
            i += 1


def _check_class(p: str, i: int) -> int:
    """Check a character class starting after ``[``; return the index after its ``]``."""
    n = len(p)
    if i < n and p[i] == "^":
        i += 1
    nranges = 0
    while True:
        if i < n and p[i] == "]" and nranges > 0:
            return i + 1
        lo, i = _class_char(p, i)
        if i < n and p[i] == "-":
            hi, i = _class_char(p, i + 1)
            if hi < lo:
                raise BadPattern()
        nranges += 1
        if i >= n:
            raise BadPattern()


def _class_char(p: str, i: int) -> tuple[str, int]:
    n = len(p)
    if i >= n or p[i] in "-]":
        raise BadPattern()
    if p[i] == "\\":
        i += 1
        if i >= n:
            raise BadPattern()
    return p[i], i + 1
