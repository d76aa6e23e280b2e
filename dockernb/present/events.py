"""``docker events``' lines and ``--format`` context from engine events (layer L7).

The default line is docker's ``prettyPrintEvent``: the local time with nanoseconds
(``2006-01-02T15:04:05.000000000Z07:00``), type, action, actor id, then the attributes sorted by
key in parentheses. ``--format`` sees docker's ``events.Message`` (``.Type``, ``.Action``,
``.Actor.ID``, ``.Actor.Attributes``, ``.Scope``, ``.Time``, ``.TimeNano``, and the legacy
``.Status``, ``.ID``, ``.From``); ``{{json .}}`` is the Engine API's JSON of the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockernb.engine.events import message
from dockernb.present.gotemplate import Struct
from dockernb.spec.events import Event

__all__ = ["EventContext", "event_context", "event_line", "format_time"]


def format_time(time_nano: int) -> str:
    """Go's ``time.Unix(0, ns).Format("2006-01-02T15:04:05.000000000Z07:00")`` in the local zone."""
    when = datetime.fromtimestamp(time_nano // 1_000_000_000).astimezone()
    offset = when.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    if seconds == 0:
        zone = "Z"
    else:
        sign = "+" if seconds > 0 else "-"
        zone = f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{time_nano % 1_000_000_000:09d}{zone}"


def event_line(ev: Event) -> str:
    """docker's default ``events`` line (without the newline)."""
    text = f"{format_time(ev.time_nano)} {ev.type} {ev.action} {ev.actor_id}"
    if ev.attributes:
        text += " (" + ", ".join(f"{k}={ev.attributes[k]}" for k in sorted(ev.attributes)) + ")"
    return text


class EventContext(Struct):
    """docker's ``events.Message`` for templates; ``{{json .}}`` is the API's JSON of it."""

    def __init__(self, data: dict[str, Any], wire: dict[str, Any], type_name: str = "events.Message") -> None:
        super().__init__(type_name, data)
        self.wire = wire

    def __json__(self) -> dict[str, Any]:
        return self.wire


def event_context(ev: Event | None) -> EventContext:
    """The template context of ``ev`` (None: docker's empty message, to check a template)."""
    if ev is None:
        actor = Struct("events.Actor", {"ID": "", "Attributes": {}})
        return EventContext({"Status": "", "ID": "", "From": "", "Type": "", "Action": "", "Actor": actor,
                             "Scope": "", "Time": 0, "TimeNano": 0}, {}, "*events.Message")  # fmt: skip
    wire = message(ev)
    actor = Struct("events.Actor", {"ID": ev.actor_id, "Attributes": dict(ev.attributes)})
    return EventContext({
        "Status": wire.get("status", ""), "ID": wire.get("id", ""), "From": wire.get("from", ""), "Type": ev.type,
        "Action": ev.action, "Actor": actor, "Scope": ev.scope, "Time": ev.time_nano // 1_000_000_000,
        "TimeNano": ev.time_nano,
    }, wire)  # fmt: skip
