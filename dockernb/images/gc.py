"""Garbage collection roots: which blobs and snapshots the stored images still need (layer L3).

The roots are the visible image records: each keeps its config, its manifest, its layer blobs and
the snapshot of every prefix of its layer chain. Whatever an image's removal leaves unreferenced
is deleted, top layer first; a snapshot that still has children (a container's writable layer, or
an image made on top of it) stays, as docker keeps a layer a container still mounts.

Deletions run under the root's ``gc`` lock held exclusively; a pull holds it shared while it
writes blobs and snapshots no record names yet, so a concurrent ``rmi`` or ``prune`` never
removes them under its feet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from dockernb.content.local import LocalContentStore
from dockernb.errors import DockernbError, NoSuchContent, NoSuchSnapshot, SnapshotConflict
from dockernb.images.store import ImageView
from dockernb.spec.digest import Digest
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["GCTarget", "collect_image", "gc_lock", "referenced_blobs", "referenced_chains", "sweep"]

log = logging.getLogger(__name__)


class GCTarget(Protocol):
    def stat(self, key: str) -> object: ...

    def remove(self, key: str) -> None: ...

    def walk(self) -> Iterator[Any]: ...


@contextmanager
def gc_lock(layout: Layout, *, shared: bool) -> Iterator[None]:
    """Shared: "I am adding content no record names yet"; exclusive: "I am deleting unreferenced content"."""
    with FileLock(layout.lock("gc"), shared=shared):
        yield


def referenced_blobs(view: ImageView) -> set[str]:
    return {d for rec in view.images.values() for d in rec.blobs()}


def referenced_chains(view: ImageView) -> set[str]:
    return {c for rec in view.images.values() for c in rec.chain_ids}


def remove_chains(snapshotter: GCTarget, chains_top_down: Iterable[str], keep: set[str]) -> list[str]:
    """Remove unreferenced committed snapshots, top first; stop at the first one that must stay."""
    removed = []
    for chain in chains_top_down:
        if chain in keep:
            break
        try:
            snapshotter.remove(chain)
        except NoSuchSnapshot:
            continue  # never unpacked here (an image from a read-only store), or already gone
        except SnapshotConflict:
            break  # a container (or another snapshot) sits on it: it and its parents stay
        removed.append(chain)
        log.debug("removed layer %s", chain)
    return removed


def remove_blobs(content: LocalContentStore, digests: Iterable[str], keep: set[str]) -> int:
    """Delete unreferenced blobs of this root; returns the bytes freed (read-only stores are left alone)."""
    freed = 0
    for text in digests:
        if text in keep:
            continue
        digest = Digest.parse(text)
        try:
            info = content.info(digest)
            if info.read_only:
                continue
            content.delete(digest)
            freed += info.size
        except NoSuchContent:
            continue
    return freed


def collect_image(
    view_after: ImageView, blobs: list[str], chains: list[str], content: LocalContentStore, snapshotter: GCTarget
) -> tuple[list[str], int]:
    """After an image left the view: drop its layers and blobs that nothing else needs.

    Returns (removed chain ids top first, bytes of blobs freed).
    """
    removed = remove_chains(snapshotter, reversed(chains), referenced_chains(view_after))
    freed = remove_blobs(content, blobs, referenced_blobs(view_after))
    return removed, freed


def sweep(view: ImageView, content: LocalContentStore, snapshotter: GCTarget) -> tuple[list[str], int]:
    """Remove every committed snapshot and blob of this root that no visible image references.

    Snapshots with children (containers) stay; in-progress ingests are not blobs and are kept.
    Returns (removed chain ids, bytes of blobs freed). Call under the exclusive gc lock.
    """
    keep_chains = referenced_chains(view)
    removed: list[str] = []
    while True:  # leaves first: a pass removes the childless ones, which may free their parents
        infos = list(snapshotter.walk())
        parents = {getattr(i, "parent", "") for i in infos}
        doomed = [i.name for i in infos if str(getattr(i, "kind", "")) == "committed" and i.name not in keep_chains
                  and i.name not in parents and str(i.name).startswith("sha256:")]  # fmt: skip
        progress = False
        for name in doomed:
            try:
                snapshotter.remove(name)
                removed.append(name)
                progress = True
            except DockernbError as err:
                log.debug("snapshot %s stays: %s", name, err)
        if not progress:
            break
    keep_blobs = referenced_blobs(view)
    freed = remove_blobs(content, (str(i.digest) for i in content.walk()), keep_blobs)
    return removed, freed
