"""``docker save``/``load``/``import``/``export`` and the image rows of ``system df`` (layer L6).

The docker-archive format itself (manifest.json, repositories, layer directories) is
:mod:`dockernb.images.archive`'s; here the archives meet the stores: ``save`` decompresses each
layer blob once into the archive (checking it against its diff_id), ``load`` stores every file of
the archive it will need as a blob while it streams (configs in memory) and unpacks the layers
from there, ``import`` stores a rootfs tarball as the one layer of a new image, ``export`` writes
a snapshot's merged filesystem as a tar (mounted in a private mount namespace, never visible to
the host).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from dockernb.engine.image_types import DiskUsage, DiskUsageRow
from dockernb.errors import InvalidArgument, InvalidReference, NoSuchImage, NotFound, NotSupported
from dockernb.images import archive
from dockernb.images.gc import gc_lock, referenced_blobs, remove_blobs
from dockernb.images.records import BlobRef, ImageRecord, LayerRecord, utc_now
from dockernb.images.store import familiar
from dockernb.layers.unpack import chain_id, unpack_layer
from dockernb.spec.digest import Digest
from dockernb.spec.events import LayerStatus, ProgressMessage
from dockernb.spec.oci import Platform, parse_image_config
from dockernb.spec.reference import parse_reference

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService

__all__ = ["disk_usage", "export_snapshot", "import_image", "load_images", "save_images"]


# --- save ----------------------------------------------------------------------------------


def _select(svc: ImageService, names: Sequence[str]) -> list[tuple[ImageRecord, list[str]]]:
    """docker's parseNames: which images, and which of their tags go into RepoTags (in order)."""
    view = svc.store.view()
    chosen: dict[str, list[str]] = {}

    def add(image_id: str, tag: str | None) -> None:
        tags = chosen.setdefault(image_id, [])
        if tag is not None and tag not in tags:
            tags.append(tag)

    for name in names:
        rec = None
        try:
            ref = parse_reference(name)
        except InvalidReference:
            ref = None
        if ref is None or (ref.tag is None and ref.digest is None):
            if ref is not None:
                tags = [r for r in view.refs if "@" not in r and parse_reference(r).name == ref.name]
                for r in tags:
                    add(view.refs[r], r)
                if tags:
                    continue
            rec = view.search(name)
            if rec is None:
                try:
                    rec = view.lookup(name)
                except (NoSuchImage, InvalidReference):
                    raise NotFound("reference does not exist") from None
            add(rec.id, None)
            continue
        image_id = view.refs.get(str(ref))
        if image_id is None:
            raise NotFound("reference does not exist")
        add(image_id, str(ref) if ref.digest is None else None)
    out = []
    for image_id, tags in chosen.items():
        rec = view.get(image_id)
        assert rec is not None
        out.append((rec, tags))
    return out


def save_images(svc: ImageService, names: Sequence[str], out: BinaryIO) -> None:
    images = _select(svc, names)
    tmp = svc.layout.tmp
    tmp.mkdir(parents=True, exist_ok=True)
    writer = archive.ArchiveWriter(out)
    for rec, tags in images:
        config = _read_blob(svc, rec.id)
        layer_files: list[str] = []
        parent_v1 = ""
        for layer, chain in zip(rec.layers, rec.chain_ids, strict=True):
            v1 = archive.v1_id(chain, parent_v1)
            if not writer.has_layer(v1):
                if layer.blob is None:
                    raise NotSupported(f"layer {layer.diff_id} of {rec.short_id} has no blob to save")
                with tempfile.TemporaryFile(dir=tmp) as spool:
                    with svc.content.open_reader(Digest.parse(layer.blob.digest)) as blob:
                        archive.decompress_to(blob, spool, media_type=layer.blob.media_type,
                                              diff_id=Digest.parse(layer.diff_id))  # fmt: skip
                    writer.add_layer(v1, parent_v1, spool, created=rec.created)
            layer_files.append(f"{v1}/layer.tar")
            parent_v1 = v1
        writer.add_image(rec.id, config, [familiar(t) for t in tags], layer_files, top_v1=parent_v1,
                         created=rec.created)  # fmt: skip
    writer.close()


def _read_blob(svc: ImageService, digest: str) -> bytes:
    with svc.content.open_reader(Digest.parse(digest)) as f:
        return f.read()


