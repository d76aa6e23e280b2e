"""Every snapshotter driver passes the shared behaviour suite, as root and rootless."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dockernb.errors import ProbeFailed
from dockernb.linux import probe
from dockernb.linux.mount import IdMap, rootless_idmap
from dockernb.snapshots.base import Snapshotter
from dockernb.snapshots.select import DRIVERS
from dockernb.store.layout import Layout
from dockernb.testing.suites.snapshotter import CHECKS, run_check

pytestmark = pytest.mark.rootless

# checks that mount a snapshot with parents (an active one without parents is a bind mount)
MOUNTING = {"basic", "transitivity", "view_is_read_only", "many_layers"}


def _idmap() -> IdMap | None:
    return rootless_idmap() if os.geteuid() != 0 else None


@contextmanager
def _factory(root: Path, driver: str) -> Iterator[tuple[Snapshotter, IdMap | None]]:
    layout = Layout(root)
    layout.ensure()
    idmap = _idmap()
    sn = DRIVERS[driver](layout, idmap=idmap)
    yield sn, idmap
    home = layout.snapshots(driver)
    leftovers = [p.name for p in home.iterdir() if p.name != "metadata.json"]
    assert leftovers == [], f"snapshot directories left behind: {leftovers}"
    assert list(sn.walk()) == []


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_snapshotter_suite(driver: str, check: str, root_dir: Path) -> None:
    # the probes must say yes here: this VM has overlay (root and in a user namespace) and fuse
    if driver == "overlay":
        assert (probe.overlay() if os.geteuid() == 0 else probe.overlay_in_userns()).ok
    if driver == "fuse-overlayfs":
        usable = os.access("/dev/fuse", os.R_OK | os.W_OK)
        assert probe.fuse_overlayfs().ok is usable
        if not usable and check in MOUNTING:
            # /dev/fuse is 0600 root on this VM (no udev): rootless fuse cannot mount, and says why
            with pytest.raises(ProbeFailed, match="cannot open /dev/fuse"):
                run_check(check, lambda: _factory(root_dir, driver))
            return
    run_check(check, lambda: _factory(root_dir, driver))
