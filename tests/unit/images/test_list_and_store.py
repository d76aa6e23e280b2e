"""Listing with docker's filters, name lookup rules, and the read-only extra stores."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockernb.engine.image_query import go_path_match, parse_until
from dockernb.errors import InvalidArgument, InvalidFilter, InvalidReference, NoSuchImage
from tests.unit.images.helpers import add_record, service

pytestmark = pytest.mark.rootless


def _t(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def test_filters_like_docker(tmp_path: Path) -> None:
    svc = service(tmp_path)
    old = add_record(svc, tags=["docker.io/library/busybox:latest", "127.0.0.1:5000/busybox:latest"], created=_t(2019))
    mid = add_record(svc, tags=["docker.io/team/app:1"], labels={"tier": "web"}, created=_t(2020))
    new = add_record(svc, created=_t(2021), seed="dangling")
    assert [i.id for i in svc.list()] == [new.id, mid.id, old.id]  # newest first
    assert [i.id for i in svc.list(filters={"dangling": ["true"]})] == [new.id]
    assert [i.id for i in svc.list(filters={"dangling": ["false"]})] == [mid.id, old.id]
    assert [i.id for i in svc.list(filters={"label": ["tier"]})] == [mid.id]
    assert [i.id for i in svc.list(filters={"label": ["tier=db"]})] == []
    assert [i.id for i in svc.list(filters={"before": ["team/app:1"]})] == [old.id]
    assert [i.id for i in svc.list(filters={"since": ["busybox"]})] == [new.id, mid.id]
    found = svc.list(filters={"reference": ["busybox"]})
    assert [(i.id, i.tags) for i in found] == [(old.id, ("busybox:latest",))]  # only the matching names
    assert [i.tags for i in svc.list(filters={"reference": ["*/busybox:*"]})] == [("127.0.0.1:5000/busybox:latest",)]
    assert [i.tags for i in svc.list(filters={"reference": ["team/*"]})] == [("team/app:1",)]
    with pytest.raises(InvalidFilter, match="Invalid filter 'nope'"):
        svc.list(filters={"nope": ["x"]})
    with pytest.raises(InvalidArgument, match=r"Invalid filter 'dangling=\[maybe\]'"):
        svc.list(filters={"dangling": ["maybe"]})
    with pytest.raises(NoSuchImage, match="No such image: nosuch:latest"):
        svc.list(filters={"before": ["nosuch"]})


def test_go_path_match() -> None:
    assert go_path_match("busy*", "busybox") and not go_path_match("*", "a/b")
    assert go_path_match("a/?", "a/b") and go_path_match("[a-c]x", "bx") and not go_path_match("[^a-c]x", "bx")
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        go_path_match("[abc", "a")


def test_parse_until() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_until("1h30m", now) == datetime(2024, 1, 2, 1, 34, 5, tzinfo=UTC)
    assert parse_until("0", now) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_until("2020-05-01T00:00:00Z", now) == datetime(2020, 5, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgument):
        parse_until("yesterday", now)


def test_lookup_by_id_prefix_name_and_digest(tmp_path: Path) -> None:
    svc = service(tmp_path)
    a = add_record(svc, tags=["docker.io/library/busybox:1"], digests=["docker.io/library/busybox@sha256:" + "a" * 64])
    view = svc.store.view()
    assert view.lookup(a.id).id == a.id and view.lookup(a.id[7:]).id == a.id and view.lookup(a.short_id).id == a.id
    assert view.lookup("busybox:1").id == a.id and view.lookup("busybox@sha256:" + "a" * 64).id == a.id
    with pytest.raises(NoSuchImage, match="No such image: busybox:latest"):
        view.lookup("busybox")
    with pytest.raises(NoSuchImage, match="No such image: sha256:" + "0" * 64):
        view.lookup("0" * 64)
    with pytest.raises(InvalidReference, match="invalid reference format"):
        view.lookup("Bad::Ref")


def test_extra_stores_are_visible_and_never_written(tmp_path: Path) -> None:
    shared = service(tmp_path / "shared")
    rec = add_record(shared, tags=["docker.io/library/busybox:latest", "docker.io/library/bb:1"])
    before = (tmp_path / "shared" / "root" / "images.json").read_bytes()
    svc = service(tmp_path / "mine", stores=(tmp_path / "shared" / "root",))
    image = svc.get("busybox")
    assert image.id == rec.id and image.read_only and image.tags == ("bb:1", "busybox:latest")
    svc.tag("busybox", "mine:1")  # copies the record here, the shared store is untouched
    assert svc.get("mine:1").tags == ("bb:1", "busybox:latest", "mine:1")
    assert [i.untagged for i in svc.remove("bb:1")] == ["bb:1"]  # masked here
    assert svc.get(rec.id).tags == ("busybox:latest", "mine:1")
    svc.remove(rec.id, force=True)
    with pytest.raises(NoSuchImage):
        svc.get("busybox")
    assert svc.list() == []
    assert (tmp_path / "shared" / "root" / "images.json").read_bytes() == before
    assert shared.get("bb:1").id == rec.id


def _tagger(root: str, n: int) -> None:
    from tests.unit.images.helpers import service as make

    svc = make(Path(root))
    for i in range(n):
        svc.tag("base", f"many:{i}-{multiprocessing.current_process().pid}")


def test_several_processes_share_a_root(tmp_path: Path) -> None:
    svc = service(tmp_path)
    add_record(svc, tags=["docker.io/library/base:latest"])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_tagger, args=(str(tmp_path), 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(svc.get("base").tags) == 1 + 3 * 15  # no lost update
