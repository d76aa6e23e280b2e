"""From content to snapshots: unpack an image's layers, or add a new layer from a tar (layer L3).

A pull streams most layers straight from the network into their snapshots (engine/pull.py);
what is left to do later goes through here: an image whose snapshots this root does not have yet
(loaded from an archive, or visible from a read-only image store) is unpacked from its blobs on
first use, and a layer made here (``docker import``, ``commit``, a build step) is stored as a blob
and unpacked on top of its parent in one read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Protocol

from dockernb.content.local import LocalContentStore
from dockernb.errors import InvalidLayer, NoSuchContent, NoSuchSnapshot
from dockernb.images.records import BlobRef, ImageRecord, LayerRecord
from dockernb.layers.compression import RawReader, detect
from dockernb.layers.unpack import SnapshotTarget, UnpackResult, chain_id, unpack_layer
from dockernb.linux.mount import IdMap
from dockernb.spec.digest import Digest
from dockernb.spec.oci import MediaType

__all__ = ["LayerProgress", "add_layer", "is_unpacked", "missing_layers", "unpack_image"]

#: progress(layer index, compressed bytes read, total compressed bytes)
LayerProgress = Callable[[int, int, int], None]


class _Stat(Protocol):
    def stat(self, key: str) -> object: ...


def _has(snapshotter: _Stat, key: str) -> bool:
    try:
        snapshotter.stat(key)
    except NoSuchSnapshot:
        return False
    return True


def is_unpacked(record: ImageRecord, snapshotter: _Stat) -> bool:
    """Does this root hold the image's whole filesystem (its top chain)?"""
    return not record.layers or _has(snapshotter, record.top_chain)


def missing_layers(record: ImageRecord, snapshotter: _Stat) -> list[int]:
    """Indexes of the layers whose chain this root lacks (bottom first)."""
    return [i for i, chain in enumerate(record.chain_ids) if not _has(snapshotter, chain)]


def unpack_image(
    record: ImageRecord,
    content: LocalContentStore,
    snapshotter: SnapshotTarget,
    *,
    idmap: IdMap | None = None,
    progress: LayerProgress | None = None,
) -> list[UnpackResult]:
    """Make every chain of the image exist in ``snapshotter`` (idempotent; a present chain is not read).

    Raises:
        NoSuchSnapshot: a layer made here lost its snapshot and has no blob to unpack it from.
        NoSuchContent: a layer's blob is gone. DigestMismatch, InvalidLayer, NoSpaceLeft: from unpacking.
    """
    results = []
    parent = ""
    for i, layer in enumerate(record.layers):
        chain = chain_id(parent, layer.diff_id)
        if _has(snapshotter, chain):
            parent = chain
            continue
        blob = layer.blob
        if blob is None:
            raise NoSuchSnapshot(chain)
        content.info(Digest.parse(blob.digest))  # NoSuchContent before any snapshot work
        total = blob.size

        def report(done: int, _uncompressed: int, i: int = i, total: int = total) -> None:
            if progress is not None:
                progress(i, done, total)

        digest = Digest.parse(blob.digest)

        def open_blob(digest: Digest = digest) -> RawReader:
            return content.open_reader(digest)

        res = unpack_layer(snapshotter, open_blob, parent=parent, diff_id=Digest.parse(layer.diff_id),
                           media_type=blob.media_type, idmap=idmap, progress=report)  # fmt: skip
        if res.applied and not layer.size:
            layer.size = res.content_size
        results.append(res)
        parent = res.chain_id
    return results


class _Hashing:
    """Hashes what passes through (the stored blob's digest) and remembers the first bytes (its compression)."""

    def __init__(self, raw: RawReader, sink: Callable[[bytes], object]) -> None:
        self.raw = raw
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""

    def read(self, n: int = -1, /) -> bytes:
        data = self.raw.read(n)
        if data:
            self.hash.update(data)
            self.sink(data)
            self.size += len(data)
            if len(self.head) < 4:
                self.head = (self.head + data)[:4]
        return data


def add_layer(
    content: LocalContentStore,
    snapshotter: SnapshotTarget,
    stream: RawReader,
    *,
    parent: str = "",
    idmap: IdMap | None = None,
    docker_media_types: bool = False,
) -> tuple[LayerRecord, str]:
    """Store a layer tar (plain, gzip or zstd) as a blob and unpack it on ``parent``, reading it once.

    Returns the layer's record (diff_id, blob, content size) and its chain id. Used by ``import``,
    ``commit`` and build steps. Raises InvalidLayer (not a tar), NoSpaceLeft.
    """
    ref = f"layer-add-{uuid.uuid4().hex}"
    writer = content.writer(ref)
    try:
        tee = _Hashing(stream, writer.write)
        res = unpack_layer(snapshotter, tee, parent=parent, idmap=idmap)
        while tee.read(1 << 20):  # whatever follows the end of the tar is part of the blob too
            pass
        digest = writer.commit()
    except BaseException:
        writer.close()
        content.abort(ref)
        raise
    kind = detect(tee.head)
    if kind == "gzip":
        media_type = MediaType.DOCKER_LAYER_GZIP if docker_media_types else MediaType.OCI_LAYER_GZIP
    elif kind == "zstd":
        media_type = MediaType.OCI_LAYER_ZSTD
    else:
        media_type = MediaType.DOCKER_LAYER if docker_media_types else MediaType.OCI_LAYER
    if tee.size == 0:
        raise InvalidLayer("empty layer stream")
    record = LayerRecord(str(res.diff_id), BlobRef(str(digest), media_type, tee.size), res.content_size)
    return record, res.chain_id


def layer_blob_or_none(content: LocalContentStore, layer: LayerRecord) -> Digest | None:
    """The layer's blob digest when the blob is present (this root or a read-only store)."""
    if layer.blob is None:
        return None
    digest = Digest.parse(layer.blob.digest)
    try:
        content.info(digest)
    except NoSuchContent:
        return None
    return digest
