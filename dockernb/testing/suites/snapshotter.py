"""The behaviour every Snapshotter must show (containerd's testsuite idea), one entry point.

``run_check(name, factory)`` runs one named check against a fresh snapshotter from ``factory``
(a context manager yielding ``(snapshotter, idmap)``); ``CHECKS`` lists the names, so a test
module parametrizes over them::

    @pytest.mark.parametrize("check", CHECKS)
    def test_overlay(check, root_dir): run_check(check, overlay_factory(root_dir))

Files are written and read *through the returned mounts*, in a forked child with its own mount
namespace (and user namespace when rootless), so the checks see what a container would see.
Every check removes what it created; ``factory`` verifies nothing is left.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from dockernb.errors import NoSuchSnapshot, SnapshotConflict, SnapshotExists
from dockernb.linux.mount import IdMap, mount_all, run_in_userns, unmount_all
from dockernb.snapshots.base import Kind, Snapshotter
from dockernb.spec.mount import Mount

__all__ = ["CHECKS", "Factory", "remove_all", "run_check", "with_mounted"]

Factory = Callable[[], AbstractContextManager[tuple[Snapshotter, IdMap | None]]]


def with_mounted(mounts: list[Mount], idmap: IdMap | None, fn: Callable[[str], Any]) -> Any:  # noqa: ANN401
    """Mount ``mounts`` in a private namespace, return ``fn(mountpoint)`` (JSON-shaped)."""

    def child() -> Any:  # noqa: ANN401
        mnt = tempfile.mkdtemp(prefix="dockernb-suite-mnt-")
        try:
            mount_all(mounts, mnt)
            try:
                return fn(mnt)
            finally:
                unmount_all(mnt)
        finally:
            os.rmdir(mnt)

    return run_in_userns(child, idmap, mount_ns=True)


def write(files: dict[str, str | None]) -> Callable[[str], None]:
    """Write (text) or delete (None) files under the mount point."""

    def fn(mnt: str) -> None:
        for name, text in files.items():
            path = os.path.join(mnt, name)
            if text is None:
                if os.path.isdir(path) and not os.path.islink(path):
                    import shutil

                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)

    return fn


def listing(mnt: str) -> dict[str, str]:
    """{relative path: content or "<dir>"} of the whole tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(mnt):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), mnt)] = "<dir>"
        for f in filenames:
            with open(os.path.join(dirpath, f)) as fh:
                out[os.path.relpath(os.path.join(dirpath, f), mnt)] = fh.read()
    return out


def remove_all(sn: Snapshotter) -> None:
    """Remove every snapshot, children first."""
    for info in reversed(list(sn.walk())):
        sn.remove(info.name)


