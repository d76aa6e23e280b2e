"""The layers of a pull: three downloads at a time, streamed into their snapshots (layer L6).

What :mod:`dockernb.engine.pull` calls once it knows what to fetch (an image already present never
imports this). A coordinator thread extracts the layers bottom up; worker threads download ahead.
The bottom layer needing work is *streamed*: one BlobReader feeds a tee that appends each chunk
to the blob's content ingest and hands it to ``unpack_layer`` (decompressing and extracting on a
second core). A layer whose parent is still being extracted is downloaded into the content store
and unpacked from there (from the page cache) when its parent is ready. Partial ingests survive a
killed pull and are resumed with Range requests, their bytes replayed into the extraction; a
digest mismatch or a full disk discards the ingest; on any failure the snapshots this pull made
are removed again. Progress travels as docker's messages through a queue the caller drains.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockernb.errors import (
    DigestMismatch,
    DockernbError,
    IngestLocked,
    InvalidLayer,
    NoSpaceLeft,
    NoSuchContent,
    VerificationFailed,
)
from dockernb.images.gc import referenced_chains, remove_chains
from dockernb.layers.unpack import chain_id, unpack_layer
from dockernb.registry import BlobReader, Resolved
from dockernb.spec.digest import Digest
from dockernb.spec.events import LayerStatus, ProgressMessage
from dockernb.spec.oci import Descriptor, layer_compression

if TYPE_CHECKING:
    from dockernb.content.local import LocalWriter
    from dockernb.engine.images import ImageService

__all__ = ["CONCURRENT_DOWNLOADS", "FetchLayer", "plan_layers", "run_layers"]

log = logging.getLogger(__name__)

#: docker's max-concurrent-downloads default
CONCURRENT_DOWNLOADS = 3
_CHUNK = 1 << 20
_REPORT_EVERY = 512 << 10
_INGEST_WAIT = 600.0


class _Cancelled(Exception):
    """The pull was abandoned (the caller closed the iterator, or another layer failed)."""


@dataclass(eq=False)
class FetchLayer:
    index: int
    desc: Descriptor
    diff_id: Digest
    parent: str
    chain: str
    exists: bool = False  # chain and blob present: "Already exists"
    have_blob: bool = False  # blob present, chain missing: unpack from content only
    state: str = "pending"  # pending -> downloading | claimed -> done
    downloaded: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    size: int = 0

    @property
    def id(self) -> str:
        return self.desc.digest.short


def _write(writer: LocalWriter, data: bytes | memoryview, svc: ImageService) -> None:
    try:
        writer.write(data)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise NoSpaceLeft(str(svc.layout.ingest)) from err
        raise


class _Tee:
    """The stream ``unpack_layer`` reads while downloading: the ingest's bytes first (on resume), then
    the network's, each network chunk appended to the ingest as it passes."""

    def __init__(self, pull: _Pull, layer: FetchLayer, writer: LocalWriter) -> None:
        self.pull, self.layer, self.writer = pull, layer, writer
        self.start = writer.offset
        self.prefix = writer.open_written() if writer.offset else None
        self.reader: BlobReader | None = None
        self.reported = 0

    def _open(self) -> BlobReader:
        hasher = self.writer.hash_state() if self.start else None
        return self.pull.svc.registry.open_blob(self.pull.resolved.source, self.layer.desc, offset=self.start,
                                                hasher=hasher)  # fmt: skip

    def read(self, n: int = -1, /) -> bytes:
        if self.pull.cancel.is_set():
            raise _Cancelled()
        if self.prefix is not None:
            data = self.prefix.read(n if n > 0 else _CHUNK)
            if data:
                return data
            self.prefix.close()
            self.prefix = None
        if self.reader is None:
            self.reader = self._open()
        data = self.reader.read(n if n > 0 else _CHUNK)
        if data:
            _write(self.writer, data, self.pull.svc)
            done = self.writer.offset
            if done - self.reported >= _REPORT_EVERY or done == self.layer.desc.size:
                self.reported = done
                self.pull.emit(LayerStatus.DOWNLOADING, self.layer, done, self.layer.desc.size)
        return data or b""

    def finish(self) -> None:
        """Read (into the ingest) whatever the extraction did not need, e.g. a gzip trailer."""
        while self.read(_CHUNK):
            pass

    def close(self) -> None:
        if self.prefix is not None:
            self.prefix.close()
        if self.reader is not None:
            self.reader.close()


