"""A writable snapshot's changes turned into an image layer (layer L3; for builds and ``docker commit``).

One code path for both (the builds issue: "``commit`` of a container and builds share the same
layer-diff code")::

    made = commit_snapshot(content, snapshotter, key, parent=chain, idmap=idmap, consume=True)
    # made is None (nothing changed) or (LayerRecord, chain id)

1. the active snapshot ``key`` (on the committed ``parent``) is diffed with
   :mod:`dockernb.layers.diff` (an overlay upper: ``diff_overlay``; a full copy, the native
   driver: ``diff_trees`` against the parent's tree) straight into a content-store blob. The blob
   is the uncompressed tar, so its digest *is* the diff_id (push gzips it once, later);
2. the layer becomes the committed snapshot ``chain_id(parent, diff_id)``: with ``consume`` (a
   build step, whose container is gone) the active snapshot itself is committed under that name,
   with no second extraction; without it (a running container's ``docker commit``) the blob is
   unpacked on ``parent`` like a pulled layer and ``key`` stays as it is.

An empty diff (no entry) is docker's empty layer: None is returned and, with ``consume``, the
snapshot removed. Rootless, the diff runs in the snapshots' user namespace (files of subordinate
ids are readable there, and the tar headers carry the container's ids, not the host's).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Collection
from typing import Protocol

from dockernb.content.local import LocalContentStore
from dockernb.errors import NoSuchSnapshot, SnapshotExists
from dockernb.images.records import BlobRef, LayerRecord
from dockernb.layers.apply import WhiteoutMode
from dockernb.layers.compression import RawReader
from dockernb.layers.diff import DiffStats, diff_overlay, diff_trees
from dockernb.layers.unpack import SnapshotTarget, chain_id, target_of, unpack_layer
from dockernb.linux.mount import IdMap, run_in_userns
from dockernb.spec.digest import Digest
from dockernb.spec.mount import Mount
from dockernb.spec.oci import MediaType

__all__ = ["Tidy", "commit_snapshot"]

#: called with the directory holding the snapshot's changes (an overlay upper, or the whole tree of
#: a native copy) and the parent's tree for the native driver ("" otherwise), in the snapshots'
#: user namespace, just before the diff: a build's RUN removes its mount-point stubs here; a
#: running container's cannot be removed, so it may return the relative paths to leave out instead
Tidy = Callable[[str, str], "Collection[str] | None"]


class _CommitTarget(SnapshotTarget, Protocol):
    def mounts(self, key: str) -> list[Mount]: ...


def _tree_of(snapshotter: object, name: str) -> str:
    """The directory of a committed snapshot of a copying driver (native): its whole filesystem."""
    path_of = getattr(snapshotter, "path", None)
    if path_of is None:
        raise NoSuchSnapshot(name)
    return str(path_of(name))


def _diff(changes: str, base: str | None, overlay: bool, out_fd: int, tidy: Tidy | None) -> dict[str, int]:
    """Runs where the files are readable (in-process as root, in the user namespace rootless)."""
    stats = DiffStats()
    with os.fdopen(out_fd, "wb", buffering=1 << 20) as out:  # closed whatever happens: the pump's EOF
        exclude = (tidy(changes, base or "") if tidy is not None else None) or ()
        if overlay or base is None:
            diff_overlay(changes, out, exclude=exclude, stats=stats)
        else:
            diff_trees(base, changes, out, exclude=exclude, stats=stats)
    return {"entries": stats.entries, "content_size": stats.content_size}


def commit_snapshot(
    content: LocalContentStore,
    snapshotter: _CommitTarget,
    key: str,
    *,
    parent: str,
    idmap: IdMap | None = None,
    consume: bool = True,
    tidy: Tidy | None = None,
    base: str = "",
) -> tuple[LayerRecord, str] | None:
    """Make the changes of the active snapshot ``key`` a layer on ``parent``; see the module docstring.

    ``base`` is the committed snapshot ``key`` was made on, when it is not ``parent`` (a container's
    ``<id>-init`` layer: its mount points are not the container's changes); a copying driver's tree
    is compared with it.

    Returns the layer's record and its chain id, or None when nothing changed. Raises
    NoSuchSnapshot, NoSpaceLeft; on failure the blob is not kept and ``key`` is left as it was.
    """
    target = target_of(snapshotter.mounts(key), rootless=idmap is not None)
    overlay = target.whiteouts is WhiteoutMode.OVERLAY
    before: str | None = None
    if not overlay and (base or parent):
        before = _tree_of(snapshotter, base or parent)  # a copy: compare it with the tree it was copied from
    ref = f"layer-commit-{uuid.uuid4().hex}"
    writer = content.writer(ref)
    r, w = os.pipe()
    owned = {"r": True, "w": True}  # which pipe ends this function must still close
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(r, "rb", buffering=0) as src:
                while chunk := src.read(1 << 20):
                    writer.write(chunk)
        except BaseException as err:  # noqa: BLE001 - re-raised below
            failure.append(err)

    reader = threading.Thread(target=pump, name="dockernb-layer-commit", daemon=True)

    def start_reader() -> None:
        owned["r"] = False  # the pump closes it
        reader.start()

    try:
        if idmap is None:
            start_reader()
            owned["w"] = False  # _diff closes it
            stats = _diff(target.path, before, overlay, w, tidy)
        else:

            def after_fork() -> None:
                owned["w"] = False
                os.close(w)  # the child holds the only write end now: its exit is the pump's EOF
                start_reader()

            stats = run_in_userns(lambda: _diff(target.path, before, overlay, w, tidy), idmap, after_fork=after_fork)
        reader.join()
        if failure:
            raise failure[0]
        if stats["entries"] == 0:
            writer.close()
            content.abort(ref)
            if consume:
                snapshotter.remove(key)
            return None
        digest = writer.commit()
    except BaseException:
        if owned["w"]:
            owned["w"] = False
            os.close(w)
        if reader.is_alive():
            reader.join()
        writer.close()
        try:
            content.abort(ref)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        raise
    finally:
        for end, fd in (("r", r), ("w", w)):
            if owned[end]:
                os.close(fd)
    blob = BlobRef(str(digest), MediaType.OCI_LAYER, _size(content, digest))
    record = LayerRecord(str(digest), blob, stats["content_size"])
    chain = chain_id(parent, digest)
    if consume:
        try:
            snapshotter.commit(chain, key)
        except SnapshotExists:
            snapshotter.remove(key)  # the same layer on the same parent exists already: it stands
        return record, chain

    def open_blob() -> RawReader:
        return content.open_reader(digest)

    res = unpack_layer(snapshotter, open_blob, parent=parent, diff_id=digest, media_type=MediaType.OCI_LAYER,
                       idmap=idmap)  # fmt: skip
    return record, res.chain_id


def _size(content: LocalContentStore, digest: Digest) -> int:
    return content.info(digest).size
