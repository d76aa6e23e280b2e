"""Where everything lives under a dockernb state root (the only module that builds these paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Paths under one state root::

        <root>/content/blobs/sha256/<hex>      blobs (layers, configs, manifests)
        <root>/content/ingest/<ref>            partial downloads (resumable)
        <root>/snapshots/<driver>/...          layer snapshots
        <root>/images.json                     image records (names -> manifests)
        <root>/containers/<id>/                config, state, logs, sockets of one container
        <root>/volumes/<name>/_data            named volumes
        <root>/networks/                       network records
        <root>/build/cache/<key>               build cache: step key -> image id
        <root>/events/events.log               the event log (docker events), JSON lines
        <root>/locks/                          lock files
        <root>/tmp/                            scratch on the same filesystem (for atomic renames)
    """

    root: Path

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def blobs(self) -> Path:
        return self.root / "content" / "blobs"

    @property
    def ingest(self) -> Path:
        return self.root / "content" / "ingest"

    def snapshots(self, driver: str) -> Path:
        return self.root / "snapshots" / driver

    @property
    def images_file(self) -> Path:
        return self.root / "images.json"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    def container(self, container_id: str) -> Path:
        return self.root / "containers" / container_id

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def networks(self) -> Path:
        return self.root / "networks"

    @property
    def build_cache(self) -> Path:
        return self.root / "build" / "cache"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def lock(self, name: str) -> Path:
        return self.root / "locks" / f"{name}.lock"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def ensure(self) -> None:
        """Create the top-level directories (idempotent); the root is private to its owner."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o711)
        for d in (self.blobs, self.ingest, self.containers, self.volumes, self.networks, self.locks, self.tmp):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