class _Pull:
    """One image's layers: a coordinator extracting in order and workers downloading ahead."""

    def __init__(self, svc: ImageService, resolved: Resolved, layers: list[FetchLayer]) -> None:
        self.svc = svc
        self.resolved = resolved
        self.layers = layers
        self.events: queue.SimpleQueue[ProgressMessage | BaseException | None] = queue.SimpleQueue()
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(CONCURRENT_DOWNLOADS)
        self.created: list[str] = []  # chains this pull committed (removed again if it fails)
        self.workers: list[threading.Thread] = []

    def emit(self, status: str, layer: FetchLayer, current: int = 0, total: int = 0) -> None:
        self.events.put(ProgressMessage(status=status, id=layer.id, current=current, total=total))

    # --- content ingests ------------------------------------------------------------------

    def _writer(self, layer: FetchLayer) -> LocalWriter | None:
        """The ingest of the layer's blob (resumed where a killed pull left it); None once the blob exists.

        Another process pulling the same blob holds its ingest: wait for it, then use its result.
        """
        content = self.svc.content
        digest = layer.desc.digest
        deadline = time.monotonic() + _INGEST_WAIT
        while True:
            try:
                content.info(digest)
                return None
            except NoSuchContent:
                pass
            try:
                writer = content.writer(f"layer-{digest}", expected=digest, size=layer.desc.size)
            except IngestLocked:
                if self.cancel.wait(0.05) or time.monotonic() > deadline:
                    raise _Cancelled() from None
                continue
            try:  # the other writer may have committed between our look and our lock
                content.info(digest)
            except NoSuchContent:
                return writer
            self._discard(writer)
            return None

    def _keep(self, writer: LocalWriter) -> None:
        """An interrupted download: its bytes stay for the next pull to resume (an empty one goes)."""
        if writer.offset == 0:
            self._discard(writer)
        else:
            writer.close()

    def _discard(self, writer: LocalWriter) -> None:
        """A blob that failed verification: nothing of it may stay (not even for a resume)."""
        ref = writer.ref
        writer.close()
        try:
            self.svc.content.abort(ref)
        except DockernbError as err:
            log.debug("dropping ingest %s: %s", ref, err)

    # --- downloads ahead of extraction ------------------------------------------------------

    def _next_pending(self) -> FetchLayer | None:
        with self.lock:
            for layer in self.layers:
                if layer.state == "pending":
                    layer.state = "downloading"
                    return layer
        return None

    def worker(self) -> None:
        while not self.cancel.is_set():
            with self.slots:
                layer = self._next_pending()
                if layer is None:
                    return
                try:
                    self._download(layer)
                except BaseException as err:  # noqa: BLE001 - handed to the coordinator
                    layer.error = err
                    if not isinstance(err, _Cancelled):
                        self.cancel.set()
                finally:
                    layer.downloaded.set()

    def _download(self, layer: FetchLayer) -> None:
        writer = self._writer(layer)
        if writer is not None:
            try:
                hasher = writer.hash_state() if writer.offset else None
                reported = 0
                with self.svc.registry.open_blob(self.resolved.source, layer.desc, offset=writer.offset,
                                                 hasher=hasher) as reader:  # fmt: skip
                    buf = bytearray(_CHUNK)
                    while n := reader.readinto(buf):
                        if self.cancel.is_set():
                            raise _Cancelled()
                        _write(writer, memoryview(buf)[:n], self.svc)
                        if writer.offset - reported >= _REPORT_EVERY:
                            reported = writer.offset
                            self.emit(LayerStatus.DOWNLOADING, layer, writer.offset, layer.desc.size)
                writer.commit()
            except (VerificationFailed, DigestMismatch, NoSpaceLeft):
                self._discard(writer)  # bad bytes, or a full disk: nothing of it stays
                raise
            except BaseException:
                self._keep(writer)
                raise
        self.emit(LayerStatus.DOWNLOADED, layer)

    # --- extraction, in layer order ------------------------------------------------------------

    def _extract_stored(self, layer: FetchLayer) -> None:
        content, digest, total = self.svc.content, layer.desc.digest, layer.desc.size
        last = [0]

        def progress(done: int, _uncompressed: int) -> None:
            if done - last[0] >= _REPORT_EVERY or done == total:
                last[0] = done
                self.emit(LayerStatus.EXTRACTING, layer, done, total)

        def open_blob() -> _CancellableFile:
            return _CancellableFile(content.open_reader(digest), self.cancel)

        res = unpack_layer(self.svc.snapshotter, open_blob, parent=layer.parent, diff_id=layer.diff_id,
                           media_type=layer.desc.media_type, idmap=self.svc.idmap, progress=progress)  # fmt: skip
        if res.applied:
            self.created.append(res.chain_id)
        layer.size = res.content_size or self.svc.layer_size(layer.chain)

    def _stream(self, layer: FetchLayer) -> None:
        writer = self._writer(layer)
        if writer is None:  # someone else stored it meanwhile
            self.emit(LayerStatus.DOWNLOADED, layer)
            self._extract_stored(layer)
            return
        tee = _Tee(self, layer, writer)
        try:
            res = unpack_layer(self.svc.snapshotter, tee, parent=layer.parent, diff_id=layer.diff_id,
                               media_type=layer.desc.media_type, idmap=self.svc.idmap)  # fmt: skip
            tee.finish()
            writer.commit()
        except (VerificationFailed, DigestMismatch, NoSpaceLeft):
            tee.close()
            self._discard(writer)  # bad bytes, or a full disk: nothing of it stays
            raise
        except InvalidLayer as err:
            # the extraction met garbage before the digest could be checked: read on to learn whether
            # the bytes were damaged on the way (docker's "verification failed") or the layer is bad
            try:
                tee.finish()
            except VerificationFailed as bad:
                raise bad from err
            except (DockernbError, OSError):
                pass
            finally:
                tee.close()
                self._discard(writer)
            raise
        except BaseException:
            tee.close()
            self._keep(writer)
            raise
        tee.close()
        if res.applied:
            self.created.append(res.chain_id)
        layer.size = res.content_size or self.svc.layer_size(layer.chain)
        # the digest was checked as the last byte arrived: docker's "Verifying Checksum" is no step of its
        # own here (and docker's daemon, coalescing messages, rarely shows it either)
        self.emit(LayerStatus.DOWNLOADED, layer)
        self.emit(LayerStatus.EXTRACTING, layer, layer.desc.size, layer.desc.size)

    def coordinate(self) -> None:
        """Extract every layer bottom up (run in its own thread; the workers download ahead)."""
        held = False
        try:
            first = next((x for x in self.layers if not x.exists), None)
            if first is not None and first.state == "pending":
                # the bottom layer streams first: claim it and its download slot before the workers start
                first.state = "claimed"
                self.slots.acquire()
                held = True
            self._start_workers()
            for layer in self.layers:
                if layer.exists:
                    continue
                if layer.state == "stored":
                    self._extract_stored(layer)
                else:
                    with self.lock:
                        if layer.state == "pending":
                            layer.state = "claimed"
                    if layer.state == "claimed":
                        if held:
                            held = False
                            try:
                                self._stream(layer)
                            finally:
                                self.slots.release()
                        else:
                            with self.slots:
                                self._stream(layer)
                    else:
                        while not layer.downloaded.wait(0.1):
                            if self.cancel.is_set() and layer.state != "downloading":
                                raise _Cancelled()
                        if layer.error is not None:
                            raise layer.error
                        self._extract_stored(layer)
                layer.state = "done"
                self.events.put(ProgressMessage(status=LayerStatus.PULLED, id=layer.id))
            self.events.put(None)
        except BaseException as err:  # noqa: BLE001 - re-raised by the iterator
            self.cancel.set()
            if held:
                self.slots.release()
            failed = [x.error for x in self.layers if x.error is not None and not isinstance(x.error, _Cancelled)]
            self.events.put(failed[0] if isinstance(err, _Cancelled) and failed else err)
        finally:
            for t in self.workers:
                t.join()

    def _start_workers(self) -> None:
        if self.workers:
            return
        pending = sum(1 for x in self.layers if x.state == "pending")
        self.workers = [threading.Thread(target=self.worker, name=f"dockernb-pull-{i}", daemon=True)
                        for i in range(min(pending, CONCURRENT_DOWNLOADS))]  # fmt: skip
        for t in self.workers:
            t.start()


