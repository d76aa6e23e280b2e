"""``docker diff``: what a container changed in its filesystem (layer L6).

It reads the container's writable layer where the snapshotter keeps it: an overlay upper
directory over its image's layers (overlay, fuse-overlayfs), or a full copy compared with a view
of the image (native). Rootless, the reading happens in a user namespace mapped like the
containers', where the container's ids are themselves. The rules are in
:mod:`dockernb.layers.changes`. ``docker commit``'s layer takes the builds' path
(``ImageService.layer_from_snapshot``) and uses :func:`overlay_dirs` / :func:`lower_stat` here to
leave the runtime's mount points out.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dockernb.errors import NoSuchSnapshot
from dockernb.layers.changes import Change, overlay_changes, tree_changes
from dockernb.linux.mount import run_in_userns
from dockernb.spec.container import ContainerRecord
from dockernb.spec.mount import Mount

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["container_changes", "layer_dirs", "lower_stat", "overlay_dirs"]


def overlay_dirs(mounts: Sequence[Mount]) -> tuple[str, tuple[str, ...]] | None:
    for m in mounts:
        upper, lowers = "", ""
        for opt in m.options:
            if opt.startswith("upperdir="):
                upper = opt[len("upperdir=") :]
            elif opt.startswith("lowerdir="):
                lowers = opt[len("lowerdir=") :]
        if upper:
            return upper, tuple(x for x in lowers.split(":") if x)
    return None


@contextlib.contextmanager
def layer_dirs(svc: ContainerService, record: ContainerRecord) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """The container's writable layer as ("overlay", upper, lowers) or ("tree", its tree, (the image's,)).

    A native snapshot is compared with a view of its parent, made here and removed afterwards.
    """
    sn = svc.images.snapshotter
    key = record.extra.get("snapshot", record.id)
    mounts = sn.mounts(key)
    found = overlay_dirs(mounts)
    if found is not None:
        yield "overlay", found[0], found[1]
        return
    after = next((m.source for m in mounts if m.type == "bind"), "")
    parent = sn.stat(key).parent
    view = f"diff-{record.id[:12]}-{uuid.uuid4().hex[:8]}"
    before_mounts = sn.view(view, parent) if parent else []
    before = next((m.source for m in before_mounts if m.type == "bind"), "")
    try:
        if not before:  # no parent: an empty image
            empty = svc.layout.tmp / f"empty-{uuid.uuid4().hex[:8]}"
            empty.mkdir(parents=True)
            try:
                yield "tree", after, (str(empty),)
            finally:
                empty.rmdir()
        else:
            yield "tree", after, (before,)
    finally:
        if parent:
            with contextlib.suppress(NoSuchSnapshot):
                sn.remove(view)


def _in_userns(svc: ContainerService, fn: Callable[[], Any]) -> Any:  # noqa: ANN401
    """``fn()`` where the container's ids are the layer's own: a user namespace when rootless."""
    idmap = svc.images.idmap
    return fn() if idmap is None else run_in_userns(fn, idmap)


def container_changes(svc: ContainerService, container_id: str) -> list[Change]:
    """Like ``docker diff``: A/C/D changes of the container's filesystem, sorted by path."""
    record = svc.store.record(container_id)
    with layer_dirs(svc, record) as (kind, top, lowers):
        def child() -> list[list[str]]:
            found = overlay_changes(top, lowers) if kind == "overlay" else tree_changes(lowers[0], top)
            return [[c.kind, c.path] for c in found]

        rows = _in_userns(svc, child)
    return [Change(k, p) for k, p in rows]


def lower_stat(lowers: Sequence[str], rel: str) -> os.stat_result | None:
    for lower in lowers:
        try:
            return os.lstat(os.path.join(lower, rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return None
