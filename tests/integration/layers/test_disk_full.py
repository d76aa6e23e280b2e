"""Disk full during extraction: a clear error and nothing left (root: needs a private tmpfs mount)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockernb.errors import NoSpaceLeft
from dockernb.layers.unpack import unpack_layer
from dockernb.linux.mount import mount, run_in_userns
from dockernb.snapshots.select import DRIVERS
from dockernb.store.layout import Layout
from tests.integration.layers.test_unpack_kit import _Bytes
from tests.unit.layers.tarmaker import f, make


@pytest.mark.requires_root
def test_disk_full_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    """A 4 MiB tmpfs (in a private mount namespace) cannot hold a 6 MiB layer."""
    big = make(f("a", os.urandom(3 << 20)), f("b", os.urandom(3 << 20)), compress="gzip")

    def child() -> list[str]:
        mount("tmpfs", str(tmp_path), "tmpfs", 0, "size=4m")
        lay = Layout(tmp_path / "root")
        lay.ensure()
        sn = DRIVERS["overlay"](lay)
        try:
            unpack_layer(sn, _Bytes(big))
        except NoSpaceLeft as err:
            assert "no space left on device" in str(err)
            return [i.name for i in sn.walk()] + os.listdir(lay.snapshots("overlay"))
        return ["no error"]

    assert run_in_userns(child, None, mount_ns=True) == ["metadata.json"]
