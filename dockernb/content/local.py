"""The content store on disk: ``<root>/content/blobs/<alg>/<hex>`` plus resumable ingests (L2).

An ingest lives in ``<root>/content/ingest/<sha256(ref)>/`` (``data``, ``meta.json``, ``lock``).
Bytes are hashed as they are written; a writer reopened after a crash (even kill -9) re-hashes the
partial ``data`` once and continues at ``offset``, so a resumed download asks only for the rest.
``commit`` fsyncs, verifies and renames into ``blobs/`` atomically: a reader sees a whole, verified
blob or none. Extra read-only stores (other roots, ``DOCKERNB_IMAGE_STORES``) serve reads only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dockernb.config import Config
from dockernb.content.base import Info, Status
from dockernb.errors import DigestMismatch, IngestLocked, InvalidArgument, NoSuchContent, NotFound
from dockernb.spec.digest import Digest
from dockernb.store.atomic import read_json, write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock, LockTimeout

__all__ = ["LocalContentStore", "LocalWriter"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def _blobs_dir(path: Path) -> Path | None:
    """Accept another root (``<p>/content/blobs``) or a content dir (``<p>/blobs``)."""
    for candidate in (path / "content" / "blobs", path / "blobs"):
        if candidate.is_dir():
            return candidate
    return None


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class LocalContentStore:
    """A :class:`~dockernb.content.base.ContentStore` under one state root."""

    @classmethod
    def from_config(cls, config: Config) -> LocalContentStore:
        """The store of ``config.root``, reading also from ``config.image_stores``."""
        return cls(Layout(config.root), extra_stores=config.image_stores)

    def __init__(self, layout: Layout, *, extra_stores: Sequence[Path] = ()) -> None:
        self.layout = layout
        self._extra = [d for d in (_blobs_dir(p) for p in extra_stores) if d is not None]

    # --- reading ------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        """Where ``digest`` lives (or would live) in this root."""
        return self.layout.blobs / digest.algorithm / digest.hex

    def _find(self, digest: Digest) -> tuple[Path, bool]:
        own = self.blob_path(digest)
        if own.exists():
            return own, False
        for base in self._extra:
            p = base / digest.algorithm / digest.hex
            if p.exists():
                return p, True
        raise NoSuchContent(str(digest))

    def info(self, digest: Digest) -> Info:
        path, ro = self._find(digest)
        st = path.stat()
        return Info(digest, st.st_size, _utc(st.st_mtime), ro)

    def open_reader(self, digest: Digest) -> BinaryIO:
        path, _ = self._find(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError as err:  # deleted between the check and the open
            raise NoSuchContent(str(digest)) from err

    def walk(self) -> Iterator[Info]:
        if not self.layout.blobs.is_dir():
            return
        for alg_dir in sorted(self.layout.blobs.iterdir()):
            for entry in sorted(alg_dir.iterdir()):
                try:
                    digest = Digest.parse(f"{alg_dir.name}:{entry.name}")
                    st = entry.stat()
                except (InvalidArgument, OSError):
                    continue  # a stray file is not content
                yield Info(digest, st.st_size, _utc(st.st_mtime))

    def delete(self, digest: Digest) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError:
            raise NoSuchContent(str(digest)) from None
        log.debug("deleted blob %s", digest)

    def put(self, data: bytes, *, expected: Digest | None = None) -> Digest:
        """Store a small blob (a manifest, a config) in one call; returns its digest."""
        digest = expected or Digest.of(data)
        if self.blob_path(digest).exists():
            if Digest.of(data) != digest:
                raise DigestMismatch(str(Digest.of(data)), str(digest))
            return digest
        try:
            writer = self.writer(f"put-{digest}", expected=digest, size=len(data))
        except IngestLocked:
            # another process is storing these very bytes: its commit is ours
            deadline = time.monotonic() + 30
            while not self.blob_path(digest).exists():
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
            return digest
        with writer as w:
            w.truncate(0)
            w.write(data)
            return w.commit()

    # --- ingesting ----------------------------------------------------------------------

    def _ingest_dir(self, ref: str) -> Path:
        return self.layout.ingest / hashlib.sha256(ref.encode()).hexdigest()

    def writer(self, ref: str, *, expected: Digest | None = None, size: int = -1) -> LocalWriter:
        if not ref:
            raise InvalidArgument("ingest ref must not be empty")
        d = self._ingest_dir(ref)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(d / "lock", timeout=0)
        try:
            lock.acquire()
        except LockTimeout:
            raise IngestLocked(ref) from None
        try:
            return LocalWriter(self, d, lock, ref, expected, size)
        except BaseException:
            lock.release()
            raise

    def status(self, ref: str) -> Status:
        d = self._ingest_dir(ref)
        try:
            meta = read_json(d / "meta.json")
            st = os.stat(d / "data")
        except (OSError, ValueError):
            raise NotFound(f"ingest {ref}: not found") from None
        return Status(
            ref=meta["ref"],
            offset=st.st_size,
            total=int(meta.get("total", -1)),
            expected=Digest.parse(meta["expected"]) if meta.get("expected") else None,
            started_at=datetime.fromisoformat(meta["started_at"]),
            updated_at=_utc(st.st_mtime),
        )

    def list_statuses(self) -> list[Status]:
        out = []
        if self.layout.ingest.is_dir():
            for d in sorted(self.layout.ingest.iterdir()):
                try:
                    ref = read_json(d / "meta.json")["ref"]
                    out.append(self.status(ref))
                except (OSError, ValueError, KeyError, NotFound):
                    continue
        return out

    def abort(self, ref: str) -> None:
        d = self._ingest_dir(ref)
        if not d.exists():
            raise NotFound(f"ingest {ref}: not found")
        lock = FileLock(d / "lock", timeout=0)
        try:
            lock.acquire()
        except LockTimeout:
            raise IngestLocked(ref) from None
        try:
            shutil.rmtree(d, ignore_errors=True)
        finally:
            lock.release()


class LocalWriter:
    """A writer on ``ingest/<h>/data``; hashes as it writes, holds the ref's flock until closed."""

    def __init__(
        self, store: LocalContentStore, d: Path, lock: FileLock, ref: str, expected: Digest | None, size: int
    ) -> None:
        self._store, self._dir, self._lock = store, d, lock
        self._ref = ref
        self.expected = expected
        self.total = size
        meta_path = d / "meta.json"
        meta: dict[str, object] = {}
        try:
            meta = read_json(meta_path)
        except (OSError, ValueError):
            meta = {}
        if meta.get("expected") != (str(expected) if expected else None) or meta.get("ref") != ref:
            # a different blob under the same ref (or no metadata): start over
            meta = {"ref": ref, "expected": str(expected) if expected else None,
                    "started_at": datetime.now(UTC).isoformat()}
            (d / "data").unlink(missing_ok=True)
        meta["total"] = size
        write_json(meta_path, meta, sync=False)
        self._fd = os.open(d / "data", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._hash = hashlib.new(expected.algorithm if expected else "sha256")
        self._offset = 0
        self._rehash()

    def _rehash(self) -> None:
        """Re-read the partial data once (after a crash the hash state is gone, the bytes are not)."""
        os.lseek(self._fd, 0, os.SEEK_SET)
        while chunk := os.read(self._fd, _CHUNK):
            self._hash.update(chunk)
            self._offset += len(chunk)
        if self._offset:
            log.debug("resuming ingest %s at %d", self._ref, self._offset)

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._offset

    def write(self, data: bytes | memoryview) -> int:
        if self._fd < 0:
            raise InvalidArgument(f"ingest {self._ref} is closed")
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        self._hash.update(view)
        self._offset += done
        return done

    def digest(self) -> Digest:
        return Digest(self._hash.name, self._hash.hexdigest())

    def hash_state(self) -> hashlib._Hash:
        """A copy of the running hash of the bytes written so far (to resume a verified download there)."""
        return self._hash.copy()

    def open_written(self) -> _Limited:
        """A reader over the bytes written so far (a resumed pull replays them into its extraction)."""
        fd = os.open(self._dir / "data", os.O_RDONLY | os.O_CLOEXEC)
        f = os.fdopen(fd, "rb")
        return _Limited(f, self._offset)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self._hash = hashlib.new(self._hash.name)
        self._offset = 0
        self._rehash()

    def commit(self, size: int = -1, expected: Digest | None = None) -> Digest:
        size = size if size >= 0 else self.total
        expected = expected or self.expected
        got = self.digest()
        try:
            if size >= 0 and self._offset != size:
                raise DigestMismatch(str(self._offset), str(size), what="size")
            if expected is not None and got != expected:
                raise DigestMismatch(str(got), str(expected))
        except DigestMismatch:
            self._discard()
            raise
        target = self._store.blob_path(got)
        os.fsync(self._fd)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if target.exists():
            self._discard()  # someone committed the same bytes first: nothing to do
            return got
        os.fchmod(self._fd, 0o444)  # blobs are immutable
        os.rename(self._dir / "data", target)
        dfd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._discard()
        log.debug("committed %s (%d bytes)", got, size)
        return got

    def _discard(self) -> None:
        self._close_fd()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._lock.release()

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        self._close_fd()
        self._lock.release()

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Limited:
    """A read-only view of the first ``limit`` bytes of a file (the part of an ingest written so far)."""

    def __init__(self, f: BinaryIO, limit: int) -> None:
        self._f = f
        self._left = limit

    def read(self, n: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._f.read(want)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> _Limited:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
