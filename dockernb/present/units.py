"""Sizes and durations the way docker prints them (go-units), layer L7."""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["human_duration", "human_size", "human_size_binary", "human_size_precision", "short_id", "time_ago"]

_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def _custom_size(size: float, base: float, units: list[str], precision: int = 4) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    # go-units: fmt.Sprintf("%.4g%s", size, unit)
    text = f"{size:.{precision}g}"
    if "e" in text:
        text = f"{size:.0f}"
    return f"{text}{units[i]}"


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units with 4 significant digits (``1.99MB``, ``164MB``)."""
    return _custom_size(size, 1000.0, _DECIMAL)


def human_size_precision(size: float, precision: int) -> str:
    """go-units HumanSizeWithPrecision (``ps -s`` uses 3 digits: ``1.99MB``)."""
    return _custom_size(size, 1000.0, _DECIMAL, precision)


def human_size_binary(size: float) -> str:
    """go-units BytesSize: binary units (``23.54GiB``)."""
    return _custom_size(size, 1024.0, _BINARY)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration ("Less than a second", "3 minutes", "About an hour", "56 years")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(round(seconds / 3600))
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(math.floor(hours / 24 / 365))} years"


def time_ago(when: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return human_duration((now - when).total_seconds()) + " ago"


def short_id(ident: str) -> str:
    """The 12-hex form docker shows (``sha256:`` stripped)."""
    return ident.split(":", 1)[-1][:12]
