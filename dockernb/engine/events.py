"""``docker events``: the engine's event feed, its filters, and the attributes each event carries (layer L6).

Every process that changes the root's state appends to its event log
(:class:`dockernb.store.events.EventLog`); :func:`follow` reads it the way dockerd serves
``/events``: with ``since``, the recorded events from then on; with ``until`` in the past, only
those; otherwise it keeps yielding events as they are appended (an inotify watch on the log's
directory wakes it), until ``until`` or for ever. ``engine.system.events`` is :func:`follow` on
the engine's root; the API server's ``/events`` and the Jupyter sidebar consume it.

:class:`EventFilter` is dockerd's (daemon/events/filter.go): ``container``, ``image``,
``volume``, ``network`` match an object's id (a prefix) or name; ``image`` also matches a
container's image and names without their tag; ``event`` matches the action (``exec_start``
matches ``exec_start: sh``); ``type``, ``scope``, ``label`` (``k`` or ``k=v`` on the attributes),
``daemon``, ``plugin``, ``node``, ``service``, ``secret``, ``config``.

The ``*_attributes`` helpers give each object's attributes as docker's daemon logs them:
a container's labels plus ``image`` and ``name``; an image's ``name``; a volume's ``driver``;
a network's ``name`` and ``type``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockernb.errors import InvalidArgument, InvalidFilter
from dockernb.spec.events import Event
from dockernb.store.events import EventLog, container_attributes

__all__ = [
    "FILTER_KEYS",
    "EventFilter",
    "container_attributes",
    "follow",
    "follow_idle",
    "message",
]

#: the filter keys dockerd's events understand
FILTER_KEYS = frozenset({"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin",
                         "scope", "secret", "service", "type", "volume"})  # fmt: skip
_FUZZY_EVENTS = ("exec_create", "exec_start", "exec_die", "health_status")


def _strip_tag(name: str) -> str:
    """``busybox:latest`` -> ``busybox`` (a tag, not a registry port: it follows the last slash)."""
    head, _, last = name.rpartition("/")
    base = last.split("@", 1)[0].split(":", 1)[0]
    return f"{head}/{base}" if head else base


@dataclass(frozen=True, slots=True)
class EventFilter:
    """dockerd's events filter: every key given must match; the values of one key are alternatives."""

    terms: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, filters: Mapping[str, Sequence[str]] | None) -> EventFilter:
        """Raises InvalidFilter (``Invalid filter 'x'``) for a key docker does not know."""
        terms = {k: tuple(v) for k, v in (filters or {}).items() if v}
        for key in sorted(terms):
            if key not in FILTER_KEYS:
                raise InvalidFilter(key)
        return cls(terms)

    def _exact(self, key: str, value: str) -> bool:
        wanted = self.terms.get(key)
        return not wanted or value in wanted

    def _fuzzy(self, key: str, value: str) -> bool:
        wanted = self.terms.get(key)
        return not wanted or any(value == w or (w and value.startswith(w)) for w in wanted)

    def _named(self, ev: Event, key: str) -> bool:
        if key not in self.terms:
            return True
        return self._fuzzy(key, ev.actor_id) or self._fuzzy(key, ev.attributes.get("name", ""))

    def _event(self, ev: Event) -> bool:
        wanted = self.terms.get("event")
        if not wanted:
            return True
        if any(w in _FUZZY_EVENTS for w in wanted):
            return any(ev.action == w or ev.action.startswith(w) for w in wanted)
        return ev.action in wanted

    def _image(self, ev: Event) -> bool:
        wanted = self.terms.get("image")
        if not wanted:
            return True
        name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        candidates = {ev.actor_id, name, _strip_tag(ev.actor_id), _strip_tag(name)} - {""}
        return bool(candidates & set(wanted))

    def _labels(self, ev: Event) -> bool:
        for term in self.terms.get("label", ()):
            key, eq, value = term.partition("=")
            if key not in ev.attributes or (eq and ev.attributes[key] != value):
                return False
        return True

    def matches(self, ev: Event) -> bool:
        return (
            self._event(ev)
            and self._exact("type", ev.type)
            and self._exact("scope", ev.scope)
            and all(self._named(ev, key) for key in ("container", "volume", "network", "plugin", "daemon", "node",
                                                      "service", "secret", "config"))
            and self._image(ev)
            and self._labels(ev)
        )  # fmt: skip


