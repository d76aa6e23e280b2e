"""Unpack a layer blob into the snapshot of its chain, once (L2; images/ calls it during pull).

``unpack_layer`` turns (parent chain, layer blob) into the committed snapshot named by the
layer's chain id. It is idempotent (a chain that exists is not read again) and safe against a
concurrent unpack of the same chain (the second commit loses, its work is dropped). Like
containerd's applier it learns where to write from the snapshotter's mounts: a bind mount is a
plain directory (whiteouts delete), an overlay or fuse-overlayfs mount names the upper directory
and the lower layers (whiteouts are written for overlayfs). Nothing is mounted.

Rootless (``idmap`` given): the extraction runs in a forked child inside a user namespace mapped
with the user's subordinate ids (``linux.mount.run_in_userns``), so that chown works and files
keep their owners; this process keeps reading the stream (hashing it, in the registry's reader)
and feeds the child through a pipe, which also puts the two halves on two cores.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dockernb.errors import DigestMismatch, DockernbError, InvalidArgument, NoSuchSnapshot, SnapshotExists
from dockernb.layers.apply import ApplyResult, Progress, WhiteoutMode, apply_layer
from dockernb.layers.compression import RawReader
from dockernb.linux.mount import IdMap, overlay_options, run_in_userns
from dockernb.spec.digest import Digest
from dockernb.spec.mount import Mount

__all__ = [
    "ApplyTarget",
    "SnapshotTarget",
    "UnpackResult",
    "chain_id",
    "remove_stale_extractions",
    "target_of",
    "unpack_layer",
]

#: label on an extraction's active snapshot: the pid doing it (a dead pid means a killed pull)
UNPACKING_LABEL = "dockernb/unpacking-pid"

log = logging.getLogger(__name__)


class SnapshotTarget(Protocol):
    """The part of ``dockernb.snapshots.base.Snapshotter`` that unpacking uses (structurally)."""

    def stat(self, key: str) -> object: ...

    def prepare(self, key: str, parent: str = "", *, labels: Mapping[str, str] | None = None) -> list[Mount]: ...

    def commit(self, name: str, key: str, *, labels: Mapping[str, str] | None = None) -> None: ...

    def remove(self, key: str) -> None: ...

    def walk(self) -> Iterator[Any]: ...


class BlobProvider(Protocol):
    def open_reader(self, digest: Digest) -> RawReader: ...


def chain_id(parent: str, diff_id: Digest | str) -> str:
    """The OCI chain id: the diff_id for the first layer, else sha256(parent + " " + diff_id)."""
    if not parent:
        return str(diff_id)
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApplyTarget:
    """Where and how to write a layer, read off a snapshotter's mounts."""

    path: str
    lowers: tuple[str, ...] = ()
    whiteouts: WhiteoutMode = WhiteoutMode.DELETE
    xattr_prefix: str = "trusted."


def target_of(mounts: list[Mount], *, rootless: bool = False) -> ApplyTarget:
    """containerd's overlay fast path: write into the upper dir, no mount needed."""
    if len(mounts) != 1:
        raise InvalidArgument(f"cannot apply a layer to {len(mounts)} mounts")
    m = mounts[0]
    if m.type == "bind" or "bind" in m.options or "rbind" in m.options:
        return ApplyTarget(m.source)
    if m.type == "overlay" or m.type.endswith("fuse-overlayfs"):
        upper, _, lowers = overlay_options(m.options)
        if upper is None:
            raise InvalidArgument("cannot apply a layer to a read-only overlay (a view)")
        user = "userxattr" in m.options or (m.type != "overlay" and rootless)
        return ApplyTarget(upper, tuple(lowers), WhiteoutMode.OVERLAY, "user." if user else "trusted.")
    raise InvalidArgument(f"cannot apply a layer to a {m.type} mount")


@dataclass(frozen=True, slots=True)
class UnpackResult:
    """``applied`` is False when the chain was already there (nothing was read)."""

    chain_id: str
    diff_id: Digest
    applied: bool
    size: int = 0
    notes: tuple[str, ...] = ()
    #: bytes of file content in the layer (docker's layer size); see ApplyResult.content_size
    content_size: int = 0


def _result_to_json(r: ApplyResult) -> dict[str, object]:
    return {"diff_id": str(r.diff_id), "compressed_size": r.compressed_size, "size": r.size, "entries": r.entries,
            "notes": list(r.notes), "content_size": r.content_size}


def _result_from_json(d: dict[str, object]) -> ApplyResult:
    notes = d["notes"]
    assert isinstance(notes, list)
    return ApplyResult(Digest.parse(str(d["diff_id"])), int(str(d["compressed_size"])), int(str(d["size"])),
                       int(str(d["entries"])), tuple(str(n) for n in notes), int(str(d.get("content_size", 0))))


