"""What every directory-based snapshotter shares: records, ids, directories, locking (L2).

Records live in ``<root>/snapshots/<driver>/metadata.json`` (written atomically under the
driver's flock, so several processes can share a root); each snapshot owns
``<root>/snapshots/<driver>/<id>/{fs,work}``. A record is written only after its directory is
complete and is removed before its directory is, so a crash leaves at worst an orphan directory,
which the next ``remove`` sweeps. Drivers say what a snapshot's directory holds
(:meth:`DirSnapshotter._populate`) and which mounts expose it (:meth:`DirSnapshotter._mounts`).

Rootless: files in snapshots belong to the image's ids mapped to subordinate ids, which the
calling user cannot delete or copy faithfully; with an ``idmap`` those operations run inside a
user namespace (``linux.mount.run_in_userns``).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockernb.errors import NoSuchSnapshot, SnapshotConflict, SnapshotExists
from dockernb.linux.mount import IdMap, run_in_userns
from dockernb.snapshots.base import Info, Kind, Usage
from dockernb.spec.mount import Mount
from dockernb.store.atomic import read_json, write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["DirSnapshotter", "disk_usage"]

SCHEMA_VERSION = 1


def disk_usage(path: str) -> tuple[int, int]:
    """(bytes in blocks, inodes) under ``path``, hardlinks counted once, symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    size = inodes = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            inodes += 1
            size += st.st_blocks * 512
    return size, inodes


