"""Unpacking the kit's real images into every snapshotter, streamed from the registry, root and rootless."""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockernb.content.local import LocalContentStore
from dockernb.errors import DigestMismatch, InvalidLayer
from dockernb.layers.unpack import chain_id, unpack_layer
from dockernb.linux.mount import IdMap, rootless_idmap
from dockernb.snapshots.base import Snapshotter
from dockernb.snapshots.select import DRIVERS
from dockernb.spec.digest import Digest
from dockernb.store.layout import Layout
from dockernb.testing.suites.snapshotter import remove_all, with_mounted
from tests.integration.layers.kitblobs import VerifyingStream, image_layers
from tests.unit.layers.tarmaker import d, f, make, sym

pytestmark = [pytest.mark.kit, pytest.mark.rootless]

KIT = Path(os.environ.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit"))


def idmap() -> IdMap | None:
    return rootless_idmap() if os.geteuid() != 0 else None


@pytest.fixture
def layout(root_dir: Path) -> Layout:
    lay = Layout(root_dir)
    lay.ensure()
    return lay


@pytest.fixture(params=sorted(DRIVERS))
def snapshotter(request: pytest.FixtureRequest, layout: Layout) -> Iterator[Snapshotter]:
    sn = DRIVERS[request.param](layout, idmap=idmap())
    yield sn
    remove_all(sn)
    home = layout.snapshots(request.param)
    assert [p.name for p in home.iterdir() if p.name != "metadata.json"] == []


def unpack_image(sn: Snapshotter, repo: str, tag: str) -> str:
    parent = ""
    for layer in image_layers(repo, tag):
        res = unpack_layer(sn, lambda layer=layer: VerifyingStream(layer), parent=parent, diff_id=layer.diff_id,
                           media_type=layer.media_type, idmap=idmap())
        parent = res.chain_id
    return parent


def tar_listing(path: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    with tarfile.open(path) as tf:
        for m in tf:
            name = os.path.normpath(m.name).lstrip("./") or "."
            if name == ".":
                continue
            kind = "l" if m.issym() else "d" if m.isdir() else "f" if m.isreg() or m.islnk() else "o"
            out[name] = [kind, m.mode & 0o7777, m.uid, m.gid, m.linkname if m.issym() else "",
                         m.size if kind == "f" and not m.islnk() else None, int(m.mtime)]
    return out


def fs_listing(mnt: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for dirpath, dirnames, filenames in os.walk(mnt):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else \
                "f" if stat.S_ISREG(st.st_mode) else "o"
            out[os.path.relpath(p, mnt)] = [kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                           os.readlink(p) if kind == "l" else "", st.st_size if kind == "f" else None,
                                           int(st.st_mtime)]
    return out


def compare(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> None:
    for info in expected.values():
        if info[0] == "f" and info[5] is None:
            info[5] = "hardlink"  # a hardlink entry carries no size: compare everything else
    diffs = []
    for name in sorted(set(expected) | set(got)):
        e, g = expected.get(name), got.get(name)
        if e is not None and g is not None and e[5] == "hardlink":
            g = [*g[:5], "hardlink", g[6]]
        if e != g:
            diffs.append((name, e, g))
    assert diffs == [], f"{len(diffs)} differences, first: {diffs[:5]}"


def rootfs_tar(name: str) -> Path:
    pattern = re.compile(rf"{name}-[0-9a-f]{{16}}\.tar")  # not busybox-arm64-...
    found = sorted(p for p in (KIT / "rootfs").glob(f"{name}-*.tar") if pattern.fullmatch(p.name))
    assert found, f"the kit has no {name} rootfs tarball (make kit)"
    return found[-1]


@pytest.mark.parametrize(("repo", "tag", "rootfs"), [("library/busybox", "zstd", "busybox"),
                                                       ("library/hello-world", "latest", "hello")])
def test_small_images_match_the_kit_rootfs(snapshotter: Snapshotter, repo: str, tag: str, rootfs: str) -> None:
    top = unpack_image(snapshotter, repo, tag)
    got = with_mounted(snapshotter.view("check", top), idmap(), fs_listing)
    compare(tar_listing(rootfs_tar(rootfs)), got)
    snapshotter.remove("check")


def test_two_layer_image_on_overlay_matches_the_kit_rootfs(layout: Layout) -> None:
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    try:
        top = unpack_image(sn, "library/nginx", "latest")
        got = with_mounted(sn.prepare("ctr", top), idmap(), fs_listing)
        compare(tar_listing(rootfs_tar("nginx")), got)
        # the debian base is shared with python:3.11 (one snapshot per chain)
        layers = image_layers("library/python", "3.11")
        res = unpack_layer(sn, lambda: pytest.fail("the shared base layer was read again"),
                           diff_id=layers[0].diff_id)
        assert not res.applied and res.chain_id == chain_id("", layers[0].diff_id)
    finally:
        remove_all(sn)


def test_one_read_feeds_the_content_store_and_the_snapshot(layout: Layout) -> None:
    store = LocalContentStore(layout)
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    layer = image_layers("library/busybox", "latest")[0]
    try:
        with store.writer(f"layer-{layer.digest}", expected=layer.digest, size=layer.size) as w:
            stream = VerifyingStream(layer, tee=w)
            res = unpack_layer(sn, stream, diff_id=layer.diff_id, media_type=layer.media_type, idmap=idmap())
            w.commit()
        assert res.applied and res.diff_id == layer.diff_id
        assert store.info(layer.digest).size == layer.size
        # again, from the content store: already there, nothing opened
        opened = []
        again = unpack_layer(sn, lambda: opened.append(1) or store.open_reader(layer.digest), diff_id=layer.diff_id)
        assert not again.applied and opened == []
        # without a diff_id, from the store: learns it by unpacking, then finds the chain there
        sn.remove(res.chain_id)
        third = unpack_layer(sn, lambda: store.open_reader(layer.digest), idmap=idmap())
        assert third.applied and third.chain_id == res.chain_id
    finally:
        remove_all(sn)


def test_bad_digests_leave_nothing(layout: Layout) -> None:
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    layer = image_layers("library/busybox", "latest")[0]
    wrong = Digest.of(b"not this layer")
    with pytest.raises(DigestMismatch):  # the compressed digest fails at the end of the stream
        unpack_layer(sn, VerifyingStream(layer, expected=wrong), diff_id=layer.diff_id, idmap=idmap())
    with pytest.raises(DigestMismatch, match="unexpected commit digest"):  # the uncompressed one
        unpack_layer(sn, VerifyingStream(layer), diff_id=wrong, idmap=idmap())
    assert list(sn.walk()) == []
    assert [p.name for p in layout.snapshots("overlay").iterdir() if p.name != "metadata.json"] == []


LOWER = make(d("etc"), f("etc/a", b"a"), f("etc/b", b"b"), d("opq"), f("opq/old", b"o"), d("usr"), d("usr/lib"),
             f("usr/lib/x", b"x"), sym("lib", "usr/lib"))
UPPER = make(f("etc/.wh.a", b""), d("opq"), f("opq/.wh..wh..opq", b""), f("opq/new", b"n"), f("lib/y", b"y"),
             f("etc/c", b"c"))


def test_whiteouts_through_a_real_mount_match_the_copy_driver(layout: Layout) -> None:
    results = {}
    for driver in ("overlay", "native"):
        sn = DRIVERS[driver](layout, idmap=idmap())
        try:
            r1 = unpack_layer(sn, _Bytes(LOWER), idmap=idmap())
            r2 = unpack_layer(sn, _Bytes(UPPER), parent=r1.chain_id, idmap=idmap())
            results[driver] = with_mounted(sn.view("v", r2.chain_id), idmap(), fs_listing)
        finally:
            remove_all(sn)
    names = sorted(results["overlay"])
    assert names == ["etc", "etc/b", "etc/c", "lib", "opq", "opq/new", "usr", "usr/lib", "usr/lib/x", "usr/lib/y"]
    assert results["overlay"] == results["native"]


def test_a_symlink_in_a_lower_snapshot_cannot_lead_out(layout: Layout, tmp_path: Path) -> None:
    outside = Path(layout.root) / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    try:
        r1 = unpack_layer(sn, _Bytes(make(sym("evil", str(outside)))), idmap=idmap())
        r2 = unpack_layer(sn, _Bytes(make(f("evil/secret", b"pwned"), f("evil/new", b"n"))), parent=r1.chain_id,
                          idmap=idmap())
        got = with_mounted(sn.view("v", r2.chain_id), idmap(), fs_listing)
        assert got[f"{str(outside).lstrip('/')}/new"][0] == "f"
    finally:
        remove_all(sn)
    assert os.listdir(outside) == ["secret"] and (outside / "secret").read_text() == "keep"


def test_a_hostile_layer_leaves_nothing(layout: Layout) -> None:
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    with pytest.raises(InvalidLayer, match="outside of the root"):
        unpack_layer(sn, _Bytes(make(f("ok"), f("../../escape"))), idmap=idmap())
    assert list(sn.walk()) == []


def test_owners_modes_and_setuid_survive(layout: Layout) -> None:
    """Ownership is applied (through the user namespace when rootless) and chown keeps setuid bits."""
    layer = make(d("srv", uid=1234, gid=2345, mode=0o750), f("srv/tool", b"#!", uid=1234, gid=2345, mode=0o4755),
                 sym("srv/link", "tool"))
    sn = DRIVERS["overlay"](layout, idmap=idmap())
    try:
        res = unpack_layer(sn, _Bytes(layer), idmap=idmap())
        got = with_mounted(sn.view("v", res.chain_id), idmap(), fs_listing)
        assert got["srv"][:4] == ["d", 0o750, 1234, 2345]
        assert got["srv/tool"][:4] == ["f", 0o4755, 1234, 2345]
        assert got["srv/link"][0] == "l"
        host = Path(layout.snapshots("overlay")) / "1" / "fs" / "srv"  # srv/ itself is 0750: not for us
        if idmap() is not None:  # on the host: the subordinate ids
            m = idmap()
            assert m is not None
            st = os.lstat(host)
            assert (st.st_uid, st.st_gid) == (m.to_host_uid(1234), m.to_host_gid(2345))
    finally:
        remove_all(sn)


def test_a_killed_unpack_is_swept_by_the_next(layout: Layout) -> None:
    """An extraction whose process died (kill -9) leaves an active snapshot; the next unpack removes it."""
    from dockernb.layers.unpack import UNPACKING_LABEL

    sn = DRIVERS["overlay"](layout, idmap=idmap())
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    try:
        sn.prepare("extract-deadbeef sha256:x", "", labels={UNPACKING_LABEL: str(dead)})
        sn.prepare("extract-alive sha256:y", "", labels={UNPACKING_LABEL: str(os.getpid())})
        unpack_layer(sn, _Bytes(make(f("a"))), idmap=idmap())
        names = {i.name for i in sn.walk()}
        assert "extract-deadbeef sha256:x" not in names
        assert "extract-alive sha256:y" in names
    finally:
        remove_all(sn)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        n = len(self._data) - self._pos if n < 0 else n
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out
