"""Engine records as the sidebar's JSON, and the honest answer for services the engine lacks."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockernb.engine import Engine
from dockernb.errors import NotSupported
from dockernb.jupyter.records import containers, events_source, images, stream_record, to_json
from dockernb.spec.events import BuildStep, Event

pytestmark = pytest.mark.rootless


class Color(enum.StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    name: str
    ok: bool


@dataclass
class Outer:
    path: Path
    when: datetime.datetime
    color: Color
    items: tuple[Inner, ...]
    labels: dict[str, str] = field(default_factory=dict)
    raw: bytes = b"caf\xc3\xa9"
    nothing: None = None


def test_to_json_follows_the_fields() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    value = Outer(Path("/var/lib/dockernb"), when, Color.RED, (Inner("a", True),), {"k": "v"})
    assert to_json(value) == {
        "path": "/var/lib/dockernb",
        "when": "2026-01-02T03:04:05+00:00",
        "color": "red",
        "items": [{"name": "a", "ok": True}],
        "labels": {"k": "v"},
        "raw": "café",
        "nothing": None,
    }


def test_stream_records_carry_their_kind() -> None:
    assert stream_record(BuildStep(index=1, total=2, text="FROM busybox")) == {
        "kind": "BuildStep", "index": 1, "total": 2, "text": "FROM busybox", "stage": 0,
        "vertex": 0, "vertices": 0, "stage_name": "", "context_transfer": -1}  # BuildKit's progress fields
    assert stream_record("plain") == {"kind": "str", "value": "plain"}


def test_events_serialise_with_their_attributes() -> None:
    ev = Event(type="container", action="start", actor_id="a" * 64, time_nano=5, attributes={"name": "web"})
    assert to_json(ev) == {"type": "container", "action": "start", "actor_id": "a" * 64, "time_nano": 5,
                           "attributes": {"name": "web"}, "scope": "local"}


def test_an_engine_without_the_services_says_which_is_missing(tmp_path: Path) -> None:
    engine = Engine.from_env({"DOCKERNB_ROOT": str(tmp_path)})
    assert containers(engine) is engine.containers  # the container service has landed (issue 5)
    assert images(engine) is engine.images  # the image service has landed (issue 3)
    with pytest.raises(NotSupported, match="^this dockernb engine has no container service yet$"):
        containers(object())  # an engine without one says so
    # and the engine's event feed (the events issue): the sidebar follows it
    assert events_source(engine) == engine.system.events
    assert events_source(object()) is None  # an engine without one: the sidebar is told so, not shown a fake


def test_services_and_feed_are_found_when_present() -> None:
    class System:
        def events(self, *, since: int | None = None, filters: object = None) -> list[Event]:
            return []

    class WithAll:
        system = System()
        containers = object()
        images = object()

    engine = WithAll()
    assert containers(engine) is engine.containers and images(engine) is engine.images
    assert events_source(engine) == engine.system.events


def test_a_container_summary_becomes_a_sidebar_row() -> None:
    from dockernb.jupyter.records import container_row
    from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary
    from dockernb.spec.ports import PortBinding
    from dockernb.spec.status import ContainerState, ContainerStatus

    created = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
    record = ContainerRecord(id="a" * 64, name="web", created=created, config=ContainerConfig(image="nginx"))
    now = datetime.datetime.now(datetime.UTC)
    started = now - datetime.timedelta(minutes=3)
    running = ContainerState(status=ContainerStatus.RUNNING, started_at=started)
    bound = PortBinding(container_port=80, proto="tcp", host_ip="0.0.0.0", host_port=8080)
    summary = ContainerSummary(record=record, state=running, bindings=(bound,), exposed=((80, "tcp"), (443, "tcp")))
    assert container_row(summary) == {
        "id": "a" * 64, "name": "web", "image": "nginx", "state": "running", "status": "Up 3 minutes",
        "started_at": started.isoformat(), "finished_at": None, "exit_code": 0,
        "created": "2026-11-28T12:00:00+00:00",
        "ports": [{"container_port": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host_port": 8080},
                  {"container_port": 443, "protocol": "tcp", "host_ip": "", "host_port": None}],
    }  # fmt: skip
    exited = ContainerState(status=ContainerStatus.EXITED, exit_code=137, started_at=now - datetime.timedelta(hours=1),
                            finished_at=now - datetime.timedelta(seconds=5))
    row = container_row(ContainerSummary(record=record, state=exited))
    assert (row["state"], row["status"], row["ports"]) == ("exited", "Exited (137) 5 seconds ago", [])
    assert (row["finished_at"], row["exit_code"]) == (exited.finished_at.isoformat(), 137)  # type: ignore[union-attr]
    # a record of another engine passes through as its fields
    assert container_row(Inner("x", True)) == {"name": "x", "ok": True}
