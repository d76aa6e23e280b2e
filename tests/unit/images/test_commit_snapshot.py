"""A writable snapshot's changes as a layer (the path builds and `commit` share), on plain directories."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockernb.build.image import History, ImageDoc
from dockernb.build.run_step import MountStubs, top_level
from dockernb.config import Config
from dockernb.engine.images import ImageService
from dockernb.errors import NoSuchSnapshot
from dockernb.spec.digest import Digest
from tests.unit.images.helpers import layer_tar, service

pytestmark = pytest.mark.rootless


def _members(svc: ImageService, digest: str) -> dict[str, tarfile.TarInfo]:
    with svc.content.open_reader(Digest.parse(digest)) as f, tarfile.open(fileobj=io.BytesIO(f.read())) as tar:
        return {m.name: m for m in tar.getmembers()}


def _changes(svc: ImageService, key: str, chain: str) -> Path:
    mounts = svc.snapshotter.prepare(key, chain)
    return Path(mounts[0].source)  # native: a bind of the copy


def test_native_changes_become_a_layer_and_an_image(tmp_path: Path) -> None:
    svc = service(tmp_path)
    base, chain = svc.add_layer(io.BytesIO(layer_tar("base", compress="none")))
    tree = _changes(svc, "step", chain)
    (tree / "new.txt").write_text("new\n")
    (tree / "base" / "data").write_bytes(b"changed")
    made = svc.layer_from_snapshot("step", parent_chain=chain, consume=True)
    assert made is not None
    layer, top = made
    assert layer.blob is not None and layer.blob.digest == layer.diff_id  # an uncompressed tar: its digest is its diff
    assert layer.size == len("new\n") + len("changed")  # docker's layer size: the file bytes
    assert set(_members(svc, layer.diff_id)) == {"base/data", "new.txt"}  # base/ itself did not change
    with pytest.raises(NoSuchSnapshot):
        svc.snapshotter.stat("step")  # consumed: the step's snapshot *is* the layer now
    svc.snapshotter.stat(top)
    created = "2024-01-02T03:04:05Z"
    doc = ImageDoc(created=created, diff_ids=[base.diff_id, layer.diff_id],
                   history=[History(created=created, created_by="base"), History(created=created, created_by="RUN")])
    image_id = svc.commit(doc.to_bytes(), [base, layer], tags=["made:1"])
    assert svc.get("made:1").id == image_id and svc.get("made:1").top_chain == top


def test_nothing_changed_is_no_layer_and_commit_keeps_the_snapshot(tmp_path: Path) -> None:
    svc = service(tmp_path)
    _, chain = svc.add_layer(io.BytesIO(layer_tar("base", compress="none")))
    _changes(svc, "idle", chain)
    assert svc.layer_from_snapshot("idle", parent_chain=chain, consume=True) is None
    with pytest.raises(NoSuchSnapshot):
        svc.snapshotter.stat("idle")
    tree = _changes(svc, "running", chain)  # a running container's snapshot: `docker commit` keeps it
    (tree / "x").write_text("x")
    made = svc.layer_from_snapshot("running", parent_chain=chain, consume=False)
    assert made is not None
    svc.snapshotter.stat("running")
    svc.snapshotter.stat(made[1])
    assert not svc.content.list_statuses()  # no ingest left behind


def test_overlay_uppers_diff_the_same_way_and_deterministically(tmp_path: Path) -> None:
    cfg = Config(root=tmp_path / "root", storage_driver="overlay")
    svc = ImageService(cfg)
    _, chain = svc.add_layer(io.BytesIO(layer_tar("base", compress="none")))
    digests = []
    for key in ("one", "two"):
        mounts = svc.snapshotter.prepare(key, chain)
        upper = Path(dict(o.split("=", 1) for o in mounts[0].options if "=" in o).get("upperdir", mounts[0].source))
        (upper / "app").mkdir()
        (upper / "app" / "f").write_text("same")
        for p in (upper / "app" / "f", upper / "app"):
            os.utime(p, (1_600_000_000, 1_600_000_000))
        seen: list[str] = []

        def tidy(changes: str, base: str, seen: list[str] = seen) -> None:
            seen.append(changes)

        made = svc.layer_from_snapshot(key, parent_chain=chain, consume=True, tidy=tidy)
        assert made is not None and seen == [str(upper)]
        digests.append(made[0].diff_id)
    assert digests[0] == digests[1]  # the same changes, the same bytes: the same diff_id


def test_mount_stubs_are_taken_out(tmp_path: Path) -> None:
    assert top_level(["/proc", "/dev", "/dev/pts", "/sys/fs/cgroup", "/sys", "/etc/hosts", "/etc/hosts"]) == [
        "/dev", "/etc/hosts", "/proc", "/sys"]
    upper = tmp_path / "upper"  # overlay: what is in the upper right after create, the runtime made
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "hosts").write_text("")
    (upper / "proc").mkdir()
    stubs = MountStubs.record(str(upper), "", ["/etc/hosts", "/etc/resolv.conf", "/proc", "/dev", "/dev/pts"])
    assert sorted(stubs.stubs) == ["etc/hosts", "proc"]
    (upper / "tmp").mkdir()  # what the command made stays
    stubs.tidy(str(upper), "")
    assert sorted(os.listdir(upper)) == ["tmp"]
    (upper / "etc").mkdir()
    (upper / "etc" / "hosts").write_text("")
    (upper / "etc" / "app.conf").write_text("x")  # a directory the command also wrote to stays
    MountStubs.record(str(upper), "", ["/etc/hosts"]).tidy(str(upper), "")
    assert os.listdir(upper / "etc") == ["app.conf"]
    base, tree = tmp_path / "base", tmp_path / "tree"  # a copying driver: compared with the parent's tree
    for d in (base, tree):
        (d / "etc").mkdir(parents=True)
        (d / "etc" / "hostname").write_text("image's own\n")
    os.utime(base / "etc", (1_000_000_000, 1_000_000_000))
    (tree / "etc" / "hosts").write_text("")
    stubs = MountStubs.record(str(tree), str(base), ["/etc/hosts", "/etc/hostname"])
    assert stubs.stubs == ["etc/hosts"]  # the image had a hostname: mounted over, not made
    stubs.tidy(str(tree), str(base))
    assert os.listdir(tree / "etc") == ["hostname"] and os.stat(tree / "etc").st_mtime == 1_000_000_000


def test_tidy_may_leave_paths_out_instead(tmp_path: Path) -> None:
    """A running container's mount points cannot be removed: ``tidy`` names them and the diff leaves them out,
    with what is below them, and an excluded path of the parent is no deletion either."""
    svc = service(tmp_path)
    _, chain = svc.add_layer(io.BytesIO(layer_tar("base", compress="none")))
    tree = _changes(svc, "running", chain)
    (tree / "mnt" / "vol").mkdir(parents=True)
    (tree / "mnt" / "vol" / "data").write_text("a volume's, not the container's")
    (tree / "made.txt").write_text("made")
    os.replace(tree / "base", tmp_path / "moved")  # the parent's base/ is hidden below a mount: not deleted

    def tidy(changes: str, base: str) -> list[str]:
        assert changes == str(tree) and base  # native: the parent's tree to compare with
        return ["mnt/vol", "base"]

    made = svc.layer_from_snapshot("running", parent_chain=chain, consume=False, tidy=tidy)
    assert made is not None
    assert set(_members(svc, made[0].diff_id)) == {"mnt", "made.txt"}
