"""The event feed: status first, fan-out, replay after Last-Event-ID, slow readers dropped, failures reported."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence

import pytest

from dockernb.jupyter.events import NO_SOURCE, EventFeed, FeedStatus, Subscription
from dockernb.spec.events import Event

pytestmark = pytest.mark.rootless


def ev(n: int) -> Event:
    return Event(type="container", action="start", actor_id=f"c{n}", time_nano=n)


class Source:
    """A blocking feed, like the engine's: yields what the test puts in, raises what it is told to."""

    def __init__(self) -> None:
        self.q: queue.Queue[Event | Exception | None] = queue.Queue()
        self.calls = 0

    def __call__(self, *, since: int | None = None, filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[
        Event
    ]:
        self.calls += 1
        while True:
            item = self.q.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item


async def take(sub: Subscription, n: int) -> list[Event | FeedStatus | None]:
    return [await asyncio.wait_for(sub.next(), 5) for _ in range(n)]


def test_without_a_source_the_status_says_so() -> None:
    async def run() -> None:
        feed = EventFeed(None)
        sub = feed.subscribe()
        assert await take(sub, 1) == [FeedStatus(False, NO_SOURCE)]
        assert not any(t.name == "dockernb-jupyter-events" for t in threading.enumerate())
        feed.close()
        assert await take(sub, 1) == [None]

    asyncio.run(run())


def test_events_fan_out_and_replay_after_an_id() -> None:
    source = Source()

    async def run() -> None:
        feed = EventFeed(source)
        a, b = feed.subscribe(), feed.subscribe()
        assert source.calls == 1  # one engine subscription, however many browsers
        for n in (1, 2, 3):
            source.q.put(ev(n))
        assert await take(a, 4) == [FeedStatus(True), ev(1), ev(2), ev(3)]
        assert await take(b, 4) == [FeedStatus(True), ev(1), ev(2), ev(3)]
        late = feed.subscribe(after=1)  # a reconnecting browser that saw event 1
        assert await take(late, 3) == [FeedStatus(True), ev(2), ev(3)]
        feed.close()
        source.q.put(None)

    asyncio.run(run())


def test_a_reader_that_falls_behind_is_dropped_not_waited_for() -> None:
    source = Source()

    async def run() -> None:
        feed = EventFeed(source, queue_size=3)
        slow, fast = feed.subscribe(), feed.subscribe()
        for n in range(1, 6):
            source.q.put(ev(n))
            assert (await take(fast, 2 if n == 1 else 1))[-1] == ev(n)
        assert feed.subscribers == 1
        assert await take(slow, 1) == [None]  # its stream ends; the browser reconnects with Last-Event-ID
        assert await take(feed.subscribe(after=2), 4) == [FeedStatus(True), ev(3), ev(4), ev(5)]
        feed.close()
        source.q.put(None)

    asyncio.run(run())


def test_a_failing_source_is_reported() -> None:
    source = Source()

    async def run() -> None:
        feed = EventFeed(source)
        sub = feed.subscribe()
        source.q.put(ev(1))
        source.q.put(RuntimeError("state root unreadable"))
        assert await take(sub, 3) == [
            FeedStatus(True), ev(1), FeedStatus(False, "the engine's event feed failed: state root unreadable")]
        assert feed.status.live is False
        assert (await take(feed.subscribe(), 1))[0] == feed.status  # newcomers are told too
        feed.close()

    asyncio.run(run())


def test_an_ending_source_is_reported() -> None:
    source = Source()

    async def run() -> None:
        feed = EventFeed(source)
        sub = feed.subscribe()
        source.q.put(None)
        status = (await take(sub, 2))[1]
        assert isinstance(status, FeedStatus) and not status.live and "ended" in status.message
        feed.close()

    asyncio.run(run())