def follow(
    events: EventLog,
    *,
    since: int | None = None,
    until: int | None = None,
    filters: Mapping[str, Sequence[str]] | EventFilter | None = None,
    clock: Callable[[], int] = time.time_ns,
    poll: float = 1.0,
) -> Iterator[Event]:
    """Like ``GET /events``: the recorded events since ``since`` (ns), then new ones as they come.

    Ends after the recorded ones when ``until`` (ns) is already past, else at ``until``, else
    never (close the generator to stop following). ``poll`` bounds each wait, so a log made
    after the call, or an inotify-less system, is still followed. Raises InvalidArgument
    (``since`` after ``until``), InvalidFilter, before the first event.
    """
    feed = follow_idle(events, since=since, until=until, filters=filters, clock=clock, poll=poll)  # checks now
    return _events_only(feed)


def _events_only(feed: Generator[Event | None, None, None]) -> Iterator[Event]:
    try:
        for ev in feed:
            if ev is not None:
                yield ev
    finally:
        feed.close()  # closing the follower stops the feed's inotify watch and reader at once


def follow_idle(
    events: EventLog,
    *,
    since: int | None = None,
    until: int | None = None,
    filters: Mapping[str, Sequence[str]] | EventFilter | None = None,
    clock: Callable[[], int] = time.time_ns,
    poll: float = 1.0,
) -> Generator[Event | None, None, None]:
    """:func:`follow`, plus a ``None`` after every idle wait of at most ``poll`` seconds.

    A server streaming the events checks its client at each ``None``, so a client that left an
    idle stream is noticed within ``poll`` seconds, not at the next event. The arguments are
    checked at the call, before the first item (a server answers them with a 400, not a 200).
    """
    flt = filters if isinstance(filters, EventFilter) else EventFilter.parse(filters)
    if since is not None and until is not None and since > until:
        raise InvalidArgument("`since` time cannot be after `until` time")
    replay = since is not None or until is not None
    reader = events.reader(since=(since or 0) if replay else None)
    return _stream(events, reader, since, until, flt, clock, poll)


def _stream(events: EventLog, reader: Any, since: int | None, until: int | None,  # noqa: ANN401 - EventReader
            flt: EventFilter, clock: Callable[[], int], poll: float) -> Generator[Event | None, None, None]:
    from dockernb.linux.inotify import IN_CREATE, IN_MODIFY, IN_MOVED_TO, Inotify

    notify: Inotify | None = None
    try:
        live = until is None or until > clock()
        while True:
            for ev in reader.read():
                if until is not None and ev.time_nano > until:
                    return
                if (since is None or ev.time_nano >= since) and flt.matches(ev):
                    yield ev
            if not live:
                return
            wait = poll
            if until is not None:
                left = (until - clock()) / 1e9
                if left <= 0:
                    for ev in reader.read():  # what was appended before the deadline
                        if ev.time_nano <= until and flt.matches(ev) and (since is None or ev.time_nano >= since):
                            yield ev
                    return
                wait = min(wait, left + 0.001)
            if notify is None:
                try:
                    events.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                    notify = Inotify()
                    notify.watch(events.dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO)
                except OSError:
                    if notify is not None:
                        notify.close()
                    notify = None
                    time.sleep(wait)
                    yield None
                    continue
                continue  # the watch is set: read once more before sleeping, so nothing slips between
            notify.wait(wait)
            yield None
    finally:
        if notify is not None:
            notify.close()
        reader.close()


def message(ev: Event) -> dict[str, Any]:
    """docker's ``EventMessage`` for ``ev`` (the API's and ``docker events --format '{{json .}}'``'s shape)."""
    out: dict[str, Any] = {}
    if ev.type in ("container", "image"):  # what pre-1.22 clients read
        out["status"] = ev.action
        out["id"] = ev.actor_id
        if ev.type == "container" and "image" in ev.attributes:
            out["from"] = ev.attributes["image"]
    out.update({
        "Type": ev.type,
        "Action": ev.action,
        "Actor": {"ID": ev.actor_id, "Attributes": dict(ev.attributes)},
        "scope": ev.scope,
        "time": ev.time_nano // 1_000_000_000,
        "timeNano": ev.time_nano,
    })  # fmt: skip
    return out