def _apply_in_userns(
    stream: RawReader, t: ApplyTarget, idmap: IdMap, media_type: str | None, strategy: str,
    progress: Progress | None,
) -> ApplyResult:
    r, w = os.pipe()
    failure: list[BaseException] = []
    forked = threading.Event()

    def feed() -> None:
        read = 0
        try:
            forked.wait()
            while chunk := stream.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(w, view) :]
                read += len(chunk)
                if progress is not None:
                    progress(read, 0)
        except BrokenPipeError:
            pass  # the child gave up; its error is the one to report
        except BaseException as err:  # noqa: BLE001 - re-raised by the caller below
            failure.append(err)
        finally:
            os.close(w)

    def child() -> dict[str, object]:  # only ``r`` is open in here (keep_fds)
        with os.fdopen(r, "rb", buffering=0) as src:
            res = apply_layer(src, t.path, media_type=media_type, lowers=t.lowers, whiteouts=t.whiteouts,
                              xattr_prefix=t.xattr_prefix, chown=True, strategy=strategy)
        return _result_to_json(res)

    feeder = threading.Thread(target=feed, name="dockernb-layer-feed", daemon=True)
    feeder.start()

    def after_fork() -> None:
        os.close(r)
        forked.set()

    try:
        out = run_in_userns(child, idmap, after_fork=after_fork, keep_fds=(r,))
    except DockernbError as err:
        forked.set()
        feeder.join()
        if failure:  # the stream failed first (a digest mismatch...): the child only saw it end early
            raise failure[0] from err
        raise
    finally:
        forked.set()
        feeder.join()
    if failure:
        raise failure[0]
    return _result_from_json(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_extractions(snapshotter: SnapshotTarget) -> list[str]:
    """Remove active extraction snapshots whose process died (a pull killed with -9); returns their keys."""
    stale = []
    for info in list(snapshotter.walk()):
        pid = getattr(info, "labels", {}).get(UNPACKING_LABEL, "")
        if str(info.name).startswith("extract-") and pid.isdigit() and not _alive(int(pid)):
            try:
                snapshotter.remove(info.name)
                stale.append(info.name)
            except DockernbError as err:  # another process got there first, or it grew a child
                log.debug("stale extraction %s not removed: %s", info.name, err)
    return stale


def unpack_layer(
    snapshotter: SnapshotTarget,
    blob: RawReader | Callable[[], RawReader],
    *,
    parent: str = "",
    diff_id: Digest | None = None,
    media_type: str | None = None,
    idmap: IdMap | None = None,
    progress: Progress | None = None,
    strategy: str = "auto",
    labels: Mapping[str, str] | None = None,
) -> UnpackResult:
    """Make the committed snapshot for ``parent`` + this layer and return its chain id.

    ``blob`` is the compressed layer stream (read once, to its end), or a callable opening it
    only when work is needed (e.g. ``lambda: store.open_reader(digest)``). ``diff_id`` (from the
    image config) makes the call idempotent and is verified; without it the chain id is learned
    by unpacking. ``progress(compressed, uncompressed)`` as in ``apply_layer``; rootless, it is
    called from the feeding thread with ``uncompressed`` 0 (docker's bars count compressed bytes).

    Raises:
        DigestMismatch: the uncompressed layer is not ``diff_id`` (nothing is kept).
        InvalidLayer, NoSpaceLeft: from ``apply_layer`` (nothing is kept).
        NoSuchSnapshot: ``parent`` does not exist.
    """
    if diff_id is not None:
        chain = chain_id(parent, diff_id)
        try:
            snapshotter.stat(chain)
            return UnpackResult(chain, diff_id, applied=False)
        except NoSuchSnapshot:
            pass
    key = f"extract-{uuid.uuid4().hex[:12]} {chain_id(parent, diff_id) if diff_id else parent}"
    remove_stale_extractions(snapshotter)
    mounts = snapshotter.prepare(key, parent, labels={UNPACKING_LABEL: str(os.getpid())})
    try:
        target = target_of(mounts, rootless=idmap is not None)
        stream = blob() if callable(blob) else blob
        try:
            if idmap is not None:
                res = _apply_in_userns(stream, target, idmap, media_type, strategy, progress)
            else:
                res = apply_layer(stream, target.path, media_type=media_type, lowers=target.lowers,
                                  whiteouts=target.whiteouts, xattr_prefix=target.xattr_prefix,
                                  strategy=strategy, progress=progress)
        finally:
            close = getattr(stream, "close", None)
            if callable(blob) and close is not None:
                close()
        if diff_id is not None and res.diff_id != diff_id:
            raise DigestMismatch(str(res.diff_id), str(diff_id))
        chain = chain_id(parent, res.diff_id)
        try:
            snapshotter.commit(chain, key, labels=labels)
        except SnapshotExists:
            snapshotter.remove(key)  # someone else unpacked the same chain meanwhile: theirs stands
            return UnpackResult(chain, res.diff_id, applied=False, size=res.size, notes=res.notes,
                                content_size=res.content_size)
    except BaseException as err:
        try:
            snapshotter.remove(key)
        except Exception as cleanup:  # noqa: BLE001 - keep the original error, note the cleanup's
            err.add_note(f"removing the partial snapshot {key} failed too: {cleanup}")
        raise
    log.debug("unpacked %s as %s (%d bytes)", res.diff_id, chain, res.size)
    return UnpackResult(chain, res.diff_id, applied=True, size=res.size, notes=res.notes,
                        content_size=res.content_size)