def _expect(exc: type[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except exc:
        return
    raise AssertionError(f"expected {exc.__name__}")


# --- checks -----------------------------------------------------------------------------


def check_basic(sn: Snapshotter, idmap: IdMap | None) -> None:
    """prepare -> write -> commit -> prepare on it -> change -> commit -> view sees the result."""
    m = sn.prepare("a", "")
    with_mounted(m, idmap, write({"foo": "1", "dir/keep": "k", "dir/gone": "g"}))
    sn.commit("A", "a")
    m = sn.prepare("b", "A")
    assert with_mounted(m, idmap, listing) == {"foo": "1", "dir": "<dir>", "dir/keep": "k", "dir/gone": "g"}
    with_mounted(m, idmap, write({"foo": None, "bar": "2", "dir/gone": None}))
    sn.commit("B", "b")
    v = sn.view("v", "B")
    assert with_mounted(v, idmap, listing) == {"bar": "2", "dir": "<dir>", "dir/keep": "k"}
    # the lower snapshot is unchanged
    v2 = sn.view("v2", "A")
    assert with_mounted(v2, idmap, listing)["foo"] == "1"
    for key in ("v2", "v", "B", "A"):
        sn.remove(key)


def check_stat_and_kinds(sn: Snapshotter, idmap: IdMap | None) -> None:
    sn.prepare("active", "", labels={"l": "1"})
    info = sn.stat("active")
    assert (info.name, info.kind, info.parent, dict(info.labels)) == ("active", Kind.ACTIVE, "", {"l": "1"})
    sn.commit("committed", "active")
    _expect(NoSuchSnapshot, lambda: sn.stat("active"))
    assert sn.stat("committed").kind is Kind.COMMITTED
    sn.view("view", "committed")
    assert (sn.stat("view").kind, sn.stat("view").parent) == (Kind.VIEW, "committed")
    _expect(NoSuchSnapshot, lambda: sn.stat("nothing"))
    sn.remove("view")
    sn.remove("committed")


def check_errors(sn: Snapshotter, idmap: IdMap | None) -> None:
    sn.prepare("k", "")
    _expect(SnapshotExists, lambda: sn.prepare("k", ""))
    _expect(SnapshotConflict, lambda: sn.prepare("child", "k"))  # parent not committed
    _expect(NoSuchSnapshot, lambda: sn.prepare("child", "missing"))
    _expect(NoSuchSnapshot, lambda: sn.commit("x", "missing"))
    sn.commit("K", "k")
    _expect(SnapshotConflict, lambda: sn.mounts("K"))
    sn.view("v", "K")
    _expect(SnapshotConflict, lambda: sn.commit("V", "v"))  # views cannot be committed
    sn.prepare("k2", "K")
    _expect(SnapshotExists, lambda: sn.commit("K", "k2"))
    _expect(SnapshotConflict, lambda: sn.remove("K"))  # has children
    _expect(NoSuchSnapshot, lambda: sn.remove("missing"))
    names = {i.name for i in sn.walk()}
    assert names == {"K", "v", "k2"}, names  # failed calls left nothing behind
    remove_all(sn)


def check_walk_order(sn: Snapshotter, idmap: IdMap | None) -> None:
    parent = ""
    for i in range(4):
        sn.prepare(f"k{i}", parent)
        sn.commit(f"n{i}", f"k{i}")
        parent = f"n{i}"
    sn.prepare("top", parent)
    order = [i.name for i in sn.walk()]
    assert set(order) == {"n0", "n1", "n2", "n3", "top"}
    for info in sn.walk():
        if info.parent:
            assert order.index(info.parent) < order.index(info.name)
    remove_all(sn)


def check_usage(sn: Snapshotter, idmap: IdMap | None) -> None:
    m = sn.prepare("u", "")
    before = sn.usage("u")
    with_mounted(m, idmap, write({"big": "x" * 200_000}))
    after = sn.usage("u")
    assert after.size - before.size >= 200_000, (before, after)
    assert after.inodes == before.inodes + 1
    sn.commit("U", "u")
    assert sn.usage("U").size == after.size
    sn.remove("U")


def check_transitivity(sn: Snapshotter, idmap: IdMap | None) -> None:
    parent = ""
    for i in range(3):
        m = sn.prepare(f"t{i}", parent)
        with_mounted(m, idmap, write({"f": str(i), f"only{i}": "x"}))
        sn.commit(f"T{i}", f"t{i}")
        parent = f"T{i}"
    v = sn.view("tv", parent)
    assert with_mounted(v, idmap, listing) == {"f": "2", "only0": "x", "only1": "x", "only2": "x"}
    remove_all(sn)


def check_view_is_read_only(sn: Snapshotter, idmap: IdMap | None) -> None:
    m = sn.prepare("r", "")
    with_mounted(m, idmap, write({"a": "1"}))
    sn.commit("R", "r")

    def try_write(mnt: str) -> int:
        try:
            with open(os.path.join(mnt, "new"), "w"):
                return 0
        except OSError as err:
            return err.errno or -1

    for parents in (1, 2):
        if parents == 2:
            sn.prepare("r2", "R")
            sn.commit("R2", "r2")
        v = sn.view(f"ro{parents}", "R" if parents == 1 else "R2")
        assert with_mounted(v, idmap, try_write) == errno.EROFS
    remove_all(sn)


def check_many_layers(sn: Snapshotter, idmap: IdMap | None) -> None:
    """64 layers: the overlay option string no longer fits a page with absolute paths."""
    parent = ""
    for i in range(64):
        m = sn.prepare(f"l{i}", parent)
        if i % 16 == 0:
            with_mounted(m, idmap, write({f"f{i}": str(i)}))
        sn.commit(f"L{i}", f"l{i}")
        parent = f"L{i}"
    m = sn.prepare("top", parent)
    assert with_mounted(m, idmap, listing) == {"f0": "0", "f16": "16", "f32": "32", "f48": "48"}
    remove_all(sn)


CHECKS_BY_NAME: dict[str, Callable[[Snapshotter, IdMap | None], None]] = {
    "basic": check_basic,
    "stat_and_kinds": check_stat_and_kinds,
    "errors": check_errors,
    "walk_order": check_walk_order,
    "usage": check_usage,
    "transitivity": check_transitivity,
    "view_is_read_only": check_view_is_read_only,
    "many_layers": check_many_layers,
}
CHECKS = list(CHECKS_BY_NAME)


def run_check(name: str, factory: Factory) -> None:
    with factory() as (sn, idmap):
        try:
            CHECKS_BY_NAME[name](sn, idmap)
        finally:
            remove_all(sn)
            sn.close()
