"""The Snapshotter contract: layered filesystems as key/name/parent snapshots that return mounts (L2).

Vocabulary (containerd's, used everywhere in dockernb):

* a **key** names an *active* snapshot (or a *view*): a writable (or read-only) filesystem that is
  being built or used; it can be mounted.
* a **name** names a *committed* snapshot: immutable, never mounted directly, only a parent.
* a **parent** is the committed snapshot an active snapshot or view sits on. The empty string is
  "no parent" (an empty filesystem). Keys and names share one namespace per snapshotter.

Lifecycle::

    prepare(key, parent) -> mounts      active, writable, on top of parent
    view(key, parent)    -> mounts      read-only; cannot be committed
    mounts(key)          -> mounts      the same list again (for an active snapshot or a view)
    commit(name, key)                   the active snapshot becomes committed under ``name``;
                                        ``key`` is gone afterwards
    remove(key_or_name)                 refused while it has children

Invariants:

* Snapshotters never mount anything for the caller: they return plain
  :class:`~dockernb.spec.mount.Mount` values that the runtime (or ``linux.mount.mount_all``)
  applies. Drivers may mount internally for their own work, and say so.
* A committed snapshot never changes; children see exactly what it held at commit.
* ``remove`` of a snapshot with children raises ``SnapshotConflict``; of a missing one
  ``NoSuchSnapshot``; ``prepare``/``view``/``commit`` to an existing key or name raise
  ``SnapshotExists``; a parent that is missing raises ``NoSuchSnapshot``, one that is not committed
  ``SnapshotConflict``. A failed call leaves no snapshot and no directory behind.

Worked example, importing an image of two layers (what ``layers.unpack`` does)::

    # layer 1: chain_id c1 = diff_id d1
    mounts = sn.prepare("extract-1 c1", "")        # empty, writable
    apply_layer(blob1, target-of(mounts))          # write the files
    sn.commit("c1", "extract-1 c1")
    # layer 2: c2 = sha256(c1 + " " + d2)
    mounts = sn.prepare("extract-2 c2", "c1")
    apply_layer(blob2, target-of(mounts))
    sn.commit("c2", "extract-2 c2")

and running a container from it::

    mounts = sn.prepare("<container id>", "c2")    # the container's writable rootfs
    mount_all(mounts, rootfs); ... ; unmount_all(rootfs)
    sn.remove("<container id>")                     # or commit() it: `docker commit`

One snapshot exists per layer chain (its name is the chain id), so images sharing layers share
snapshots. Drivers: ``overlay`` (kernel overlayfs; ``userxattr`` inside a user namespace),
``fuse-overlayfs`` and ``native`` (copies the parent: works everywhere, costs disk).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from dockernb.spec.mount import Mount

__all__ = ["Info", "Kind", "Snapshotter", "Usage"]


class Kind(enum.StrEnum):
    VIEW = "view"
    ACTIVE = "active"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class Info:
    """A snapshot's record. ``name`` is its key (active, view) or name (committed)."""

    name: str
    kind: Kind
    parent: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Disk used by the snapshot's own layer (not its parents): bytes and inodes."""

    size: int = 0
    inodes: int = 0


class Snapshotter(Protocol):
    """Nine methods; see the module docstring for the words and the lifecycle."""

    def stat(self, key: str) -> Info:
        """The record of ``key`` (any kind). Raises NoSuchSnapshot."""
        ...

    def usage(self, key: str) -> Usage:
        """Disk usage of ``key``'s own layer. Raises NoSuchSnapshot."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an active snapshot or view. Raises NoSuchSnapshot, SnapshotConflict."""
        ...

    def prepare(self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None) -> list[Mount]:
        """A new writable snapshot on ``parent``. Raises SnapshotExists, NoSuchSnapshot, SnapshotConflict."""
        ...

    def view(self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None) -> list[Mount]:
        """A new read-only snapshot on ``parent`` (cannot be committed)."""
        ...

    def commit(self, name: str, key: str, *, labels: Mapping[str, str] | None = None) -> None:
        """Turn the active snapshot ``key`` into the committed ``name``. Raises SnapshotExists,
        NoSuchSnapshot, SnapshotConflict (``key`` is a view or already committed)."""
        ...

    def remove(self, key: str) -> None:
        """Delete a snapshot and its directory. Raises NoSuchSnapshot, SnapshotConflict (children)."""
        ...

    def walk(self) -> Iterator[Info]:
        """Every snapshot, parents before their children."""
        ...

    def close(self) -> None:
        """Release resources; the snapshots stay on disk."""
        ...