# --- load ----------------------------------------------------------------------------------


def load_images(svc: ImageService, stream: BinaryIO) -> Iterator[ProgressMessage]:
    with gc_lock(svc.layout, shared=True):
        read = archive.read_archive(stream, svc.content)
        added = list(read.blobs.values())
        try:
            yield from _load_entries(svc, read)
        finally:
            # blobs the archive carried that no image uses (unreferenced files, a failed load)
            keep = referenced_blobs(svc.store.view())
            remove_blobs(svc.content, (str(b.digest) for b in added), keep)


def _load_entries(svc: ImageService, read: archive.ReadArchive) -> Iterator[ProgressMessage]:
    entries = read.manifest()
    for entry in entries:
        config_bytes = read.file(entry.config)
        config = parse_image_config(config_bytes)
        image_id = str(Digest.of(config_bytes))
        if len(config.diff_ids) != len(entry.layers):
            raise InvalidArgument(f"invalid manifest, layers length mismatch: expected {len(config.diff_ids)}, "
                                  f"got {len(entry.layers)}")  # fmt: skip
        layers: list[LayerRecord] = []
        parent = ""
        for path, diff_id in zip(entry.layers, config.diff_ids, strict=True):
            blob = read.blob(path)
            chain = chain_id(parent, diff_id)
            short = diff_id.short
            size = svc.layer_size(chain) if svc.has_snapshot(chain) else 0
            if not svc.has_snapshot(chain):
                events = _LoadProgress(short, blob.size)

                def open_blob(digest: Digest = blob.digest) -> BinaryIO:
                    return svc.content.open_reader(digest)

                res = unpack_layer(svc.snapshotter, open_blob, parent=parent, diff_id=diff_id,
                                   media_type=blob.media_type, idmap=svc.idmap, progress=events)  # fmt: skip
                yield from events.messages
                size = res.content_size or svc.layer_size(chain)
            layers.append(LayerRecord(str(diff_id), BlobRef(str(blob.digest), blob.media_type, blob.size), size))
            parent = chain
        svc.content.put(config_bytes)
        refs: list[str] = []
        for tag in entry.repo_tags:
            try:
                parsed = parse_reference(tag)
            except InvalidReference as err:
                raise InvalidArgument(f"invalid reference in archive: {tag}: {err}") from None
            if parsed.digest is not None or parsed.tag is None:
                raise InvalidArgument(f"invalid tag in archive: {tag}")
            refs.append(str(parsed))
        with svc.store.edit() as tx:
            old = tx.view.get(image_id)
            now = utc_now()
            tx.put_image(ImageRecord(
                id=image_id, layers=layers, manifest=old.manifest if old else None, parent=old.parent if old else "",
                created=config.created, added=old.added if old and old.added else now,
                last_tag_time=now if refs else (old.last_tag_time if old else None), platform=str(config.platform),
                labels=dict(config.config.labels),
            ))  # fmt: skip
            renamed = []
            for ref in refs:
                before = tx.set_ref(ref, image_id)
                if before is not None and before != image_id:
                    renamed.append((ref, before))
        for ref, before in renamed:
            yield ProgressMessage(status=f"The image {familiar(ref)} already exists, renaming the old one with ID "
                                         f"{before} to empty string")  # fmt: skip
        if refs:
            for ref in refs:
                yield ProgressMessage(status=f"Loaded image: {familiar(ref)}")
        else:
            yield ProgressMessage(status=f"Loaded image ID: {image_id}")


class _LoadProgress:
    """Collects ``Loading layer`` messages while a layer unpacks (they are yielded after it)."""

    def __init__(self, short: str, total: int) -> None:
        self.short, self.total, self.last = short, total, 0
        self.messages: list[ProgressMessage] = []

    def __call__(self, done: int, _uncompressed: int) -> None:
        if done - self.last >= 512 << 10 or done == self.total:
            self.last = done
            self.messages.append(ProgressMessage(status=LayerStatus.LOADING, id=self.short, current=done,
                                                 total=self.total))  # fmt: skip


# --- import / export -------------------------------------------------------------------------