class DirSnapshotter:
    """Base of the overlay, fuse-overlayfs and native drivers."""

    driver = "base"

    def __init__(self, layout: Layout, *, idmap: IdMap | None = None) -> None:
        self.layout = layout
        self.idmap = idmap
        self.home = layout.snapshots(self.driver)
        self.home.mkdir(parents=True, exist_ok=True, mode=0o711)
        self._meta_path = self.home / "metadata.json"
        self._lock_path = layout.lock(f"snapshots-{self.driver}")

    # --- driver hooks -----------------------------------------------------------------

    def _populate(self, sid: str, parent_ids: list[str], kind: Kind) -> None:
        """Fill ``<id>/`` for a new active snapshot or view (``fs`` exists already)."""

    def _mounts(self, sid: str, parent_ids: list[str], kind: Kind) -> list[Mount]:
        raise NotImplementedError

    # --- records ------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = read_json(self._meta_path)
        except FileNotFoundError:
            data = {"schema_version": SCHEMA_VERSION, "next_id": 1, "snapshots": {}}
        return data

    def _save(self, data: dict[str, Any]) -> None:
        write_json(self._meta_path, data)

    def _lock(self) -> FileLock:
        return FileLock(self._lock_path)

    def fs(self, sid: str) -> Path:
        return self.home / sid / "fs"

    def path(self, key: str) -> Path:
        """The directory of ``key``'s own layer; for a committed snapshot of the native driver, its whole
        tree (what ``dockernb.images.commit`` diffs a copy against). Read it, never write it."""
        return self.fs(self._get(self._load(), key)["id"])

    def work(self, sid: str) -> Path:
        return self.home / sid / "work"

    @staticmethod
    def _info(key: str, rec: dict[str, Any]) -> Info:
        return Info(
            name=key, kind=Kind(rec["kind"]), parent=rec.get("parent", ""), labels=dict(rec.get("labels", {})),
            created_at=datetime.fromisoformat(rec["created"]), updated_at=datetime.fromisoformat(rec["updated"]),
        )

    def _get(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        rec = data["snapshots"].get(key)
        if rec is None:
            raise NoSuchSnapshot(key)
        return rec  # type: ignore[no-any-return]

    def _parent_ids(self, data: dict[str, Any], parent: str) -> list[str]:
        """Ids of ``parent`` and its ancestors, nearest first."""
        ids = []
        while parent:
            rec = self._get(data, parent)
            ids.append(rec["id"])
            parent = rec.get("parent", "")
        return ids

    # --- the Snapshotter protocol -------------------------------------------------------

    def stat(self, key: str) -> Info:
        return self._info(key, self._get(self._load(), key))

    def usage(self, key: str) -> Usage:
        rec = self._get(self._load(), key)
        path = str(self.fs(rec["id"]))
        if self.idmap is not None:
            size, inodes = run_in_userns(lambda: disk_usage(path), self.idmap)
        else:
            size, inodes = disk_usage(path)
        return Usage(size, inodes)

    def mounts(self, key: str) -> list[Mount]:
        data = self._load()
        rec = self._get(data, key)
        kind = Kind(rec["kind"])
        if kind is Kind.COMMITTED:
            raise SnapshotConflict(f"snapshot {key} is committed: only active snapshots and views have mounts")
        return self._mounts(rec["id"], self._parent_ids(data, rec.get("parent", "")), kind)

    def prepare(self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._create(key, parent, Kind.ACTIVE, labels)

    def view(self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._create(key, parent, Kind.VIEW, labels)

    def _create(self, key: str, parent: str, kind: Kind, labels: Mapping[str, str] | None) -> list[Mount]:
        if not key:
            raise SnapshotConflict("snapshot key must not be empty")
        with self._lock():
            data = self._load()
            if key in data["snapshots"]:
                raise SnapshotExists(key)
            if parent:
                prec = self._get(data, parent)
                if prec["kind"] != Kind.COMMITTED:
                    raise SnapshotConflict(f"parent snapshot {parent} is not committed")
            parent_ids = self._parent_ids(data, parent)
            sid = str(data["next_id"])
            data["next_id"] += 1
            d = self.home / sid
            if d.exists():  # an orphan from a crash: its record never got written
                self._rmtree(d)
            try:
                d.mkdir(mode=0o711)
                self.fs(sid).mkdir(mode=0o755)
                self._populate(sid, parent_ids, kind)
                now = datetime.now(UTC).isoformat()
                data["snapshots"][key] = {
                    "id": sid, "kind": str(kind), "parent": parent, "labels": dict(labels or {}),
                    "created": now, "updated": now,
                }
                self._save(data)
            except BaseException:
                self._rmtree(d)
                raise
            return self._mounts(sid, parent_ids, kind)

    def commit(self, name: str, key: str, *, labels: Mapping[str, str] | None = None) -> None:
        with self._lock():
            data = self._load()
            rec = self._get(data, key)
            if rec["kind"] != Kind.ACTIVE:
                raise SnapshotConflict(f"snapshot {key} is a {rec['kind']} snapshot: only active ones can be committed")
            if name in data["snapshots"]:
                raise SnapshotExists(name)
            del data["snapshots"][key]
            rec["kind"] = str(Kind.COMMITTED)
            rec["updated"] = datetime.now(UTC).isoformat()
            if labels:
                rec["labels"] = {**rec.get("labels", {}), **labels}
            data["snapshots"][name] = rec
            self._save(data)
        self._committed(rec["id"])

    def _committed(self, sid: str) -> None:
        """After commit: drop what only an active snapshot needs (overlay's workdir)."""

    def remove(self, key: str) -> None:
        with self._lock():
            data = self._load()
            rec = self._get(data, key)
            if any(r.get("parent") == key for r in data["snapshots"].values()):
                raise SnapshotConflict(f"cannot remove snapshot {key} with child")
            del data["snapshots"][key]
            try:
                self._save(data)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                # a full disk (often this very snapshot filled it): free its space first, then record
                self._rmtree(self.home / rec["id"])
                self._save(data)
            live = {r["id"] for r in data["snapshots"].values()}
            # this one plus any orphan a crash left between mkdir and the record
            doomed = [d for d in self.home.iterdir() if d.is_dir() and d.name.isdigit() and d.name not in live]
            for d in doomed:
                self._rmtree(d)

    def walk(self) -> Iterator[Info]:
        data = self._load()
        snaps: dict[str, dict[str, Any]] = data["snapshots"]
        done: set[str] = set()

        def emit(key: str) -> Iterator[Info]:
            if key in done:
                return
            parent = snaps[key].get("parent", "")
            if parent and parent in snaps:
                yield from emit(parent)
            done.add(key)
            yield self._info(key, snaps[key])

        for key in sorted(snaps):
            yield from emit(key)

    def close(self) -> None:
        pass

    # --- helpers --------------------------------------------------------------------------

    def _rmtree(self, d: Path) -> None:
        if not d.exists():
            return
        if self.idmap is not None:
            path = str(d)
            run_in_userns(lambda: shutil.rmtree(path), self.idmap)
        else:
            shutil.rmtree(d)