class _CancellableFile:
    """A stored blob read for extraction, which stops when the pull is cancelled."""

    def __init__(self, f: object, cancel: threading.Event) -> None:
        self.f = f
        self.cancel = cancel

    def read(self, n: int = -1, /) -> bytes:
        if self.cancel.is_set():
            raise _Cancelled()
        data: bytes = self.f.read(n)  # type: ignore[attr-defined]
        return data

    def close(self) -> None:
        self.f.close()  # type: ignore[attr-defined]


def plan_layers(svc: ImageService, resolved: Resolved) -> list[FetchLayer]:
    """Each layer of the image, with what this root already holds of it."""
    out: list[FetchLayer] = []
    parent = ""
    for i, (desc, diff_id) in enumerate(zip(resolved.manifest.layers, resolved.config.diff_ids, strict=True)):
        layer_compression(desc.media_type)  # InvalidManifest for a layer type we cannot unpack
        chain = chain_id(parent, diff_id)
        have_chain = svc.has_snapshot(chain)
        try:
            svc.content.info(desc.digest)
            have_blob = True
        except NoSuchContent:
            have_blob = False
        layer = FetchLayer(i, desc, diff_id, parent, chain, exists=have_chain and have_blob,
                       have_blob=have_blob and not have_chain)  # fmt: skip
        if layer.exists:
            layer.state = "done"
            layer.size = svc.layer_size(chain)
        elif layer.have_blob:
            layer.state = "stored"  # no download: the workers leave it alone
        elif have_chain:  # a chain made here (a build) whose blob we lack: fetch the blob only
            layer.have_blob = False
        out.append(layer)
        parent = chain
    return out


