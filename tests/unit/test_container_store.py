"""Container records and state on disk: create, resolve, transition, rename, delete."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockernb.errors import (
    AmbiguousPrefix,
    ContainerStateConflict,
    InvalidArgument,
    InvalidContainerName,
    NameInUse,
    NoSuchContainer,
)
from dockernb.spec.container import ContainerConfig, ContainerRecord, HostConfig, LogConfig, RestartPolicy
from dockernb.spec.status import ContainerState, ContainerStatus, Event
from dockernb.store.containers import ContainerStore
from dockernb.store.layout import Layout

pytestmark = pytest.mark.rootless


def _record(store: ContainerStore, name: str = "", **config: object) -> ContainerRecord:
    return ContainerRecord(
        id=store.new_id(),
        name=name,
        created=datetime.now(UTC),
        config=ContainerConfig(image="busybox", cmd=("sleep", "1000"), **config),  # type: ignore[arg-type]
        host_config=HostConfig(
            restart_policy=RestartPolicy.parse("on-failure:3"),
            log_config=LogConfig(config={"max-size": "1m"}),
        ),
        path="sleep",
        args=("1000",),
    )


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    return ContainerStore(Layout(tmp_path / "root"))


def test_create_round_trips_the_record(store: ContainerStore) -> None:
    rec = store.create(_record(store, "web", env=("A=1",), labels={"k": "v"}))
    again = store.record(rec.id)
    assert again == rec
    assert again.host_config.restart_policy.maximum_retry_count == 3
    assert store.state(rec.id).status is ContainerStatus.CREATED
    assert store.resolve("web") == rec.id
    assert store.resolve("/web") == rec.id
    assert store.resolve(rec.id) == rec.id
    assert store.resolve(rec.id[:5]) == rec.id


def test_generated_name(store: ContainerStore) -> None:
    rec = store.create(_record(store))
    assert rec.name and "_" in rec.name
    assert store.resolve(rec.name) == rec.id


def test_name_in_use(store: ContainerStore) -> None:
    first = store.create(_record(store, "xx"))
    with pytest.raises(NameInUse) as err:
        store.create(_record(store, "xx"))
    assert first.id in str(err.value) and '"/xx"' in str(err.value)
    assert len(store.ids()) == 1  # nothing half-made
    assert os.listdir(store.layout.tmp) == []


def test_invalid_name(store: ContainerStore) -> None:
    with pytest.raises(InvalidContainerName):
        store.create(_record(store, "x"))
    with pytest.raises(InvalidContainerName):
        store.create(_record(store, "a" * 300))
    assert store.ids() == []


def test_resolution_errors(store: ContainerStore) -> None:
    import dataclasses

    with pytest.raises(NoSuchContainer, match="No such container: nosuch"):
        store.resolve("nosuch")
    with pytest.raises(NoSuchContainer):
        store.resolve("")
    a = store.create(dataclasses.replace(_record(store), id="abc1" + "0" * 60))
    store.create(dataclasses.replace(_record(store), id="abc2" + "0" * 60))
    with pytest.raises(AmbiguousPrefix, match="Multiple IDs found with provided prefix: abc"):
        store.resolve("abc")
    assert store.resolve("abc1") == a.id


def test_names_take_precedence_over_prefixes(store: ContainerStore) -> None:
    a = store.create(_record(store))
    b = store.create(_record(store, a.id[:6]))
    assert store.resolve(a.id[:6]) == b.id


def test_transition_follows_table(store: ContainerStore) -> None:
    rec = store.create(_record(store, "t1"))

    def started(s: ContainerState) -> None:
        s.pid, s.generation = 4242, s.generation + 1

    state = store.transition(rec.id, Event.START, started)
    assert state.status is ContainerStatus.RUNNING and store.state(rec.id).pid == 4242
    store.transition(rec.id, Event.PAUSE)
    with pytest.raises(ContainerStateConflict, match="is already paused"):
        store.transition(rec.id, Event.PAUSE, verb="pause")
    assert store.state(rec.id).status is ContainerStatus.PAUSED


def test_rename(store: ContainerStore) -> None:
    a = store.create(_record(store, "one"))
    store.create(_record(store, "two"))
    with pytest.raises(NameInUse):
        store.rename(a.id, "two")
    with pytest.raises(InvalidArgument, match="same name as its current name"):
        store.rename(a.id, "one")
    store.rename(a.id, "three")
    assert store.record(a.id).name == "three"
    assert store.resolve("three") == a.id
    with pytest.raises(NoSuchContainer):
        store.resolve("one")
    store.create(_record(store, "one"))  # the old name is free again


def test_delete_frees_name_and_files(store: ContainerStore) -> None:
    a = store.create(_record(store, "gone"))
    store.delete(a.id)
    store.delete(a.id)  # idempotent
    with pytest.raises(NoSuchContainer):
        store.resolve("gone")
    with pytest.raises(NoSuchContainer):
        store.transition(a.id, Event.START)
    assert not store.paths(a.id).dir.exists()
    assert os.listdir(store.layout.tmp) == []
    store.create(_record(store, "gone"))


def test_stale_name_reservation_is_reclaimed(store: ContainerStore) -> None:
    a = store.create(_record(store, "stale"))
    # a crash after the directory went away but before the name did
    os.rename(store.paths(a.id).dir, store.layout.tmp / "x")
    b = store.create(_record(store, "stale"))
    assert store.resolve("stale") == b.id


def test_unreadable_exit_record_is_none(store: ContainerStore) -> None:
    a = store.create(_record(store, "ex"))
    assert store.exit_record(a.id) is None
    store.paths(a.id).exit.write_text("{not json")
    assert store.exit_record(a.id) is None
    store.paths(a.id).exit.write_text(
        '{"generation": 1, "exit_code": 137, "signal": 9, "pid": 5, "finished_at": "2026-01-01T00:00:00+00:00"}'
    )
    rec = store.exit_record(a.id)
    assert rec is not None and rec.exit_code == 137 and rec.finished_at.tzinfo is not None
