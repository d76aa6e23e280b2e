"""The live feed behind ``GET /dockernb/api/v1/events``: one engine subscription per server (layer L8).

The engine's ``system.events`` iterator blocks, so one daemon thread reads it (started when the
first browser subscribes) and hands each :class:`~dockernb.spec.events.Event` to the event
loop, which fans it out to every subscriber's bounded queue. A subscriber that falls behind is
dropped (its stream ends; the browser reconnects with ``Last-Event-ID`` and the recent-events
buffer replays what it missed), so a slow tab never stalls the feed.

A subscriber's queue carries :class:`Event` records and :class:`FeedStatus` updates (is the
feed live, and if not, why); the first item is always the current status. An engine without an
event feed is reported as such, never faked: the sidebar then refreshes only when asked.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dockernb.errors import DockernbError
from dockernb.jupyter.records import EventSource
from dockernb.spec.events import Event

__all__ = ["NO_SOURCE", "EventFeed", "FeedStatus", "Subscription"]

log = logging.getLogger(__name__)

NO_SOURCE = "no events source yet: this dockernb engine does not report events, so the sidebar refreshes on request"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Whether engine events flow (``live``), and the sentence to show when they do not."""

    live: bool
    message: str = ""


Item = Event | FeedStatus


class Subscription:
    """One browser's view of the feed: a bounded queue, ended by :meth:`end` (or when it overflows)."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=size)
        self.ended = False

    def offer(self, item: Item) -> bool:
        """Queue ``item``; False (and the subscription ends) when the reader is too far behind."""
        if self.ended:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.end()
            return False
        return True

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        # make room for the end marker: the stream closes and the browser reconnects with Last-Event-ID
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def next(self) -> Item | None:
        """The next item, or None once the subscription has ended."""
        return await self.queue.get()


class EventFeed:
    """Fan-out of the engine's events to subscribers; all methods but the reader run on the event loop."""

    def __init__(
        self,
        source: EventSource | None,
        *,
        buffer: int = 256,
        queue_size: int = 512,
        thread_name: str = "dockernb-jupyter-events",
    ) -> None:
        self._source = source
        self._recent: collections.deque[Event] = collections.deque(maxlen=buffer)
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size
        self._thread_name = thread_name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.status = FeedStatus(False, NO_SOURCE) if source is None else FeedStatus(True)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, after: int | None = None) -> Subscription:
        """A new subscription: the current status, then the buffered events newer than ``after``
        (a ``Last-Event-ID``), then live events. Call it on the event loop."""
        missed = [ev for ev in self._recent if ev.time_nano > after] if after is not None else []
        # room for the replay on top of the usual backlog, so that catching up never overflows
        sub = Subscription(self._queue_size + len(missed) + 1)
        sub.offer(self.status)
        for ev in missed:
            sub.offer(ev)
        if self._closed:
            sub.end()
            return sub
        self._subscribers.add(sub)
        self._start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        sub.end()

    def close(self) -> None:
        """End every subscription; the reader thread (a daemon) stops delivering."""
        self._closed = True
        for sub in list(self._subscribers):
            self.unsubscribe(sub)

    # --- the reader thread and what it hands to the loop ----------------------------------

    def _start(self) -> None:
        if self._source is None or self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        # a daemon: the engine's iterator blocks until the next event, and must not hold up shutdown
        self._thread = threading.Thread(target=self._read, args=(self._source,), name=self._thread_name, daemon=True)
        self._thread.start()

    def _read(self, source: EventSource) -> None:
        try:
            for ev in source(since=None, filters=None):
                if self._closed:
                    return
                self._hand_over(self.publish, ev)
            status = FeedStatus(False, "the engine's event feed ended; the sidebar refreshes on request")
        except DockernbError as err:  # e.g. a capability this machine lacks: the message says which
            log.info("dockernb: the engine's event feed stopped: %s", err)
            status = FeedStatus(False, f"the engine's event feed failed: {err}")
        except Exception as err:  # the feed is best effort: report it, keep serving the API
            log.exception("dockernb: the engine's event feed failed")
            status = FeedStatus(False, f"the engine's event feed failed: {err}")
        self._hand_over(self.set_status, status)

    def _hand_over(self, fn: Callable[[Item], None], item: Item) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, item)
        except RuntimeError:  # the loop closed between the check and the call (server shutdown)
            pass

    def publish(self, item: Item) -> None:
        """Deliver one event to every subscriber (on the loop)."""
        if not isinstance(item, Event):
            self.set_status(item)
            return
        self._recent.append(item)
        for sub in list(self._subscribers):
            if not sub.offer(item):
                log.info("dockernb: dropped an events subscriber that fell behind")
                self._subscribers.discard(sub)

    def set_status(self, item: Item) -> None:
        if not isinstance(item, FeedStatus):
            self.publish(item)
            return
        self.status = item
        for sub in list(self._subscribers):
            if not sub.offer(item):
                self._subscribers.discard(sub)
