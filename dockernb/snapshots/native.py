"""The native snapshotter: every snapshot is a full copy of its parent (L2).

Works on any filesystem and without mounts beyond a bind; costs the disk and time of a copy per
layer and per container. Copies use ``cp -a --reflink=auto`` (xattrs, hardlinks, devices, sparse
files, reflinks where the filesystem has them), inside the user namespace when rootless so that
owners are kept. Layers are applied to it with whiteouts as deletions.
"""

from __future__ import annotations

import subprocess

from dockernb.errors import InternalError
from dockernb.linux.mount import run_in_userns
from dockernb.snapshots.base import Kind
from dockernb.snapshots.storage import DirSnapshotter
from dockernb.spec.mount import Mount

__all__ = ["NativeSnapshotter", "copy_tree"]


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of ``src`` into the existing directory ``dst``, preserving everything."""
    proc = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--no-target-directory", src, dst], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InternalError(f"copy {src} to {dst}: {proc.stderr.strip()}")


class NativeSnapshotter(DirSnapshotter):
    driver = "native"

    def _populate(self, sid: str, parent_ids: list[str], kind: Kind) -> None:
        if not parent_ids:
            return
        src, dst = str(self.fs(parent_ids[0])), str(self.fs(sid))
        if self.idmap is not None:
            run_in_userns(lambda: copy_tree(src, dst), self.idmap)
        else:
            copy_tree(src, dst)

    def _mounts(self, sid: str, parent_ids: list[str], kind: Kind) -> list[Mount]:
        return [Mount("bind", str(self.fs(sid)), options=("rbind", "ro" if kind is Kind.VIEW else "rw"))]
