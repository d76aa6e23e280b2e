"""The content store's roles, as small Protocols (containerd's content.go split), and its records (L2).

A caller asks for the smallest role it needs: the unpacker only a :class:`Provider`, the
registry client an :class:`Ingester` (plus :class:`InfoProvider` to skip blobs it has), image
GC a :class:`Manager`. :class:`ContentStore` composes them all.

Lifecycle of a blob::

    w = store.writer("layer-sha256:ab..", expected=digest, size=n)   # resumes a partial ingest
    w.write(chunk) ...                                                 # hashed as it arrives
    w.commit()            # verifies size + digest, renames into place; DigestMismatch otherwise
    store.open_reader(digest)                                          # readers see only committed blobs
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from dockernb.spec.digest import Digest

__all__ = [
    "ContentStore",
    "Info",
    "InfoProvider",
    "IngestManager",
    "Ingester",
    "Manager",
    "Provider",
    "Status",
    "Writer",
]


@dataclass(frozen=True, slots=True)
class Info:
    """A committed blob: its digest, size in bytes and when it was committed."""

    digest: Digest
    size: int
    created_at: datetime
    #: True when the blob lives in one of the extra read-only stores, not in this root
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Status:
    """An ingest in progress (or interrupted): how far it got."""

    ref: str
    offset: int
    total: int
    expected: Digest | None
    started_at: datetime
    updated_at: datetime


class Writer(Protocol):
    """One ingest. ``offset`` is where the next byte goes (non-zero when resuming)."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int: ...

    def write(self, data: bytes | memoryview) -> int: ...

    def digest(self) -> Digest:
        """The digest of the bytes written so far."""
        ...

    def truncate(self, size: int) -> None:
        """Forget everything after ``size`` bytes (0 restarts the ingest)."""
        ...

    def commit(self, size: int = -1, expected: Digest | None = None) -> Digest:
        """Verify and register the blob. ``size``/``expected`` default to the writer's.

        Raises:
            DigestMismatch: size or digest differ; the ingest is discarded, nothing is registered.
        """
        ...

    def close(self) -> None:
        """Release the ref without committing: the partial data stays for a later resume."""
        ...


class Provider(Protocol):
    def open_reader(self, digest: Digest) -> BinaryIO:
        """An open file on a committed blob. Raises NoSuchContent."""
        ...


class InfoProvider(Protocol):
    def info(self, digest: Digest) -> Info:
        """Raises NoSuchContent."""
        ...


class Ingester(Protocol):
    def writer(self, ref: str, *, expected: Digest | None = None, size: int = -1) -> Writer:
        """Open (or resume) the ingest ``ref``. Raises IngestLocked while another writer has it."""
        ...


class IngestManager(Protocol):
    def status(self, ref: str) -> Status: ...

    def list_statuses(self) -> list[Status]: ...

    def abort(self, ref: str) -> None:
        """Drop a partial ingest. Raises NotFound when there is none, IngestLocked when in use."""
        ...


class Manager(InfoProvider, Protocol):
    def walk(self) -> Iterator[Info]:
        """Every committed blob of this root (not of the extra read-only stores)."""
        ...

    def delete(self, digest: Digest) -> None:
        """Raises NoSuchContent (also for blobs only present in a read-only store)."""
        ...


class ContentStore(Provider, Ingester, IngestManager, Manager, Protocol):
    """Everything above: what the engine wires up once per root."""
