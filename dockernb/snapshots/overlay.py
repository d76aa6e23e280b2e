"""The overlayfs snapshotter: each layer is an upper directory, parents are lowerdirs (L2).

Root mounts overlay with ``trusted.overlay.*`` xattrs; inside a user namespace (kernel >= 5.11)
the mounts carry ``userxattr`` and layers mark opaque directories with ``user.overlay.opaque``.
A snapshot without parents is a bind mount of its ``fs`` (overlay needs a lower); a view on one
parent is a read-only bind of that parent. Nothing is mounted here: mounts are returned.
"""

from __future__ import annotations

from dockernb.linux.mount import IdMap
from dockernb.snapshots.base import Kind
from dockernb.snapshots.storage import DirSnapshotter
from dockernb.spec.mount import Mount
from dockernb.store.layout import Layout

__all__ = ["OverlaySnapshotter"]


class OverlaySnapshotter(DirSnapshotter):
    driver = "overlay"
    mount_type = "overlay"

    def __init__(self, layout: Layout, *, idmap: IdMap | None = None, userxattr: bool | None = None) -> None:
        super().__init__(layout, idmap=idmap)
        #: rootless overlay (mounted inside a user namespace) reads user.overlay.* xattrs
        self.userxattr = idmap is not None if userxattr is None else userxattr

    def _populate(self, sid: str, parent_ids: list[str], kind: Kind) -> None:
        if kind is Kind.ACTIVE and parent_ids:
            self.work(sid).mkdir(mode=0o711)

    def _committed(self, sid: str) -> None:
        # the workdir belongs to a mount of an active snapshot; a committed layer is only a lower
        work = self.work(sid)
        if work.exists():
            self._rmtree(work)

    def _extra_options(self) -> list[str]:
        return ["userxattr"] if self.userxattr else []

    def _mounts(self, sid: str, parent_ids: list[str], kind: Kind) -> list[Mount]:
        if not parent_ids:
            opt = "ro" if kind is Kind.VIEW else "rw"
            return [Mount("bind", str(self.fs(sid)), options=("rbind", opt))]
        lowers = ":".join(str(self.fs(p)) for p in parent_ids)
        if kind is Kind.VIEW:
            if len(parent_ids) == 1:
                return [Mount("bind", str(self.fs(parent_ids[0])), options=("rbind", "ro"))]
            return [Mount(self.mount_type, "overlay", options=(*self._extra_options(), f"lowerdir={lowers}"))]
        return [Mount(self.mount_type, "overlay", options=(
            *self._extra_options(), f"workdir={self.work(sid)}", f"upperdir={self.fs(sid)}", f"lowerdir={lowers}",
        ))]