def import_image(
    svc: ImageService, source: BinaryIO, *, repository: str = "", changes: Sequence[str] = (), message: str = "",
    platform: str = "", source_name: str = "-",
) -> str:
    from dockernb.build.apply import apply_changes
    from dockernb.build.image import History, ImageDoc, RunConfig, format_created

    tags: list[str] = []
    if repository:
        ref = parse_reference(repository)
        if ref.digest is not None:
            raise InvalidReference(repository, text="cannot import digest reference")
        tags.append(str(ref.with_default_tag()))
    run_config = apply_changes(RunConfig(), list(changes))
    wanted = Platform.parse(platform) if platform else Platform.host()
    layer, _chain = svc.add_layer(source)
    now = format_created(utc_now())
    comment = message or f"Imported from {source_name}"
    doc = ImageDoc(
        architecture=wanted.architecture, os=wanted.os, variant=wanted.variant, config=run_config, created=now,
        diff_ids=[layer.diff_id], history=[History(created=now, comment=comment)], extra={"comment": comment},
    )
    return svc.commit(doc.to_bytes(), [layer], tags=tags)


def export_snapshot(svc: ImageService, key: str, out: BinaryIO) -> None:
    from dockernb.layers.diff import diff_trees
    from dockernb.linux.mount import mount_all, run_in_userns, unmount_all

    mounts = svc.snapshotter.mounts(key)
    tmp = svc.layout.tmp
    tmp.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="export-", dir=tmp)
    r, w = os.pipe()
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(r, "rb", buffering=0) as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
        except BaseException as err:  # noqa: BLE001 - re-raised below
            failure.append(err)

    def child() -> int:  # every descriptor but ``w`` is closed in here (keep_fds)
        root, empty = os.path.join(scratch, "rootfs"), os.path.join(scratch, "empty")
        os.mkdir(root)
        os.mkdir(empty)
        mount_all(mounts, root)
        try:
            with os.fdopen(w, "wb") as sink:
                diff_trees(empty, root, sink)
        finally:
            unmount_all(root)
        return 0

    reader = threading.Thread(target=pump, name="dockernb-export", daemon=True)
    reader.start()
    try:
        run_in_userns(child, svc.idmap, mount_ns=True, after_fork=lambda: os.close(w), keep_fds=(w,))
    finally:
        reader.join()
        _rmtree(svc, scratch)
    if failure:
        raise failure[0]


def _rmtree(svc: ImageService, path: str) -> None:
    """The export's scratch directories (empty mount points: the mounts lived in the child's namespace)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# --- system df -------------------------------------------------------------------------------


def disk_usage(svc: ImageService) -> DiskUsage:
    view = svc.store.view()
    images = [svc.image_of(rec, view) for rec in view.images.values()]
    uses = list(svc.users())
    used_ids = {u.image_id for u in uses}
    sizes: dict[str, int] = {}
    for rec in view.images.values():
        for c, layer in zip(rec.chain_ids, rec.layers, strict=True):
            sizes[c] = max(sizes.get(c, 0), layer.size)
    layers_size = sum(sizes.values())
    used_chains = {c for rec in view.images.values() if rec.id in used_ids for c in rec.chain_ids}
    used_size = sum(sizes[c] for c in used_chains)
    rows = (
        DiskUsageRow(kind="Images", total=len(images), active=len(used_ids & set(view.images)), size=layers_size,
                     reclaimable=layers_size - used_size),  # fmt: skip
        DiskUsageRow(kind="Containers", total=len(uses), active=sum(1 for u in uses if u.running),
                     size=sum(u.size for u in uses), reclaimable=sum(u.size for u in uses if not u.running)),
        DiskUsageRow(kind="Local Volumes", total=0, active=0, size=0, reclaimable=0),
        DiskUsageRow(kind="Build Cache", total=0, active=0, size=0, reclaimable=0),
    )
    return DiskUsage(rows=rows, images=tuple(images), layers_size=layers_size)


def fetch_url(url: str) -> Any:  # noqa: ANN401 - an http.client response (a binary stream)
    """Open ``url`` for ``docker import URL``; errors in docker's words."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"unsupported URL scheme: {url}")
    try:
        return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - http(s) only, checked above
    except urllib.error.HTTPError as err:
        raise NotFound(f'Get "{url}": {err.code} {err.reason}') from None
    except OSError as err:
        raise InvalidArgument(f'Get "{url}": {err}') from None
