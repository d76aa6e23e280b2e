"""Choosing and building a snapshotter for this machine (L2).

``overlay`` where the kernel lets us mount it (as root, or in a user namespace for rootless,
kernel >= 5.11), else ``fuse-overlayfs`` when installed, else ``native`` (copies): the order
docker and podman follow. ``Config.storage_driver`` (``DOCKERNB_STORAGE_DRIVER``) picks one.
"""

from __future__ import annotations

from dockernb.errors import InvalidConfig
from dockernb.linux import probe
from dockernb.linux.mount import IdMap
from dockernb.snapshots.base import Snapshotter
from dockernb.snapshots.fuse_overlay import FuseOverlaySnapshotter
from dockernb.snapshots.native import NativeSnapshotter
from dockernb.snapshots.overlay import OverlaySnapshotter
from dockernb.store.layout import Layout

__all__ = ["DRIVERS", "choose_driver", "new_snapshotter"]

DRIVERS: dict[str, type[NativeSnapshotter] | type[OverlaySnapshotter]] = {
    "overlay": OverlaySnapshotter,
    "fuse-overlayfs": FuseOverlaySnapshotter,
    "native": NativeSnapshotter,
}


def choose_driver(rootless: bool) -> str:
    """The best driver this machine supports (runs the probes: a forked child each)."""
    if (probe.overlay_in_userns() if rootless else probe.overlay()).ok:
        return "overlay"
    if probe.fuse_overlayfs().ok:
        return "fuse-overlayfs"
    return "native"


def new_snapshotter(layout: Layout, *, name: str | None = None, idmap: IdMap | None = None) -> Snapshotter:
    """A snapshotter under ``layout``; ``name`` is ``Config.storage_driver`` ("" or None: choose).

    ``idmap`` (rootless: ``linux.mount.rootless_idmap()``) makes it work in a user namespace.
    Raises InvalidConfig for an unknown driver name.
    """
    name = name or choose_driver(idmap is not None)
    cls = DRIVERS.get(name)
    if cls is None:
        raise InvalidConfig(f"unknown storage driver {name!r} (one of: {', '.join(DRIVERS)})")
    snapshotter: Snapshotter = cls(layout, idmap=idmap)
    return snapshotter
