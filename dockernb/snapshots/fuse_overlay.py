"""The fuse-overlayfs snapshotter: the overlay layout, mounted by the fuse-overlayfs helper (L2).

For kernels or sandboxes without overlay in user namespaces. Layers are stored exactly as for
the kernel driver (char 0/0 whiteouts, ``user.overlay.opaque``, both of which fuse-overlayfs
reads); the mount type ``fuse3.fuse-overlayfs`` tells ``linux.mount.mount_all`` (and the runtime)
to run the helper instead of mount(2).
"""

from __future__ import annotations

from dockernb.linux.mount import IdMap
from dockernb.snapshots.overlay import OverlaySnapshotter
from dockernb.store.layout import Layout

__all__ = ["FuseOverlaySnapshotter"]


class FuseOverlaySnapshotter(OverlaySnapshotter):
    driver = "fuse-overlayfs"
    mount_type = "fuse3.fuse-overlayfs"

    def __init__(self, layout: Layout, *, idmap: IdMap | None = None) -> None:
        super().__init__(layout, idmap=idmap, userxattr=False)

    def _extra_options(self) -> list[str]:
        return []
