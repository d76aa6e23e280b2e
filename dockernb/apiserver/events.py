"""The ``/events`` fan-out: one publisher, many subscribers, dockerd's replay and filters (layer L8).

:class:`EventHub` keeps the last 256 events (dockerd's ``eventsLimit``) so ``since`` can replay
them, and gives each subscriber its own bounded queue, so a slow client never blocks the
publisher (it is dropped instead). Events are the wire shape of ``EventMessage`` in the spec;
``publish`` fills in ``scope``, ``time``, ``timeNano`` and the legacy ``status``/``id``/``from``.
The engine's event source plugs in by calling ``publish`` (see ``App.attach_event_source``).
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockernb.errors import InvalidRequest

__all__ = ["EventFilter", "EventHub", "parse_timestamp"]

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"^(\d{1,12})(?:\.(\d{1,9}))?$")

#: the filter keys dockerd's /events understands (daemon/events/filter.go)
FILTER_KEYS = frozenset(
    {"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope",
     "secret", "service", "type", "volume"}
)


def parse_timestamp(name: str, value: str) -> int | None:
    """docker's ``seconds[.nanoseconds]`` (what the CLI sends for --since/--until) as ns; None if empty."""
    if value == "":
        return None
    m = _TIMESTAMP.match(value.strip())
    if m is None:
        raise InvalidRequest(f"invalid value for {name}: {value!r} (want seconds[.nanoseconds] since the epoch)")
    frac = (m.group(2) or "").ljust(9, "0")
    return int(m.group(1)) * 1_000_000_000 + int(frac)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """dockerd's events filter: every given key must match (values of one key are alternatives)."""

    terms: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, terms: Mapping[str, Sequence[str]]) -> EventFilter:
        unknown = sorted(set(terms) - FILTER_KEYS)
        if unknown:
            raise InvalidRequest(f"invalid filter '{unknown[0]}'")
        return cls({k: tuple(v) for k, v in terms.items() if v})

    def _any(self, key: str, *values: str) -> bool:
        wanted = self.terms.get(key)
        if not wanted:
            return True
        for v in values:
            for w in wanted:
                if v and w and (v == w or (len(v) == 64 and v.startswith(w))):  # a short id matches too
                    return True
        return False

    def matches(self, ev: Mapping[str, Any]) -> bool:
        actor = ev.get("Actor") or {}
        attrs: Mapping[str, str] = actor.get("Attributes") or {}
        ev_type, action, ident = ev.get("Type", ""), ev.get("Action", ""), actor.get("ID", "")
        if "event" in self.terms and action.split(":", 1)[0] not in self.terms["event"]:
            return False
        if "type" in self.terms and ev_type not in self.terms["type"]:
            return False
        if "scope" in self.terms and ev.get("scope", "local") not in self.terms["scope"]:
            return False
        for key in ("container", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config"):
            if key in self.terms and not (ev_type == key and self._any(key, ident, attrs.get("name", ""))):
                return False
        if "image" in self.terms:
            names: tuple[str, ...]
            if ev_type == "image":
                names = (ident, attrs.get("name", ""))
            elif ev_type == "container":
                names = (attrs.get("image", ""),)
            else:
                return False
            stripped = tuple(_strip_tag(n) for n in names)
            if not (self._any("image", *names) or self._any("image", *stripped)):
                return False
        for term in self.terms.get("label", ()):
            key, sep, value = term.partition("=")
            if key not in attrs or (sep and attrs[key] != value):
                return False
        return True


def _strip_tag(name: str) -> str:
    """``busybox:latest`` -> ``busybox`` (a tag, not a registry port, is after the last slash)."""
    head, _, last = name.rpartition("/")
    base = last.split("@", 1)[0].split(":", 1)[0]
    return f"{head}/{base}" if head else base


_CLOSED = object()


class EventHub:
    """Fan-out of events to ``/events`` streams, with a replay buffer for ``since``."""

    def __init__(self, *, buffer: int = 256, queue_size: int = 1024, heartbeat: float = 1.0,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=buffer)
        self._subscribers: set[queue.Queue[object]] = set()
        self._queue_size = queue_size
        self._heartbeat = heartbeat
        self._clock = clock
        self._closed = False

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Record one event (``Type``, ``Action``, ``Actor``) and hand it to every subscriber."""
        ev = dict(event)
        ev.setdefault("Actor", {"ID": "", "Attributes": {}})
        ev.setdefault("scope", "local")
        if "timeNano" not in ev:
            ev["timeNano"] = self._clock()
        ev.setdefault("time", ev["timeNano"] // 1_000_000_000)
        if ev.get("Type") in ("container", "image"):  # what pre-1.22 clients read
            ev.setdefault("status", ev.get("Action", ""))
            ev.setdefault("id", ev["Actor"].get("ID", ""))
            if ev.get("Type") == "container" and "image" in (ev["Actor"].get("Attributes") or {}):
                ev.setdefault("from", ev["Actor"]["Attributes"]["image"])
        with self._lock:
            self._recent.append(ev)
            dropped = []
            for q in self._subscribers:
                try:
                    q.put_nowait(ev)
                except queue.Full:
                    dropped.append(q)
            for q in dropped:  # a subscriber this far behind is cut off, never waited for
                self._subscribers.discard(q)
                _force_put(q, _CLOSED)
        return ev

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        with self._lock:
            self._closed = True
            for q in self._subscribers:
                _force_put(q, _CLOSED)
            self._subscribers.clear()

    def subscribe(self, *, since: int | None = None, until: int | None = None,
                  filters: EventFilter | None = None) -> Iterator[dict[str, Any] | None]:
        """Events from ``since`` (ns, replayed from the buffer) until ``until`` (ns), else forever.

        Yields ``None`` every heartbeat while idle (the server checks the client then). The
        subscription is registered before the generator is first advanced, so nothing
        published after this call is missed.
        """
        if since is not None and until is not None and since > until:
            raise InvalidRequest("`since` time cannot be after `until` time")
        flt = filters or EventFilter()
        q: queue.Queue[object] = queue.Queue(self._queue_size)
        with self._lock:
            replay = [ev for ev in self._recent if since is not None and ev["timeNano"] >= since]
            if not self._closed:
                self._subscribers.add(q)
            else:
                q.put(_CLOSED)
        # replayed events were published before q was registered, so none of them is also queued
        return self._stream(q, replay, until, flt)

    def _stream(self, q: queue.Queue[object], replay: list[dict[str, Any]], until: int | None,
                flt: EventFilter) -> Iterator[dict[str, Any] | None]:
        try:
            for ev in replay:
                if until is not None and ev["timeNano"] > until:
                    return
                if flt.matches(ev):
                    yield ev
            while True:
                wait = self._heartbeat
                if until is not None:
                    left = (until - self._clock()) / 1e9
                    if left <= 0:
                        return
                    wait = min(wait, left + 0.001)
                try:
                    item = q.get(timeout=wait)
                except queue.Empty:
                    yield None
                    continue
                if item is _CLOSED:
                    return
                assert isinstance(item, dict)
                if until is not None and item["timeNano"] > until:
                    return
                if flt.matches(item):
                    yield item
        finally:
            with self._lock:
                self._subscribers.discard(q)


def _force_put(q: queue.Queue[object], item: object) -> None:
    while True:
        try:
            q.put_nowait(item)
            return
        except queue.Full:
            try:
                q.get_nowait()
            except queue.Empty:
                pass
