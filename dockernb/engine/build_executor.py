"""The build executor: build steps done with the engine's images, snapshots, runtime and networks (layer L6).

:class:`EngineExecutor` is the real :class:`~dockernb.build.executor.Executor` (see there for the
contract). Every step that changes files works the same way::

    key = "build-<id>"; mounts = snapshotter.prepare(key, parent chain)        # a writable layer
    RUN:          build.run_step.run_container(...)  (a container on it, default network)
    COPY/ADD:     build.copier.copy_into(...)        (on it, mounted in a private namespace)
    WORKDIR:      build.copier.make_workdir(...)
    layer = images.layer_from_snapshot(key, consume=True)   # the diff; the snapshot becomes the layer
    image = images.commit(config, layers)                   # the builder's config, same path as `commit`

A step that fails, or is interrupted, removes its snapshot, container, network and scratch
directory before the error goes on. A build process killed outright (SIGKILL) leaves them
labelled with its pid: the next build on the root removes them (:meth:`EngineExecutor.sweep`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Generator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dockernb.build.executor import BaseImage, CopySpec, Layer, RunResult, RunSpec
from dockernb.build.image import ImageDoc
from dockernb.config import Config
from dockernb.errors import DockernbError, InternalError, NoSuchContent, NoSuchImage, NoSuchSnapshot
from dockernb.images.records import LayerRecord
from dockernb.spec.digest import Digest
from dockernb.spec.events import BuildOutput
from dockernb.spec.mount import Mount
from dockernb.spec.oci import Platform
from dockernb.store.layout import Layout

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService
    from dockernb.network.manager import Networks

__all__ = ["BUILD_LABEL", "EngineExecutor"]

log = logging.getLogger(__name__)

#: on a build step's snapshots: "<pid> <start time>" of the build process (stale when it is gone)
BUILD_LABEL = "dockernb/build-owner"
_PREFIX = "build-"

#: steps in progress: their cleanup, run at interpreter exit if the build was abandoned (a generator
#: never closed is finalized after the modules it needs are gone: too late to clean up then)
_ACTIVE: dict[str, Callable[[], None]] = {}


@atexit.register
def _abandoned() -> None:
    for cleanup in list(_ACTIVE.values()):
        with contextlib.suppress(Exception):
            cleanup()
    _ACTIVE.clear()


def _owner() -> str:
    from dockernb.linux import pids

    return f"{os.getpid()} {pids.start_time(os.getpid())}"


def _stale(owner: str) -> bool:
    from dockernb.linux import pids

    try:
        pid, start = (int(x) for x in owner.split())
    except ValueError:
        return False
    return not pids.alive(pid, start)


class EngineExecutor:
    """Runs build steps for one state root (``engine.builds`` makes one on first use)."""

    def __init__(self, config: Config, images: ImageService, networks: Callable[[], Networks]) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self.images = images
        self._networks = networks
        self._layers: dict[str, LayerRecord] = {}  # diff_id -> record, for commit
        self._swept = False

    @cached_property
    def networks(self) -> Networks:
        return self._networks()

    # --- images ----------------------------------------------------------------------------

    def _base(self, image_id: str) -> BaseImage:
        rec = self.images.record(image_id)
        try:
            with self.images.content.open_reader(Digest.parse(image_id)) as f:
                raw = f.read()
        except NoSuchContent:
            raise NoSuchImage(image_id) from None
        for layer in rec.layers:
            self._layers.setdefault(layer.diff_id, layer)
        return BaseImage(image_id=image_id, doc=ImageDoc.from_bytes(raw))

    def pull(self, ref: str, *, platform: str = "", always: bool = False) -> BaseImage:
        if not always:
            try:
                img = self.images.get(ref)
            except NoSuchImage:
                pass
            else:
                if not platform or _same_platform(img.config.platform, platform):
                    return self._base(img.id)
        for _message in self.images.pull(ref, platform=platform):
            pass  # docker's classic builder shows no pull progress either once FROM is printed
        return self._base(self.images.get(ref).id)

    def image(self, image_id: str) -> BaseImage | None:
        try:
            return self._base(image_id)
        except NoSuchImage:
            return None

    def commit(self, config: bytes) -> str:
        data = json.loads(config)
        diff_ids = [str(d) for d in (data.get("rootfs") or {}).get("diff_ids") or []]
        missing = [d for d in diff_ids if d not in self._layers]
        if missing:
            raise InternalError(f"build commit: layers {missing} were neither pulled nor made by this build")
        parent = str((data.get("config") or {}).get("Image") or "")
        return self.images.commit(config, [self._layers[d] for d in diff_ids], parent=parent)

    def tag(self, image_id: str, name: str) -> None:
        self.images.tag(image_id, name)

    # --- steps -------------------------------------------------------------------------------

    def _chain(self, base: BaseImage) -> str:
        return self.images.ensure_unpacked(base.image_id) if base.image_id else ""

    def _scratch(self, step_id: str) -> Path:
        self.layout.ensure()
        d = self.layout.tmp / f"{_PREFIX}{step_id}"
        d.mkdir(mode=0o700)
        (d / "owner").write_text(_owner())
        return d

    def _prepare(self, key: str, chain: str) -> list[Mount]:
        self.sweep()
        return self.images.snapshotter.prepare(key, chain, labels={BUILD_LABEL: _owner()})

    def _drop(self, key: str) -> None:
        with contextlib.suppress(NoSuchSnapshot):
            self.images.snapshotter.remove(key)

    def _layer(self, key: str, chain: str, tidy: Callable[[str, str], None] | None = None) -> Layer | None:
        made = self.images.layer_from_snapshot(key, parent_chain=chain, consume=True, tidy=tidy)
        if made is None:
            return None
        record, _chain = made
        self._layers[record.diff_id] = record
        return Layer(diff_id=record.diff_id, size=record.size)

    def _changes(self, mounts: list[Mount], chain: str) -> tuple[str, str]:
        """Where the snapshot's own changes are, and the parent's tree when the driver copies (native)."""
        from dockernb.layers.apply import WhiteoutMode
        from dockernb.layers.unpack import target_of

        target = target_of(mounts, rootless=self.config.rootless)
        if target.whiteouts is WhiteoutMode.OVERLAY or not chain:
            return target.path, ""
        return target.path, str(self.images.snapshotter.path(chain))  # type: ignore[attr-defined]

    def run(self, parent: BaseImage, spec: RunSpec) -> Generator[BuildOutput, None, RunResult]:
        from dockernb.build.run_step import run_container

        chain = self._chain(parent)
        key = _PREFIX + spec.container_id
        scratch = self._scratch(spec.container_id)

        def abandon() -> None:
            self._release(scratch)
            self._drop(key)

        _ACTIVE[key] = abandon
        try:
            mounts = self._prepare(key, chain)
            try:
                changes, base = self._changes(mounts, chain)
                outcome = yield from run_container(spec, mounts=mounts, networks=self.networks, scratch=scratch,
                                                   rootless=self.config.rootless, changes=changes, base=base)
                if outcome.exit_code != 0:
                    self._drop(key)
                    return RunResult(exit_code=outcome.exit_code)
                return RunResult(exit_code=0, layer=self._layer(key, chain, tidy=outcome.stubs.tidy))
            except BaseException:
                self._drop(key)
                raise
        finally:
            _ACTIVE.pop(key, None)
            shutil.rmtree(scratch, ignore_errors=True)

    def copy(self, parent: BaseImage, spec: CopySpec) -> Layer | None:
        from dockernb.build.copier import copy_into
        from dockernb.build.mounted import on_snapshot

        chain = self._chain(parent)
        step = uuid.uuid4().hex
        key = _PREFIX + step
        view = ""
        scratch = self._scratch(step)
        try:
            mounts = self._prepare(key, chain)
            try:
                source: list[Mount] | None = None
                if spec.from_image is not None:
                    source, view = self._source(spec.from_image, step)

                def work(root: str, src: str | None) -> dict[str, object]:
                    return dataclasses.asdict(copy_into(root, spec, from_root=src))

                on_snapshot(work, mounts, scratch=scratch, source=source, idmap=self.images.idmap)
                if view:
                    self._drop(view)
                    view = ""
                return self._layer(key, chain)
            except BaseException:
                self._drop(key)
                raise
        finally:
            if view:
                self._drop(view)
            shutil.rmtree(scratch, ignore_errors=True)

    def _source(self, image: BaseImage, step: str) -> tuple[list[Mount], str]:
        """A read-only view of a COPY --from image (and its snapshot key, "" when none was made)."""
        chain = self._chain(image)
        if not chain:
            return [], ""
        snap = self.images.snapshotter
        if getattr(snap, "driver", "") == "native":  # a view would copy the whole tree: bind the layer
            return [Mount("bind", str(snap.path(chain)), options=("rbind", "ro"))], ""  # type: ignore[attr-defined]
        key = f"{_PREFIX}src-{step}"
        return snap.view(key, chain, labels={BUILD_LABEL: _owner()}), key

    def mkdir(self, parent: BaseImage, path: str, *, user: str = "") -> Layer | None:
        from dockernb.build.copier import make_workdir
        from dockernb.build.mounted import on_snapshot

        # docker's classic builder makes the WORKDIR root's, whatever the USER (BuildKit: the USER's)
        chain = self._chain(parent)
        step = uuid.uuid4().hex
        key = _PREFIX + step
        scratch = self._scratch(step)
        try:
            mounts = self._prepare(key, chain)
            try:
                made = on_snapshot(lambda root, _src: make_workdir(root, path), mounts, scratch=scratch,
                                   idmap=self.images.idmap)  # fmt: skip
                if not made:
                    self._drop(key)
                    return None
                return self._layer(key, chain)
            except BaseException:
                self._drop(key)
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # --- leftovers of killed builds ---------------------------------------------------------------

    def sweep(self) -> list[str]:
        """Remove what build processes that died without cleaning up left (once per executor)."""
        if self._swept:
            return []
        self._swept = True
        removed: list[str] = []
        snap = self.images.snapshotter
        for info in list(snap.walk()):
            owner = dict(info.labels).get(BUILD_LABEL, "")
            if owner and _stale(owner) and str(info.kind) != "committed":
                with contextlib.suppress(DockernbError):
                    snap.remove(info.name)
                    removed.append(info.name)
        tmp = self.layout.tmp
        for d in tmp.glob(f"{_PREFIX}*") if tmp.is_dir() else ():
            try:
                owner = (d / "owner").read_text()
            except OSError:
                continue
            if not _stale(owner):
                continue
            self._release(d)
            removed.append(str(d))
        return removed

    def _release(self, scratch: Path) -> None:
        from dockernb import runtime

        step = scratch.name[len(_PREFIX) :]
        if (scratch / "runtime").exists():
            with contextlib.suppress(Exception):
                runtime.delete(scratch / "runtime", force=True)
            with contextlib.suppress(Exception):
                self.networks.teardown(step)
        shutil.rmtree(scratch, ignore_errors=True)


def _same_platform(have: Platform, wanted: str) -> bool:
    want = Platform.parse(wanted)
    return (have.os, have.architecture, have.variant or want.variant) == (want.os, want.architecture, want.variant)
