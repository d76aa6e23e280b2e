"""``docker pull``: registry -> content store -> snapshots -> image record (layer L6).

This module asks the registry what the reference names (a HEAD first: an image already present
costs one request and no further import), then hands the missing layers to
:mod:`dockernb.engine.fetch` and registers the image when they are all unpacked. How the bytes
flow (the pull is bound by unpacking, so each byte is read from the network once):

* layers are downloaded three at a time, as docker does, lowest first;
* a layer whose parent chain is ready when its download starts is **streamed**: one
  :class:`~dockernb.registry.BlobReader` (hashing as it reads) feeds a tee that appends every
  chunk to the layer's content ingest and hands it to ``unpack_layer``, which decompresses and
  extracts it on two cores. The blob is committed to the content store once the snapshot is;
* a layer whose parent is still being extracted is downloaded into the content store only and
  unpacked from there when its parent is ready (from the page cache: the bytes were just written);
* an interrupted pull (even ``kill -9``) leaves partial ingests behind: the next pull resumes each
  at its offset with a ``Range`` request, replaying the bytes it has into the extraction;
* nothing is registered until every layer is unpacked and verified: a digest mismatch discards
  that ingest and raises, and the image record is written last, in one transaction.

Progress is reported as :class:`~dockernb.spec.events.ProgressMessage` records, docker's JSON
progress messages, from the worker threads through a queue that the caller's iterator drains.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dockernb.errors import NoSpaceLeft, NoSuchContent
from dockernb.images.gc import gc_lock
from dockernb.images.records import BlobRef, ImageRecord, LayerRecord, utc_now
from dockernb.spec.digest import Digest
from dockernb.spec.events import ProgressMessage
from dockernb.spec.oci import Descriptor, Platform
from dockernb.spec.reference import Reference

if TYPE_CHECKING:
    from dockernb.engine.fetch import FetchLayer
    from dockernb.engine.images import ImageService
    from dockernb.registry import Resolved

__all__ = ["pull_image"]


def _register(svc: ImageService, ref: Reference, resolved: Resolved, layers: list[FetchLayer]) -> bool:
    """Store the manifest and config, write the record and the names; True if the name moved."""
    svc.content.put(resolved.manifest_bytes, expected=resolved.manifest_descriptor.digest)
    svc.content.put(resolved.config_bytes, expected=resolved.manifest.config.digest)
    image_id = str(resolved.manifest.config.digest)
    config = resolved.config
    repo_digest = f"{ref.name}@{resolved.descriptor.digest}"
    with svc.store.edit() as tx:
        old = tx.view.get(image_id)
        record = ImageRecord(
            id=image_id,
            layers=[LayerRecord(str(x.diff_id), BlobRef(str(x.desc.digest), x.desc.media_type, x.desc.size), x.size)
                    for x in layers],  # fmt: skip
            manifest=BlobRef(str(resolved.manifest_descriptor.digest), resolved.manifest.media_type,
                             resolved.manifest_descriptor.size),  # fmt: skip
            created=config.created,
            added=old.added if old and old.added else utc_now(),
            last_tag_time=old.last_tag_time if old else None,
            parent=old.parent if old else "",
            platform=str(config.platform),
            labels=dict(config.config.labels),
        )
        tx.put_image(record)
        name = str(ref) if ref.digest is None else repo_digest
        before = tx.view.refs.get(name)
        if ref.digest is None:
            tx.set_ref(name, image_id)
        tx.set_ref(repo_digest, image_id)
    return before != image_id


def _up_to_date(svc: ImageService, ref: Reference, top: Descriptor, wanted: Platform) -> ImageRecord | None:
    view = svc.store.view()
    image_id = view.refs.get(f"{ref.name}@{top.digest}")
    rec = view.get(image_id) if image_id else None
    if rec is None or (rec.platform and not Platform.parse(rec.platform).matches(wanted)):
        return None
    try:
        svc.content.info(Digest.parse(rec.id))
    except NoSuchContent:
        return None
    return rec


def pull_image(svc: ImageService, ref: Reference, platform: Platform | None) -> Iterator[ProgressMessage]:
    """Pull one reference (tag or digest); see the module docstring. The last message is the Status line."""
    wanted = platform or Platform.host()
    shown = ref.tag if ref.digest is None else str(ref.digest)
    assert shown is not None
    name = ref.familiar
    top = svc.registry.head(ref)
    current = _up_to_date(svc, ref, top, wanted)
    if current is not None:
        yield ProgressMessage(status=f"Pulling from {ref.path}", id=shown)
        moved = False
        if ref.digest is None and svc.store.view().refs.get(str(ref)) != current.id:
            with svc.store.edit() as tx:
                tx.set_ref(str(ref), current.id)
            moved = True
        yield ProgressMessage(status=f"Digest: {top.digest}")
        status = "Downloaded newer image for" if moved else "Image is up to date for"
        yield ProgressMessage(status=f"Status: {status} {name}")
        return
    resolved = svc.registry.resolve(ref, platform)
    yield ProgressMessage(status=f"Pulling from {ref.path}", id=shown)
    from dockernb.engine.fetch import plan_layers, run_layers

    try:
        with gc_lock(svc.layout, shared=True):
            layers = plan_layers(svc, resolved)
            yield from run_layers(svc, resolved, layers)
            moved = _register(svc, ref, resolved, layers)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise NoSpaceLeft(str(svc.layout.root)) from err
        raise
    yield ProgressMessage(status=f"Digest: {resolved.descriptor.digest}")
    status = "Downloaded newer image for" if moved else "Image is up to date for"
    yield ProgressMessage(status=f"Status: {status} {name}")


