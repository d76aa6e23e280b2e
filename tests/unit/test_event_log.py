"""The engine's event log: appends from many processes, ordered unique times, rotation, live reading, filters."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from dockernb.engine.events import EventFilter, follow, message
from dockernb.errors import InvalidArgument, InvalidFilter
from dockernb.spec.events import Event
from dockernb.store import events as store_events
from dockernb.store.events import EventLog, decode_line, encode_event
from dockernb.store.layout import Layout


def _log(tmp_path: Path) -> EventLog:
    return EventLog(Layout(tmp_path))


def _append_many(root: str, n: int, tag: str) -> None:
    log = EventLog(Layout(Path(root)))
    for i in range(n):
        log.append("container", "start", f"{tag}{i}")


def test_line_round_trip_and_garbage() -> None:
    ev = Event(type="container", action="die", actor_id="a" * 64, time_nano=5, attributes={"exitCode": "3"})
    assert decode_line(encode_event(ev).rstrip(b"\n")) == ev
    assert decode_line(b'{"t": 1, "type": "x"') is None
    assert decode_line(b"not json") is None


def test_times_are_unique_and_increasing_across_processes(tmp_path: Path) -> None:
    procs = [multiprocessing.get_context("fork").Process(target=_append_many, args=(str(tmp_path), 150, f"p{k}-"))
             for k in range(3)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    events = _log(tmp_path).history()
    assert len(events) == 450
    times = [ev.time_nano for ev in events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert {ev.actor_id for ev in events} == {f"p{k}-{i}" for k in range(3) for i in range(150)}


def test_rotation_keeps_history_and_readers_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_events, "MAX_BYTES", 2000)
    log = _log(tmp_path)
    log.append("container", "create", "first")
    reader = log.reader(since=None)  # at the end: only what comes next
    seen: list[str] = []
    for i in range(60):
        log.append("container", "start", f"c{i}")
        if i % 10 == 9:  # a reader reading now and then: rotations happen between its reads
            seen += [ev.actor_id for ev in reader.read()]
    assert log.rotated.exists()
    assert seen == [f"c{i}" for i in range(60)]
    # one that sleeps through two rotations finds the generation in between as .1
    slow = log.reader(since=None)
    for i in range(60, 100):
        log.append("container", "start", f"c{i}")
    got = [ev.actor_id for ev in slow.read()]
    assert got == sorted(got, key=lambda a: int(a[1:])) and got[-1] == "c99" and len(got) >= 20
    assert slow.read() == []
    reader.close()
    slow.close()
    kept = [ev.actor_id for ev in log.history()]  # the current and the previous generation
    assert kept == sorted(kept, key=lambda a: int(a[1:])) and kept[-1] == "c99"


def test_reader_waits_for_a_whole_line(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.append("image", "pull", "busybox:latest")
    reader = log.reader(since=0)
    assert [ev.action for ev in reader.read()] == ["pull"]
    line = encode_event(Event(type="image", action="tag", actor_id="x", time_nano=time.time_ns() + 10))
    with open(log.path, "ab") as f:
        f.write(line[:10])
        f.flush()
        assert reader.read() == []  # half a line is not an event yet
        f.write(line[10:])
    assert [ev.action for ev in reader.read()] == ["tag"]
    reader.close()


def test_follow_history_until_in_the_past_then_stops(tmp_path: Path) -> None:
    log = _log(tmp_path)
    first = log.append("container", "create", "c1", {"name": "web", "image": "busybox"})
    log.append("container", "start", "c1", {"name": "web", "image": "busybox"})
    last = log.append("image", "tag", "sha256:" + "a" * 64, {"name": "busybox:x"})
    later = log.append("container", "die", "c1", {"name": "web", "image": "busybox", "exitCode": "0"})
    got = list(follow(log, since=first.time_nano, until=last.time_nano))
    assert [ev.action for ev in got] == ["create", "start", "tag"]
    got = list(follow(log, since=0, until=later.time_nano, filters={"container": ["web"]}))
    assert [ev.action for ev in got] == ["create", "start", "die"]
    with pytest.raises(InvalidArgument):
        follow(log, since=10, until=5)
    with pytest.raises(InvalidFilter):
        follow(log, since=0, until=1, filters={"bogus": ["1"]})


def test_follow_yields_live_events_and_ends_at_until(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.append("container", "create", "old")
    until = time.time_ns() + int(1.5e9)
    feed = follow(log, until=until, poll=0.2)  # until without since: dockerd replays what it has, then waits

    def later() -> None:
        time.sleep(0.3)
        log.append("container", "start", "new")

    t = threading.Thread(target=later)
    t.start()
    started = time.monotonic()
    got = list(feed)
    t.join()
    assert [ev.actor_id for ev in got] == ["old", "new"]
    assert 1.0 < time.monotonic() - started < 5
    live = follow(log, poll=0.2)  # neither: only what happens from now on, for ever
    threading.Timer(0.3, lambda: log.append("container", "die", "newest")).start()
    assert next(live).actor_id == "newest"
    live.close()


def test_filter_rules() -> None:
    def ev(type_: str, action: str, actor: str, **attrs: str) -> Event:
        return Event(type=type_, action=action, actor_id=actor, time_nano=1, attributes=attrs)

    cid = "0123456789ab" + "c" * 52
    run = ev("container", "start", cid, name="web", image="busybox:latest", tier="front")
    exec_ = ev("container", "exec_start: sh -c ls", cid, name="web", image="busybox:latest")
    pull = ev("image", "pull", "busybox:latest", name="busybox")
    vol = ev("volume", "create", "data", driver="local")
    assert EventFilter.parse({"container": ["web"]}).matches(run)
    assert EventFilter.parse({"container": ["0123456789ab"]}).matches(run)  # an id prefix
    assert not EventFilter.parse({"container": ["web"]}).matches(pull)
    assert EventFilter.parse({"image": ["busybox"]}).matches(run)  # the container's image, tag stripped
    assert EventFilter.parse({"image": ["busybox"]}).matches(pull)
    assert not EventFilter.parse({"image": ["nginx"]}).matches(run)
    assert EventFilter.parse({"event": ["exec_start"]}).matches(exec_)  # docker's fuzzy exec_* match
    assert not EventFilter.parse({"event": ["start"]}).matches(exec_)
    assert EventFilter.parse({"type": ["volume"], "volume": ["data"]}).matches(vol)
    assert EventFilter.parse({"label": ["tier=front"]}).matches(run)
    assert not EventFilter.parse({"label": ["tier=back"]}).matches(run)
    assert EventFilter.parse({"event": ["start", "die"], "type": ["container"]}).matches(run)


def test_wire_message_is_dockers() -> None:
    ev = Event(type="container", action="die", actor_id="c" * 64, time_nano=1_700_000_000_123_456_789,
               attributes={"exitCode": "0", "image": "busybox", "name": "web"})  # fmt: skip
    assert message(ev) == {
        "status": "die", "id": "c" * 64, "from": "busybox", "Type": "container", "Action": "die",
        "Actor": {"ID": "c" * 64, "Attributes": {"exitCode": "0", "image": "busybox", "name": "web"}},
        "scope": "local", "time": 1_700_000_000, "timeNano": 1_700_000_000_123_456_789,
    }  # fmt: skip
    vol = message(Event(type="volume", action="create", actor_id="v", time_nano=2))
    assert "status" not in vol and vol["Type"] == "volume"
