"""Work on a step's snapshot mounted where only that work sees it (layer L5).

COPY, ADD and WORKDIR change files through the snapshot's merged view, as docker's daemon does
through the container's mounted rootfs. :func:`on_snapshot` forks a child with a private mount
namespace (inside the snapshots' user namespace when rootless: ``linux.mount.run_in_userns``),
mounts the snapshot (and, for ``COPY --from``, the source image read-only) there, and runs the
work; the mounts die with the child, so nothing is ever mounted in the caller's namespace and
nothing is left to unmount after a crash. A snapshot that is a plain directory (the native
driver, a layer without parents) needs no mount: the work runs on it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dockernb.linux.mount import IdMap, mount_all, run_in_userns
from dockernb.spec.mount import Mount

__all__ = ["on_snapshot"]

#: work(root, source_root or None) -> a JSON-shaped result (it crosses a process boundary)
Work = Callable[[str, str | None], Any]


def _plain_dir(mounts: Sequence[Mount]) -> str | None:
    if len(mounts) == 1 and (mounts[0].type == "bind" or "rbind" in mounts[0].options) and not mounts[0].target:
        return mounts[0].source
    return None


def on_snapshot(
    work: Work,
    mounts: Sequence[Mount],
    *,
    scratch: Path,
    source: Sequence[Mount] | None = None,
    idmap: IdMap | None = None,
) -> Any:
    """``work(root, source_root)`` on the snapshot ``mounts`` (``source``: a read-only view to copy from).

    ``scratch`` is an empty directory for the mount points (the caller removes it). DockernbErrors
    raised by ``work`` come back as they were; the result must be JSON-shaped.
    """
    root = _plain_dir(mounts)
    src: str | None = _plain_dir(source) if source is not None else None
    need_mounts = root is None or (source is not None and src is None)
    if not need_mounts and idmap is None:
        assert root is not None
        return work(root, src)
    dest_dir = scratch / "rootfs"
    src_dir = scratch / "source"

    def child() -> Any:
        nonlocal root, src
        if root is None:
            mount_all(mounts, str(dest_dir))
            root = str(dest_dir)
        if source is not None and src is None:
            mount_all(source, str(src_dir))
            src = str(src_dir)
        return work(root, src)

    if need_mounts:
        dest_dir.mkdir(mode=0o755, exist_ok=True)
        if source is not None:
            src_dir.mkdir(mode=0o755, exist_ok=True)
    return run_in_userns(child, idmap, mount_ns=need_mounts)
