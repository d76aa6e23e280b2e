"""Server-side session state: attaches waiting for a start, exec instances, background producers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dockernb.apiserver.routes.containers import background
from dockernb.apiserver.sessions import ExecRegistry, PendingAttaches, detach_keys
from dockernb.errors import InvalidRequest, NoSuchExec


def test_pending_attaches_are_taken_once_and_abandoned_ones_skipped() -> None:
    pending = PendingAttaches()
    a = pending.add("c1", (True, True, False))
    b = pending.add("c1", (False, True, True))
    b.abandoned = True
    assert pending.take("c1") == [a] and pending.take("c1") == []
    c = pending.add("c2", (False, True, True))
    pending.discard("c2", c)
    assert pending.take("c2") == []
    assert pending.exit_code("c1") is None
    pending.record_exit("c1", 7)
    assert pending.exit_code("c1") == 7


def test_exec_registry_by_id_and_unique_prefix() -> None:
    execs = ExecRegistry()
    inst = execs.add({"container_id": "c" * 64, "cmd": ("sh", "-c", "true"), "tty": True})
    assert execs.get(inst.id) is inst and execs.get(inst.id[:12]) is inst
    with pytest.raises(NoSuchExec, match="No such exec instance: nope"):
        execs.get("nope")
    with pytest.raises(NoSuchExec):
        execs.get("")
    data = inst.inspect()
    assert data["ProcessConfig"] == {"arguments": ["-c", "true"], "entrypoint": "sh", "privileged": False,
                                     "tty": True, "user": ""}
    assert (data["Running"], data["ExitCode"], data["ContainerID"]) == (False, None, "c" * 64)
    inst.running = True
    assert execs.for_container("c" * 64) == [inst.id]


def test_detach_keys() -> None:
    assert detach_keys("") == b"\x10\x11"
    assert detach_keys("ctrl-a,x") == b"\x01x"
    with pytest.raises(InvalidRequest, match="Invalid detach keys"):
        detach_keys("ctrl-")


def test_background_heartbeats_while_idle_and_raises_the_producers_error() -> None:
    release = threading.Event()

    def slow() -> Iterator[int]:
        yield 1
        release.wait(5)
        yield 2

    out = []
    for item in background(slow, heartbeat=0.05):
        out.append(item)
        if out.count(None) == 2:
            release.set()
    assert out[0] == 1 and out[-1] == 2 and None in out

    def failing() -> Iterator[int]:
        yield 1
        raise InvalidRequest("boom")

    with pytest.raises(InvalidRequest, match="boom"):
        list(background(failing, heartbeat=0.05))


def test_background_stops_its_producer_when_closed() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            produced.append(n)
            yield n
            time.sleep(0.01)

    gen = background(endless, heartbeat=0.05)
    assert next(gen) == 1
    gen.close()
    time.sleep(0.1)
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) <= count + 1
