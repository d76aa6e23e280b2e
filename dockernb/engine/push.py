"""``docker push``: content store -> registry, and the tag listing ``pull -a`` needs (layer L6).

Like docker's pushV2Tag: every layer blob is skipped when the repository has it (HEAD), mounted
from another repository of the same registry that this image was pulled from, or uploaded; then
the config, then the manifest under the tag. An image pulled with a manifest is pushed with that
very manifest (same digest); an image made here (build, commit, import, load) gets a Docker v2
schema 2 manifest, its uncompressed layers gzipped once and kept as blobs. Afterwards the local
image carries the pushed repo digest, as docker records it.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from dockernb.errors import InternalError, NotFound
from dockernb.images.gc import gc_lock
from dockernb.images.records import BlobRef, ImageRecord
from dockernb.spec.digest import Digest
from dockernb.spec.events import LayerStatus, ProgressMessage
from dockernb.spec.oci import Descriptor, MediaType
from dockernb.spec.reference import Reference, parse_reference

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService

__all__ = ["list_tags", "push_image"]

_UNCOMPRESSED = {MediaType.DOCKER_LAYER, MediaType.OCI_LAYER}
Emit = Callable[[ProgressMessage], None]


def list_tags(svc: ImageService, ref: Reference) -> list[str]:
    return svc.registry.list_tags(ref)


def _threaded(work: Callable[[Emit], None]) -> Iterator[ProgressMessage]:
    """Run ``work(emit)`` in a thread and yield what it emits (progress callbacks cannot yield)."""
    events: queue.SimpleQueue[ProgressMessage | BaseException | None] = queue.SimpleQueue()

    def run() -> None:
        try:
            work(events.put)
            events.put(None)
        except BaseException as err:  # noqa: BLE001 - re-raised by the iterator
            events.put(err)

    t = threading.Thread(target=run, name="dockernb-push", daemon=True)
    t.start()
    try:
        while (item := events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        t.join()


def _gzip_layer(svc: ImageService, blob: BlobRef) -> BlobRef:
    """Compress an uncompressed layer blob for distribution (once: the result is kept as a blob)."""
    from dockernb.layers.compression import RawReader  # noqa: F401 - typing of the source

    try:
        from isal import isal_zlib as zlib_impl
    except ImportError:  # pragma: no cover - isal is a dependency
        import zlib as zlib_impl  # type: ignore[no-redef]

    ref = f"push-gzip-{uuid.uuid4().hex}"
    writer = svc.content.writer(ref)
    try:
        comp = zlib_impl.compressobj(zlib_impl.Z_DEFAULT_COMPRESSION, zlib_impl.DEFLATED, 16 + zlib_impl.MAX_WBITS)
        with svc.content.open_reader(Digest.parse(blob.digest)) as src:
            while chunk := src.read(1 << 20):
                out = comp.compress(chunk)
                if out:
                    writer.write(out)
        writer.write(comp.flush())
        size = writer.offset
        digest = writer.commit()
    except BaseException:
        writer.close()
        svc.content.abort(ref)
        raise
    return BlobRef(str(digest), MediaType.DOCKER_LAYER_GZIP, size)


def _distributable(svc: ImageService, rec: ImageRecord) -> tuple[ImageRecord, bool]:
    """The record with every layer as a compressed blob; True when it changed (a new manifest is needed)."""
    changed = False
    for layer in rec.layers:
        if layer.blob is None:
            raise InternalError(f"layer {layer.diff_id} of {rec.short_id} has no blob to push")
        if layer.blob.media_type in _UNCOMPRESSED:
            layer.blob = _gzip_layer(svc, layer.blob)
            changed = True
    if changed:
        with svc.store.edit() as tx:
            own = tx.image(rec.id)
            own.layers = rec.layers
    return rec, changed


def _manifest_for(svc: ImageService, rec: ImageRecord, config: bytes, fresh: bool) -> tuple[bytes, str]:
    if rec.manifest is not None and not fresh:
        with svc.content.open_reader(Digest.parse(rec.manifest.digest)) as f:
            return f.read(), rec.manifest.media_type
    layers = []
    for layer in rec.layers:
        assert layer.blob is not None
        media_type = layer.blob.media_type
        if media_type == MediaType.OCI_LAYER_GZIP:
            media_type = MediaType.DOCKER_LAYER_GZIP
        layers.append({"mediaType": media_type, "size": layer.blob.size, "digest": layer.blob.digest})
    doc = {
        "schemaVersion": 2,
        "mediaType": MediaType.DOCKER_MANIFEST,
        "config": {"mediaType": MediaType.DOCKER_CONFIG, "size": len(config), "digest": rec.id},
        "layers": layers,
    }
    if any(x["mediaType"] == MediaType.OCI_LAYER_ZSTD for x in layers):  # zstd has no docker media type
        doc["mediaType"] = MediaType.OCI_MANIFEST
        doc["config"]["mediaType"] = MediaType.OCI_CONFIG  # type: ignore[index]
    data = json.dumps(doc, indent=3).encode()
    return data, str(doc["mediaType"])


def push_image(svc: ImageService, text: str) -> Iterator[ProgressMessage]:
    ref = parse_reference(text)
    target = ref.with_default_tag()
    view = svc.store.view()
    image_id = view.refs.get(str(target))
    rec = view.get(image_id) if image_id else None
    if rec is None:
        raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    # a repository of the same registry this image came from: its blobs can be mounted, not uploaded
    mount_from = next((parse_reference(r) for r in view.digests_of(rec.id)
                       if parse_reference(r).domain == target.domain and parse_reference(r).path != target.path),
                      None)  # fmt: skip
    yield ProgressMessage(status=f"The push refers to repository [{target.name}]")

    def work(emit: Emit) -> None:
        with gc_lock(svc.layout, shared=True):
            pushed, fresh = _distributable(svc, ImageRecord.from_json(rec.id, rec.to_json()))
            for layer in reversed(pushed.layers):
                emit(ProgressMessage(status=LayerStatus.PREPARING, id=Digest.parse(layer.diff_id).short))
            for layer in reversed(pushed.layers):
                assert layer.blob is not None
                short = Digest.parse(layer.diff_id).short
                blob = layer.blob
                desc = Descriptor(blob.media_type, Digest.parse(blob.digest), blob.size)
                total = blob.size

                def progress(done: int, short: str = short, total: int = total) -> None:
                    emit(ProgressMessage(status=LayerStatus.PUSHING, id=short, current=done, total=total))

                def source(blob: BlobRef = blob):  # type: ignore[no-untyped-def]  # noqa: ANN202
                    return svc.content.open_reader(Digest.parse(blob.digest))

                outcome = svc.registry.push_blob(target, desc, source, mount_from=mount_from, progress=progress)
                if outcome == "exists":
                    emit(ProgressMessage(status=LayerStatus.PUSH_EXISTS, id=short))
                elif outcome == "mounted" and mount_from is not None:
                    emit(ProgressMessage(status=f"{LayerStatus.MOUNTED} {mount_from.path}", id=short))
                else:
                    emit(ProgressMessage(status=LayerStatus.PUSHED, id=short))
            with svc.content.open_reader(Digest.parse(rec.id)) as f:
                config = f.read()
            config_desc = Descriptor(MediaType.DOCKER_CONFIG, Digest.parse(rec.id), len(config))
            svc.registry.push_blob(target, config_desc, config)
            data, media_type = _manifest_for(svc, pushed, config, fresh)
            digest = svc.registry.put_manifest(target, data, media_type)
            if rec.manifest is None or fresh:
                svc.content.put(data)
                with svc.store.edit() as tx:
                    tx.image(rec.id).manifest = BlobRef(str(digest), media_type, len(data))
            with svc.store.edit() as tx:
                tx.set_ref(f"{target.name}@{digest}", rec.id)
            emit(ProgressMessage(status=f"{target.tag}: digest: {digest} size: {len(data)}",
                                 aux={"Tag": target.tag, "Digest": str(digest), "Size": len(data)}))  # fmt: skip

    yield from _threaded(work)