def run_layers(svc: ImageService, resolved: Resolved, layers: list[FetchLayer]) -> Iterator[ProgressMessage]:
    """Download and unpack what ``plan_layers`` found missing; yields progress, raises the first failure."""
    pull = _Pull(svc, resolved, layers)
    todo = [x for x in layers if not x.exists]
    for x in layers:
        if x.exists:
            yield ProgressMessage(status=LayerStatus.EXISTS, id=x.id)
    for x in todo:
        yield ProgressMessage(status=LayerStatus.PULLING, id=x.id)
    downloads = [x for x in todo if not x.have_blob]
    for x in downloads[CONCURRENT_DOWNLOADS:]:
        yield ProgressMessage(status=LayerStatus.WAITING, id=x.id)
    for x in todo:
        if x.have_blob:
            yield ProgressMessage(status=LayerStatus.DOWNLOADED, id=x.id)
    coordinator = threading.Thread(target=pull.coordinate, name="dockernb-pull", daemon=True)
    coordinator.start()
    ok = False
    try:
        while True:
            item = pull.events.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        ok = True
    finally:
        if not ok:
            pull.cancel.set()
        coordinator.join()
        if not ok and pull.created:
            # nothing partial stays registered: drop the layers this pull made that no image uses
            remove_chains(svc.snapshotter, reversed(pull.created), referenced_chains(svc.store.view()))
