"""docker's rmi and image prune rules (daemon/images/image_delete.go), on hand-made records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockernb.engine.image_types import DeleteItem, ImageUse
from dockernb.errors import ImageInUse, NoSuchImage
from tests.unit.images.helpers import Users, add_record, service

pytestmark = pytest.mark.rootless

BB = "docker.io/library/busybox:latest"
LOCAL = "127.0.0.1:5000/busybox:latest"
LOCAL_DIGEST = "127.0.0.1:5000/busybox@sha256:" + "5" * 64


def _text(items: list[DeleteItem]) -> list[str]:
    return [f"Untagged: {i.untagged}" if i.untagged else f"Deleted: {i.deleted}" for i in items]


@pytest.fixture
def users() -> Users:
    return Users()


def test_untag_one_of_several_names(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    rec = add_record(svc, tags=[BB, LOCAL, "docker.io/library/golden-tag:1"], digests=[LOCAL_DIGEST])
    assert _text(svc.remove("golden-tag:1")) == ["Untagged: golden-tag:1"]
    assert _text(svc.remove("busybox")) == ["Untagged: busybox:latest"]
    # the last tag of a repository takes the repository's digests along, then the image goes
    assert _text(svc.remove(LOCAL)) == [
        "Untagged: 127.0.0.1:5000/busybox:latest",
        f"Untagged: {LOCAL_DIGEST}",
        f"Deleted: {rec.id}",
    ]
    with pytest.raises(NoSuchImage, match="No such image: busybox:latest"):
        svc.remove("busybox")
    with pytest.raises(NoSuchImage, match=f"No such image: {rec.short_id}:latest"):
        svc.remove(rec.short_id)


def test_by_id_refuses_several_repositories_unless_forced(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    rec = add_record(svc, tags=[BB, LOCAL])
    with pytest.raises(ImageInUse) as info:
        svc.remove(rec.short_id)
    assert str(info.value) == (f"conflict: unable to delete {rec.short_id} (must be forced) - image is referenced "
                               "in multiple repositories")  # fmt: skip
    assert _text(svc.remove(rec.short_id, force=True)) == [
        "Untagged: 127.0.0.1:5000/busybox:latest", "Untagged: busybox:latest", f"Deleted: {rec.id}",
    ]  # fmt: skip


def test_by_id_with_one_repository_removes_its_names(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    rec = add_record(svc, tags=[LOCAL], digests=[LOCAL_DIGEST])
    assert _text(svc.remove(rec.id.removeprefix("sha256:"))) == [  # docker's lexical order of names
        "Untagged: 127.0.0.1:5000/busybox:latest", f"Untagged: {LOCAL_DIGEST}", f"Deleted: {rec.id}",
    ]  # fmt: skip


def test_containers_block_removal_as_docker_says(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    rec = add_record(svc, tags=["docker.io/library/golden-inuse:1"])
    cid = "c0ffee" + "0" * 58
    users.uses = [ImageUse(cid, rec.id, running=True)]
    with pytest.raises(ImageInUse) as info:
        svc.remove("golden-inuse:1")
    assert str(info.value) == ('conflict: unable to remove repository reference "golden-inuse:1" (must force) - '
                               f"container {cid[:12]} is using its referenced image {rec.short_id}")  # fmt: skip
    for force in (False, True):
        with pytest.raises(ImageInUse) as info:
            svc.remove(rec.short_id, force=force)
        assert str(info.value) == (f"conflict: unable to delete {rec.short_id} (cannot be forced) - image is being "
                                   f"used by running container {cid[:12]}")  # fmt: skip
    users.uses = [ImageUse(cid, rec.id, running=False)]
    with pytest.raises(ImageInUse) as info:
        svc.remove(rec.short_id)
    assert str(info.value) == (f"conflict: unable to delete {rec.short_id} (must be forced) - image is being used "
                               f"by stopped container {cid[:12]}")  # fmt: skip
    with pytest.raises(ImageInUse, match="must force"):
        svc.remove("golden-inuse:1")
    assert _text(svc.remove("golden-inuse:1", force=True)) == ["Untagged: golden-inuse:1", f"Deleted: {rec.id}"]
    assert svc.list() == []


def test_parents_go_with_their_last_child_and_children_protect_parents(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    base = add_record(svc, tags=[BB], seed="base")
    mid = add_record(svc, parent=base.id, seed="mid", layers=2)
    top = add_record(svc, tags=["docker.io/library/app:1"], parent=mid.id, seed="top", layers=3)
    with pytest.raises(ImageInUse, match=r"\(cannot be forced\) - image has dependent child images"):
        svc.remove(mid.short_id, force=True)
    assert [i.id for i in svc.list()] == [top.id, base.id]  # the untagged parent is an intermediate image
    assert {i.id for i in svc.list(all=True)} == {top.id, mid.id, base.id}
    # deleting the child prunes the dangling parent; the tagged grandparent stays
    assert _text(svc.remove("app:1")) == ["Untagged: app:1", f"Deleted: {top.id}", f"Deleted: {mid.id}"]
    assert [i.id for i in svc.list(all=True)] == [base.id]


def test_no_prune_keeps_the_parent(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    base = add_record(svc, seed="base")
    add_record(svc, tags=["docker.io/library/app:1"], parent=base.id, seed="top", layers=2)
    svc.remove("app:1", prune=False)
    assert [i.id for i in svc.list(all=True)] == [base.id]


def test_prune_dangling_then_all_but_used(tmp_path: Path, users: Users) -> None:
    svc = service(tmp_path, users=users)
    dangling = add_record(svc, seed="dangling")
    only_digest = add_record(svc, digests=[LOCAL_DIGEST], seed="digest")
    tagged = add_record(svc, tags=[BB], seed="tagged")
    used = add_record(svc, tags=["docker.io/library/used:1"], seed="used")
    labelled = add_record(svc, tags=["docker.io/library/keep:1"], labels={"keep": "yes"}, seed="keep")
    users.uses = [ImageUse("f" * 64, used.id, running=False)]
    report = svc.prune()
    assert {i.deleted for i in report.deleted if i.deleted} == {dangling.id, only_digest.id}
    assert report.space_reclaimed == 0  # their layers were never unpacked here
    report = svc.prune(all=True, filters={"label!": ["keep=yes"]})
    assert {i.deleted for i in report.deleted if i.deleted} == {tagged.id}
    assert {i.id for i in svc.list()} == {used.id, labelled.id}
    report = svc.prune(all=True, filters={"until": ["2019-01-01T00:00:00Z"]})
    assert report.deleted == ()


def test_tag_points_names_and_records_the_time(tmp_path: Path) -> None:
    svc = service(tmp_path)
    rec = add_record(svc, tags=[BB], created=datetime(2021, 5, 1, tzinfo=UTC))
    svc.tag("busybox", "golden-tag:1")
    image = svc.get("golden-tag:1")
    assert image.id == rec.id and image.tags == ("busybox:latest", "golden-tag:1")
    assert image.last_tag_time is not None
    with pytest.raises(NoSuchImage, match="No such image: nosuch:latest"):
        svc.tag("nosuch", "x")
    with pytest.raises(Exception, match='Error parsing reference: "Bad::Ref" is not a valid repository/tag'):
        svc.tag("busybox", "Bad::Ref")
