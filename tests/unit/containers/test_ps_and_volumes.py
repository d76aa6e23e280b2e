"""ps's filters and order over a real container store (no processes), and the volume store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from dockernb.engine.containers.query import list_containers
from dockernb.errors import InvalidArgument, InvalidFilter, NoSuchVolume
from dockernb.spec.container import ContainerConfig, ContainerRecord, HostConfig, MountSpec
from dockernb.spec.status import ContainerState, ContainerStatus
from dockernb.store.containers import ContainerStore
from dockernb.store.layout import Layout
from dockernb.volumes.store import VolumeStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def svc(tmp_path: Path) -> SimpleNamespace:
    store = ContainerStore(Layout(tmp_path))

    def add(name: str, minutes: int, status: ContainerStatus, code: int = 0, labels: dict[str, str] | None = None,
            image_id: str = "sha256:aa", mounts: tuple[MountSpec, ...] = ()) -> str:
        rec = ContainerRecord(id=store.new_id(), name=name, created=T0 + timedelta(minutes=minutes),
                              config=ContainerConfig(image="busybox", labels=labels or {}),
                              host_config=HostConfig(mounts=mounts), image_id=image_id, path="true")
        state = ContainerState(status=status, exit_code=code, started_at=T0, finished_at=T0)
        return store.create(rec, state).id

    images = SimpleNamespace(get=lambda ref: SimpleNamespace(id="sha256:aa" if ref == "busybox" else "sha256:bb"))
    networks = SimpleNamespace(ports=lambda cid: [])
    s = SimpleNamespace(store=store, record_cache={}, images=images, networks=networks, add=add)
    s.add("created", 1, ContainerStatus.CREATED)
    s.add("exited3", 2, ContainerStatus.EXITED, 3, labels={"team": "blue"})
    s.add("exited0", 3, ContainerStatus.EXITED, 0, image_id="sha256:bb",
          mounts=(MountSpec(type="volume", source="data", target="/d"),))
    return s


def names(rows) -> list[str]:  # noqa: ANN001
    return [r.record.name for r in rows]


def test_order_and_filters(svc: SimpleNamespace) -> None:
    assert names(list_containers(svc, all=True)) == ["exited0", "exited3", "created"]
    assert names(list_containers(svc)) == []  # none runs
    assert names(list_containers(svc, limit=2)) == ["exited0", "exited3"]
    assert names(list_containers(svc, latest=True)) == ["exited0"]
    assert names(list_containers(svc, filters={"status": ["exited"]})) == ["exited0", "exited3"]
    assert names(list_containers(svc, all=True, filters={"exited": ["3"]})) == ["exited3"]
    assert names(list_containers(svc, all=True, filters={"name": ["exited"]})) == ["exited0", "exited3"]
    assert names(list_containers(svc, all=True, filters={"label": ["team=blue"]})) == ["exited3"]
    assert names(list_containers(svc, all=True, filters={"label": ["team=red"]})) == []
    assert names(list_containers(svc, all=True, filters={"ancestor": ["busybox"]})) == ["exited3", "created"]
    assert names(list_containers(svc, all=True, filters={"before": ["exited0"]})) == ["exited3", "created"]
    assert names(list_containers(svc, all=True, filters={"since": ["created"]})) == ["exited0", "exited3"]
    assert names(list_containers(svc, all=True, filters={"volume": ["data"]})) == ["exited0"]
    with pytest.raises(InvalidFilter, match="^Invalid filter 'bogus'$"):
        list_containers(svc, filters={"bogus": ["1"]})
    with pytest.raises(InvalidArgument, match="Invalid filter 'status=nope'"):
        list_containers(svc, filters={"status": ["nope"]})


def test_records_are_decoded_once(svc: SimpleNamespace) -> None:
    list_containers(svc, all=True)
    first = dict(svc.record_cache)
    list_containers(svc, all=True)
    assert all(svc.record_cache[k][1] is v[1] for k, v in first.items())


def test_volume_store(tmp_path: Path) -> None:
    vs = VolumeStore(Layout(tmp_path))
    v = vs.create("data", labels={"a": "1"})
    assert v.mountpoint == tmp_path / "volumes" / "data" / "_data" and v.mountpoint.is_dir()
    (v.mountpoint / "f").write_text("x")
    assert vs.create("data").created == v.created  # idempotent, docker's rule
    anon = vs.create(anonymous=True)
    assert len(anon.name) == 64 and vs.get(anon.name).anonymous
    assert [x.name for x in vs.list()] == sorted(["data", anon.name])
    with pytest.raises(InvalidArgument, match='"./rel" includes invalid characters for a local volume name'):
        vs.create("./rel")
    vs.remove("data")
    with pytest.raises(NoSuchVolume):
        vs.get("data")
    assert not (tmp_path / "volumes" / "data").exists()
