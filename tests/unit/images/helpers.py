"""Builders for the image unit tests: a service on a temporary root over a fake registry, hand-made images."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from dockernb.config import Config
from dockernb.engine.image_types import ImageUse
from dockernb.engine.images import ImageService
from dockernb.images.records import BlobRef, ImageRecord, LayerRecord
from dockernb.registry import MemoryCredentials, RegistryClient, Request, Response, Retry
from dockernb.spec.digest import Digest
from dockernb.spec.events import ProgressMessage
from dockernb.testing.registry import FakeTransport, MemoryRegistry
from tests.unit.layers.tarmaker import d, f, make

FAST = Retry(attempts=4, backoff=0.0)
HOST = "registry.test"


def layer_data(name: str, size: int = 1000, seed: int = 0) -> bytes:
    """The content of ``<name>/data`` in :func:`layer_tar`."""
    if not seed:
        return (name.encode() * (size // max(len(name), 1) + 1))[:size]
    return bytes((i * seed + i // 7) % 251 for i in range(size))


def layer_tar(name: str, size: int = 1000, *, compress: str = "gzip", seed: int = 0) -> bytes:
    """A layer with one directory and one file ``<name>/data`` of ``size`` bytes."""
    return make(d(name), f(f"{name}/data", layer_data(name, size, seed)), compress=compress)


class Users:
    """The container service's side of ``register_users``, by hand."""

    def __init__(self) -> None:
        self.uses: list[ImageUse] = []

    def __call__(self) -> Iterable[ImageUse]:
        return list(self.uses)


class Concurrency:
    """A transport wrapper that delays blob GETs and records how many were in flight at once."""

    def __init__(self, inner: FakeTransport, delay: float = 0.05) -> None:
        self.inner, self.delay = inner, delay
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        blob = request.method == "GET" and "/blobs/sha256:" in request.url
        if blob:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(self.delay)
            with self.lock:
                self.now -= 1
        return self.inner.handle(request)

    def close(self) -> None:
        pass


def service(tmp_path: Path, reg: MemoryRegistry | None = None, *, users: Users | None = None,
            transport: object = None, stores: tuple[Path, ...] = ()) -> ImageService:  # fmt: skip
    cfg = Config(root=tmp_path / "root", storage_driver="native", image_stores=stores,
                 credentials_file=tmp_path / "docker" / "config.json")  # fmt: skip
    client = None
    if reg is not None or transport is not None:
        client = RegistryClient(cfg, MemoryCredentials(), transport=transport or reg.transport(),  # type: ignore[union-attr,arg-type]
                                retry=FAST)  # fmt: skip
    return ImageService(cfg, registry=client, users=users)


def drain(messages: Iterable[ProgressMessage]) -> list[ProgressMessage]:
    return list(messages)


def lines(messages: Iterable[ProgressMessage]) -> list[str]:
    """What a non-TTY docker client prints for these (state changes only)."""
    out = []
    for m in messages:
        if m.has_progress or m.status == "Verifying Checksum":
            continue
        out.append(f"{m.id}: {m.status}" if m.id else m.status)
    return out


def add_record(svc: ImageService, *, tags: Iterable[str] = (), digests: Iterable[str] = (), parent: str = "",
               created: datetime | None = None, labels: dict[str, str] | None = None, layers: int = 1,
               seed: str = "") -> ImageRecord:  # fmt: skip
    """Register an image whose config is a real blob (its layers exist only as names: no snapshots)."""
    diff_ids = [str(Digest.of(f"{seed}{i}{created}{parent}".encode())) for i in range(layers)]
    created = created or datetime(2020, 1, 1, tzinfo=UTC)
    config = {"architecture": "amd64", "os": "linux", "created": created.isoformat().replace("+00:00", "Z"),
              "config": {"Labels": labels or None, "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created_by": f"step {i}"} for i in range(layers)], "seed": seed}  # fmt: skip
    data = json.dumps(config).encode()
    image_id = str(svc.content.put(data))
    rec = ImageRecord(id=image_id, layers=[LayerRecord(d, BlobRef(d, "application/vnd.oci.image.layer.v1.tar", 10),
                                                       100 * (i + 1)) for i, d in enumerate(diff_ids)],
                      created=created, parent=parent, labels=dict(labels or {}), platform="linux/amd64")  # fmt: skip
    with svc.store.edit() as tx:
        tx.put_image(rec)
        for ref in list(tags) + list(digests):
            tx.set_ref(ref, image_id)
    return rec


def gz(data: bytes) -> bytes:
    return gzip.compress(data)
