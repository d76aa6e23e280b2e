"""ImageService: docker's image verbs for every front end (layer L6).

``engine.images`` pulls (:mod:`dockernb.engine.pull`), pushes (:mod:`dockernb.engine.push`),
lists and inspects, tags and removes (docker's rules: :mod:`dockernb.engine.image_delete`),
saves and loads docker-archive tars, imports rootfs tarballs and prunes. Records live in the
image store (:mod:`dockernb.images.store`), blobs in the content store, filesystems in the
snapshotter; this service wires them for one state root and orchestrates.

For the container service (and builds), the same object answers "which image is this", unpacks an
image's filesystem on first use and prepares a container's writable snapshot on it
(:meth:`ImageService.prepare_rootfs`), adds layers (:meth:`ImageService.add_layer`) and commits
configs (:meth:`ImageService.commit`). It learns which containers use which images from the
``users`` callable (:meth:`ImageService.register_users`), which ``rmi`` and ``prune`` respect.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO

from dockernb.config import Config
from dockernb.engine.image_types import DeleteItem, DiskUsage, HistoryItem, Image, ImageUse, ImageUsers, PruneReport
from dockernb.errors import DockernbError, InternalError, NoSuchContent, NoSuchImage, NoSuchSnapshot
from dockernb.images.records import ImageRecord, LayerRecord, utc_now
from dockernb.images.store import ImageStore, ImageView, familiar
from dockernb.spec.digest import Digest
from dockernb.spec.events import ProgressMessage
from dockernb.spec.mount import Mount
from dockernb.spec.oci import ImageConfig, Platform, parse_image_config
from dockernb.spec.reference import parse_reference, parse_tag_target
from dockernb.store.events import EventLog
from dockernb.store.layout import Layout

if TYPE_CHECKING:
    from dockernb.content.local import LocalContentStore
    from dockernb.images.commit import Tidy
    from dockernb.linux.mount import IdMap
    from dockernb.registry import LoginResult, LogoutResult, RegistryClient
    from dockernb.snapshots.base import Snapshotter

__all__ = ["ImageService"]

log = logging.getLogger(__name__)


class ImageService:
    """Like docker's image API: ``engine.images.pull("busybox")``, ``.list()``, ``.remove("busybox")``...

    ``registry`` replaces the registry client (tests pass one with a fake transport); ``users``
    says which containers use which images (see :meth:`register_users`).
    """

    def __init__(
        self, config: Config, *, registry: RegistryClient | None = None, users: ImageUsers | None = None
    ) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self.store = ImageStore(self.layout, extra_stores=config.image_stores)
        self._registry = registry
        self._users = users
        self._configs: dict[str, ImageConfig] = {}
        self._added: dict[str, LayerRecord] = {}  # layers add_layer stored, for commit
        self._lock = threading.Lock()

    # --- wiring (made on first use: listing images needs no registry, no snapshotter) --------

    @cached_property
    def content(self) -> LocalContentStore:
        from dockernb.content.local import LocalContentStore

        self.layout.ensure()
        return LocalContentStore.from_config(self.config)

    @cached_property
    def registry(self) -> RegistryClient:
        if self._registry is not None:
            return self._registry
        from dockernb.registry import RegistryClient

        return RegistryClient.from_config(self.config)

    @cached_property
    def idmap(self) -> IdMap | None:
        """Rootless: the user's id as root plus its subordinate ids (podman's mapping); root: None."""
        if not self.config.rootless:
            return None
        from dockernb.linux.mount import rootless_idmap

        return rootless_idmap()

    @cached_property
    def snapshotter(self) -> Snapshotter:
        from dockernb.snapshots.select import new_snapshotter

        self.layout.ensure()
        return new_snapshotter(self.layout, name=self.config.storage_driver or None, idmap=self.idmap)

    def close(self) -> None:
        if "registry" in self.__dict__ and self._registry is None:
            self.registry.close()

    @cached_property
    def event_log(self) -> EventLog:
        return EventLog(self.layout)

    def record_event(self, action: str, actor_id: str, name: str = "") -> None:
        """Log an image event as dockerd does: ``name`` and the image's labels as attributes; never raises."""
        labels: dict[str, str] = {}
        try:
            view = self.store.view()
            rec = view.get(actor_id) if actor_id.startswith("sha256:") else view.resolve(parse_reference(actor_id))
            labels = dict(rec.labels) if rec is not None else {}
        except DockernbError:
            pass
        self.event_log.emit("image", action, actor_id, {**labels, "name": name or actor_id})

    def _deletion_events(self, before: ImageView, items: Iterable[DeleteItem]) -> None:
        """``untag``/``delete`` events for what rmi or prune removed (``before``: the store beforehand)."""
        refs = {familiar(r): i for r, i in before.refs.items()}
        for item in items:
            if item.untagged:
                image_id = refs.get(item.untagged, "")
                self.event_log.emit("image", "untag", image_id, {"name": image_id})
            elif before.get(item.deleted) is not None:  # an image (the other lines are its layers)
                self.event_log.emit("image", "delete", item.deleted, {"name": item.deleted})

    def register_users(self, users: ImageUsers) -> None:
        """Tell the service how to list the containers using images: ``users()`` -> ImageUse records.

        The container service registers itself here (``rmi`` refuses an image a container uses, as
        docker does; ``prune`` skips it; ``system df`` counts it).
        """
        self._users = users

    def users(self) -> Iterable[ImageUse]:
        return self._users() if self._users is not None else ()

    # --- records -> Image -------------------------------------------------------------------

    def has_snapshot(self, chain: str) -> bool:
        try:
            self.snapshotter.stat(chain)
        except NoSuchSnapshot:
            return False
        return True

    def layer_size(self, chain: str) -> int:
        """docker's size of the layer ``chain`` names, from any record holding it (else its disk usage)."""
        view = self.store.view()
        for rec in view.images.values():
            for c, layer in zip(rec.chain_ids, rec.layers, strict=True):
                if c == chain and layer.size:
                    return layer.size
        try:
            return self.snapshotter.usage(chain).size
        except NoSuchSnapshot:
            return 0

    def config_of(self, image_id: str) -> ImageConfig:
        with self._lock:
            cached = self._configs.get(image_id)
        if cached is not None:
            return cached
        try:
            with self.content.open_reader(Digest.parse(image_id)) as f:
                data = f.read()
        except NoSuchContent:
            raise InternalError(f"image {image_id}: its config blob is missing from the content store") from None
        config = parse_image_config(data)
        with self._lock:
            self._configs[image_id] = config
        return config

    def image_of(
        self, rec: ImageRecord, view: ImageView, *, tags: Sequence[str] | None = None,
        digests: Sequence[str] | None = None,
    ) -> Image:
        tags = view.tags_of(rec.id) if tags is None else tags
        digests = view.digests_of(rec.id) if digests is None else digests
        return Image(
            id=rec.id, tags=tuple(familiar(t) for t in tags), digests=tuple(familiar(d) for d in digests),
            created=rec.created, size=rec.size, parent=rec.parent, labels=dict(rec.labels),
            config=self.config_of(rec.id), diff_ids=tuple(rec.diff_ids), top_chain=rec.top_chain,
            added=rec.added, last_tag_time=rec.last_tag_time, read_only=rec.id in view.read_only,
            canonical=tuple(tags) + tuple(digests),
        )  # fmt: skip

    def get(self, ref: str) -> Image:
        """The image ``ref`` names (a name, ``name@digest``, an id or an id prefix), like ``docker image inspect``.

        Raises:
            NoSuchImage: ``No such image: busybox:latest``. InvalidReference: a malformed name.
        """
        view = self.store.view()
        return self.image_of(view.lookup(ref), view)

    def record(self, image_id: str) -> ImageRecord:
        rec = self.store.view().get(image_id)
        if rec is None:
            raise NoSuchImage(image_id)
        return rec

    # --- pull, push, login ---------------------------------------------------------------

    def pull(self, ref: str, *, platform: str = "", all_tags: bool = False) -> Iterator[ProgressMessage]:
        """Pull an image, like ``docker pull``; iterate the result to run it (docker's progress messages).

        ``ref`` without a tag means ``:latest`` (the caller prints docker's ``Using default tag``);
        ``platform`` is ``os/arch[/variant]`` (the host's by default); ``all_tags`` pulls every tag
        of the repository. The image is stored and named when the iterator ends.

        Raises (while iterating): InvalidReference, InvalidPlatform, ManifestUnknown (unknown
        repository or tag), RegistryAuthRequired (denied, wrong password), RegistryUnreachable (down,
        TLS to a plain-http registry), InvalidManifest (malformed, unsupported media types),
        NoMatchingPlatform, VerificationFailed (digest mismatch), NoSpaceLeft (disk full).
        """
        from dockernb.engine.pull import pull_image

        parsed = parse_reference(ref)
        wanted = Platform.parse(platform) if platform else None
        if not all_tags:
            yield from pull_image(self, parsed.with_default_tag(), wanted)
            self.record_event("pull", parsed.with_default_tag().familiar, parsed.familiar_name)
            return
        from dockernb.engine.push import list_tags

        for tag in list_tags(self, parsed.name_only()):
            for message in pull_image(self, parsed.name_only().with_tag(tag), wanted):
                if not message.status.startswith("Status: "):
                    yield message
        yield ProgressMessage(status=f"Status: Downloaded newer image for {parsed.familiar_name}")

    def push(self, ref: str, *, all_tags: bool = False) -> Iterator[ProgressMessage]:
        """Push an image, like ``docker push`` (``:latest`` by default; ``all_tags``: every local tag of the
        repository).

        Raises (while iterating): NoSuchImage (``An image does not exist locally with the tag: x``),
        RegistryAuthRequired (``denied: requested access to the resource is denied``),
        RegistryUnreachable, RegistryError.
        """
        from dockernb.engine.push import push_image

        if not all_tags:
            yield from push_image(self, str(parse_reference(ref).with_default_tag()))
            pushed = parse_reference(ref).with_default_tag()
            self.record_event("push", pushed.familiar, pushed.familiar_name)
            return
        name = parse_reference(ref).name
        view = self.store.view()
        tags = sorted(r for r in view.refs if "@" not in r and parse_reference(r).name == name)
        if not tags:
            from dockernb.errors import NotFound

            raise NotFound(f"An image does not exist locally with the tag: {parse_reference(ref).familiar_name}")
        for i, tag in enumerate(tags):
            for message in push_image(self, tag):
                if i == 0 or not message.status.startswith("The push refers to"):
                    yield message

    def login(self, server: str, username: str, password: str) -> LoginResult:
        """Check the credentials against the registry and save them, like ``docker login``.

        Raises RegistryAuthRequired (wrong password), RegistryUnreachable.
        """
        return self.registry.login(server, username, password)

    def logout(self, server: str) -> LogoutResult:
        """Forget the login for ``server``, like ``docker logout``."""
        return self.registry.logout(server)

    # --- listing, naming, removing ----------------------------------------------------------

    def list(  # noqa: A003 - docker-py's name
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> builtins.list[Image]:
        """Like ``docker images``: newest first. Filters: dangling, label, before, since, reference.

        Raises InvalidFilter, NoSuchImage (before/since naming a missing image).
        """
        from dockernb.engine.image_query import list_images

        return list_images(self, all=all, filters={k: list(v) for k, v in (filters or {}).items()})

    def tag(self, source: str, target: str) -> None:
        """Like ``docker tag``: point ``target`` (``:latest`` by default) at the image ``source`` names.

        Raises InvalidReference (docker's ``Error parsing reference: ...``), NoSuchImage.
        """
        ref = parse_tag_target(target)
        with self.store.edit() as tx:
            rec = tx.view.lookup(source)
            tx.set_ref(str(ref), rec.id)
            tx.image(rec.id).last_tag_time = utc_now()
        self.record_event("tag", rec.id, familiar(str(ref)))

    def remove(self, ref: str, *, force: bool = False, prune: bool = True) -> builtins.list[DeleteItem]:
        """Like ``docker rmi`` of one image: untag, and delete when no name is left (docker's rules).

        Raises NoSuchImage, ImageInUse (``conflict: unable to delete ... (must be forced) - ...``).
        """
        from dockernb.engine.image_delete import remove_image

        before = self.store.view()
        items = remove_image(self, ref, force=force, prune=prune)
        self._deletion_events(before, items)
        return items

    def prune(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None) -> PruneReport:  # noqa: A002
        """Like ``docker image prune``: remove dangling images (``all``: every unused image)."""
        from dockernb.engine.image_delete import prune_images

        before = self.store.view()
        report = prune_images(self, all=all, filters={k: list(v) for k, v in (filters or {}).items()})
        self._deletion_events(before, report.deleted)
        return report

    def inspect(self, ref: str) -> dict[str, Any]:
        """The Engine API's ImageInspect JSON for ``ref`` (``docker image inspect``). Raises NoSuchImage."""
        from dockernb.engine.inspect import image_inspect

        return image_inspect(self.get(ref), driver=self.graph_driver())

    def graph_driver(self) -> str:
        """The storage driver's name as docker reports it (overlay2, fuse-overlayfs, vfs)."""
        name = getattr(self.snapshotter, "driver", "")
        return {"overlay": "overlay2", "native": "vfs"}.get(name, name)

    def history(self, ref: str) -> builtins.list[HistoryItem]:
        """Like ``docker history``: newest layer first. Raises NoSuchImage."""
        from dockernb.engine.image_query import history

        return history(self, ref)

    # --- archives --------------------------------------------------------------------------

    def save(self, refs: Sequence[str], out: BinaryIO) -> None:
        """Write a docker-archive tar of the images (``docker save``) to ``out``.

        A name without a tag saves every tag of that repository. Raises NoSuchImage
        (``reference does not exist``) before anything is written.
        """
        from dockernb.engine.image_archive import save_images

        save_images(self, refs, out)
        for name in refs:
            with contextlib.suppress(DockernbError):
                image_id = self.store.view().lookup(name).id
                self.event_log.emit("image", "save", image_id, {"name": image_id})

    def load(self, stream: BinaryIO) -> Iterator[ProgressMessage]:
        """Load a docker-archive tar (``docker load``); messages end with ``Loaded image: ...`` lines.

        Raises InvalidArgument (not an archive, bad manifest), DigestMismatch, NoSpaceLeft.
        """
        from dockernb.engine.image_archive import load_images

        for message in load_images(self, stream):
            yield message
            for prefix in ("Loaded image: ", "Loaded image ID: "):
                if message.status.startswith(prefix):
                    with contextlib.suppress(DockernbError):
                        image_id = self.store.view().lookup(message.status[len(prefix):]).id
                        self.event_log.emit("image", "load", image_id, {"name": image_id})

    def import_(
        self, source: BinaryIO, *, repository: str = "", changes: Sequence[str] = (), message: str = "",
        platform: str = "", source_name: str = "-",
    ) -> str:
        """Make a one-layer image from a rootfs tarball (plain, gzip or zstd), like ``docker import``.

        Returns the new image id. Raises InvalidReference, InvalidChange, InvalidLayer.
        """
        from dockernb.engine.image_archive import import_image

        image_id = import_image(self, source, repository=repository, changes=changes, message=message,
                                platform=platform, source_name=source_name)  # fmt: skip
        self.event_log.emit("image", "import", image_id, {"name": image_id})
        return image_id

    def import_url(
        self, url: str, *, repository: str = "", changes: Sequence[str] = (), message: str = "", platform: str = "",
    ) -> str:
        """``docker import URL``: the tarball is fetched over http(s) (the daemon's side of it).

        Raises NotFound/RegistryUnreachable-like errors in docker's words when the download fails.
        """
        from dockernb.engine.image_archive import fetch_url

        with fetch_url(url) as stream:
            return self.import_(stream, repository=repository, changes=changes, message=message, platform=platform,
                                source_name=url)

    def export(self, key: str, out: BinaryIO) -> None:
        """Write the filesystem of the active snapshot ``key`` (a container's) as a tar, like ``docker export``.

        Raises NoSuchSnapshot.
        """
        from dockernb.engine.image_archive import export_snapshot

        export_snapshot(self, key, out)

    # --- disk usage ------------------------------------------------------------------------

    def df(self) -> DiskUsage:
        """The image and container rows of ``docker system df``."""
        from dockernb.engine.image_archive import disk_usage

        return disk_usage(self)

    # --- for the container service and builds -----------------------------------------------

    def ensure_unpacked(self, image_id: str) -> str:
        """Unpack the image's layers this root lacks (from its blobs); returns its top chain id."""
        from dockernb.images.gc import gc_lock
        from dockernb.images.unpack import unpack_image

        rec = self.record(image_id)
        if rec.layers and not self.has_snapshot(rec.top_chain):
            with gc_lock(self.layout, shared=True):
                unpack_image(rec, self.content, self.snapshotter, idmap=self.idmap)
        return rec.top_chain

    def prepare_rootfs(
        self, image_id: str, key: str, *, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Mount]:
        """A new writable snapshot ``key`` on the image's filesystem (a container's rootfs); its mounts.

        Unpacks the image first when this root lacks its layers. Remove it with
        ``snapshotter.remove(key)``, then call :meth:`release_unused_layers`.
        """
        chain = self.ensure_unpacked(image_id)
        return self.snapshotter.prepare(key, chain, labels=labels)

    def release_unused_layers(self) -> builtins.list[str]:
        """Remove the layers no image references and no snapshot sits on (after a container left
        an image that ``rmi -f`` deleted meanwhile); returns their chain ids."""
        from dockernb.images.gc import gc_lock, referenced_chains, remove_chains

        with gc_lock(self.layout, shared=False):
            keep = referenced_chains(self.store.view())
            removed: list[str] = []
            for info in reversed(list(self.snapshotter.walk())):
                name = str(info.name)
                if str(info.kind) == "committed" and name.startswith("sha256:") and name not in keep:
                    removed += remove_chains(self.snapshotter, [name], keep)
            return removed

    def add_layer(self, stream: BinaryIO, *, parent_chain: str = "") -> tuple[LayerRecord, str]:
        """Store a layer tar and unpack it on ``parent_chain`` (builds, ``commit``): (its record, its chain id).

        The layer's blob is kept in the content store, so ``save`` and ``push`` work for images
        made here. Raises InvalidLayer, NoSpaceLeft.
        """
        from dockernb.images.gc import gc_lock
        from dockernb.images.unpack import add_layer

        with gc_lock(self.layout, shared=True):
            record, chain = add_layer(self.content, self.snapshotter, stream, parent=parent_chain, idmap=self.idmap)
        with self._lock:
            self._added[record.diff_id] = record
        return record, chain

    def _layer_records(self, diff_ids: Sequence[str]) -> builtins.list[LayerRecord]:
        """The records of layers this root knows (from add_layer in this process, or any image's)."""
        known: dict[str, LayerRecord] = {}
        for rec in self.store.view().images.values():
            for layer in rec.layers:
                if layer.blob is not None:
                    known.setdefault(layer.diff_id, layer)
        with self._lock:
            known.update(self._added)
        out = []
        for diff_id in diff_ids:
            if diff_id not in known:
                raise InternalError(f"commit: layer {diff_id} was never added (add_layer) nor pulled")
            out.append(LayerRecord.from_json(known[diff_id].to_json()))
        return out

    def layer_from_snapshot(
        self, key: str, *, parent_chain: str, consume: bool = False, tidy: Tidy | None = None, base: str = ""
    ) -> tuple[LayerRecord, str] | None:
        """The changes of the active snapshot ``key`` (on ``parent_chain``) as a stored layer: (its record,
        its chain id), or None when nothing changed. The one layer-diff path of builds (``consume``: the
        snapshot itself becomes the layer) and ``docker commit`` (the container's snapshot stays; ``base``:
        its init layer); see :mod:`dockernb.images.commit`. Pass the records to :meth:`commit`.
        Raises NoSuchSnapshot, NoSpaceLeft.
        """
        from dockernb.images.commit import commit_snapshot
        from dockernb.images.gc import gc_lock

        with gc_lock(self.layout, shared=True):
            return commit_snapshot(self.content, self.snapshotter, key, parent=parent_chain,
                                   idmap=self.idmap, consume=consume, tidy=tidy, base=base)  # fmt: skip

    def commit(
        self, config: bytes, layers: Sequence[LayerRecord] | None = None, *, parent: str = "",
        tags: Sequence[str] = (),
    ) -> str:
        """Store an image config and register the image, named ``tags`` (any reference form); returns its
        id (``sha256:<hex>``). Every layer of its ``rootfs.diff_ids`` must be in the snapshots already:
        pulled, loaded, or added with :meth:`add_layer` (``layers`` gives their records, else they are
        looked up). ``parent`` is the image it was made from (docker's classic builder keeps it:
        ``history`` shows ids along it). Raises InvalidManifest (bad config), InvalidReference.
        """
        parsed = parse_image_config(config)
        if layers is None:
            layers = self._layer_records([str(d) for d in parsed.diff_ids])
        if [str(d) for d in parsed.diff_ids] != [layer.diff_id for layer in layers]:
            raise InternalError("commit: the config's diff_ids are not the layers given")
        refs = [str(parse_tag_target(t)) for t in tags]
        digest = self.content.put(config)
        image_id = str(digest)
        with self.store.edit() as tx:
            old = tx.view.get(image_id)
            now = utc_now()
            tx.put_image(ImageRecord(
                id=image_id, layers=list(layers), manifest=None, parent=parent or (old.parent if old else ""),
                created=parsed.created, added=old.added if old and old.added else now,
                last_tag_time=now if refs else (old.last_tag_time if old else None), platform=str(parsed.platform),
                labels=dict(parsed.config.labels),
            ))  # fmt: skip
            for ref in refs:
                tx.set_ref(ref, image_id)
        return image_id

