"""``docker rmi`` and ``docker image prune``: docker's untag-vs-delete rules (layer L6).

The rules are daemon/images/image_delete.go's (docker 20.10): removing a *name* untags it (and the
repo digests of the same repository once no tag of it is left) and deletes the image only when no
name is left; removing by *id* deletes the image with all its names when they are all in one
repository, else refuses (``image is referenced in multiple repositories``). Conflicts are soft
(``must be forced``: other names, a stopped container) or hard (``cannot be forced``: a running
container, child images). Deleting an image releases its layers: every chain no other image uses
and no container sits on is removed, top first, and printed as ``Deleted: <chain id>``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockernb.engine.image_types import DeleteItem, ImageUse, PruneReport
from dockernb.errors import ImageInUse, InvalidArgument, InvalidFilter
from dockernb.images.gc import gc_lock, referenced_blobs, referenced_chains, remove_blobs, remove_chains
from dockernb.images.records import ImageRecord
from dockernb.images.store import ImageView, Txn, familiar, is_id_prefix
from dockernb.spec.reference import parse_reference

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService

__all__ = ["prune_images", "remove_image"]


class _C(enum.IntFlag):
    DEPENDENT_CHILD = 1
    RUNNING = 2
    ACTIVE_REFERENCE = 4
    STOPPED = 8
    HARD = DEPENDENT_CHILD | RUNNING
    SOFT = ACTIVE_REFERENCE | STOPPED


@dataclass
class _Conflict:
    image_id: str
    hard: bool
    used: bool
    message: str

    def error(self) -> ImageInUse:
        force = "cannot be forced" if self.hard else "must be forced"
        return ImageInUse(f"conflict: unable to delete {_short(self.image_id)} ({force}) - {self.message}")


@dataclass
class _Deletion:
    """One image the transaction deleted; its layers and blobs are released after the commit."""

    record: ImageRecord
    #: DeleteItems before its "Deleted: <id>" line (the untags)
    untags: list[DeleteItem] = field(default_factory=list)


def _short(ident: str) -> str:
    return ident.split(":", 1)[-1][:12]


def _same_name(a: str, b: str) -> bool:
    return parse_reference(a).name == parse_reference(b).name


def _is_single_reference(refs: list[str]) -> bool:
    """docker's isSingleReference: at most one tag, and every digest ref in that tag's repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    single: str | None = None
    canonical: set[str] = set()
    for ref in refs:
        if "@" in ref:
            canonical.add(parse_reference(ref).name)
        elif single is None:
            single = ref
        else:
            return False
    if single is None:
        single = refs[0]
    return len(canonical) == 1 and parse_reference(single).name in canonical


class _Deleter:
    def __init__(self, tx: Txn, users: list[ImageUse]) -> None:
        self.tx = tx
        self.users = users
        self.deletions: list[_Deletion] = []
        self.pending: list[DeleteItem] = []

    @property
    def view(self) -> ImageView:
        return self.tx.view

    def _first(self, image_id: str, running: bool | None = None) -> ImageUse | None:
        for use in self.users:
            if use.image_id == image_id and (running is None or use.running == running):
                return use
        return None

    def _check(self, image_id: str, mask: _C) -> _Conflict | None:
        if mask & _C.DEPENDENT_CHILD and self.view.children(image_id):
            return _Conflict(image_id, True, False, "image has dependent child images")
        if mask & _C.RUNNING and (use := self._first(image_id, True)) is not None:
            text = f"image is being used by running container {_short(use.container_id)}"
            return _Conflict(image_id, True, True, text)
        if mask & _C.ACTIVE_REFERENCE and self.view.refs_of(image_id):
            return _Conflict(image_id, False, False, "image is referenced in multiple repositories")
        if mask & _C.STOPPED and (use := self._first(image_id, False)) is not None:
            text = f"image is being used by stopped container {_short(use.container_id)}"
            return _Conflict(image_id, False, True, text)
        return None

    def _untag(self, ref: str) -> None:
        self.tx.delete_ref(ref)
        self.pending.append(DeleteItem(untagged=familiar(ref)))

    def delete(self, text: str, *, force: bool, prune: bool) -> None:
        rec = self.view.lookup(text)
        image_id = rec.id
        refs = self.view.refs_of(image_id)
        removed_ref = False
        if not is_id_prefix(image_id, text):
            ref = parse_reference(text)
            if not force and _is_single_reference(refs) and (use := self._first(image_id)) is not None:
                raise ImageInUse(
                    f'conflict: unable to remove repository reference "{text}" (must force) - container '
                    f"{_short(use.container_id)} is using its referenced image {_short(image_id)}"
                )
            target = str(ref.with_default_tag())
            self._untag(target)
            refs = self.view.refs_of(image_id)
            if ref.digest is None and not any("@" not in r and _same_name(r, target) for r in refs):
                for r in [r for r in refs if "@" in r and _same_name(r, target)]:
                    self._untag(r)
                refs = self.view.refs_of(image_id)
            if refs:
                self._flush_untags()
                return
            removed_ref = True
        elif _is_single_reference(refs):
            mask = _C.HARD if force else _C.HARD | (_C.SOFT & ~_C.ACTIVE_REFERENCE)
            if (conflict := self._check(image_id, mask)) is not None:
                raise conflict.error()
            for r in refs:
                self._untag(r)
        self._helper(image_id, force=force, prune=prune, quiet=removed_ref)
        self._flush_untags()

    def _flush_untags(self) -> None:
        """Untags that deleted nothing: their own entry, so that they print in order."""
        if self.pending:
            self.deletions.append(_Deletion(ImageRecord(id=""), self.pending))
            self.pending = []

    def _dangling(self, image_id: str) -> bool:
        return not self.view.refs_of(image_id) and not self.view.children(image_id)

    def _helper(self, image_id: str, *, force: bool, prune: bool, quiet: bool) -> None:
        mask = _C.HARD if force else _C.HARD | _C.SOFT
        conflict = self._check(image_id, mask)
        if conflict is not None:
            if quiet and (not self._dangling(image_id) or conflict.used):
                return
            raise conflict.error()
        rec = self.view.get(image_id)
        assert rec is not None
        for r in self.view.refs_of(image_id):
            self._untag(r)
        self.tx.delete_image(image_id)
        self.deletions.append(_Deletion(rec, self.pending))
        self.pending = []
        if prune and rec.parent and self.view.get(rec.parent) is not None:
            self._helper(rec.parent, force=False, prune=True, quiet=True)


def _release(svc: ImageService, deleter: _Deleter) -> tuple[list[DeleteItem], int]:
    """After the commit: remove each deleted image's unused layers and blobs, in order; the report lines."""
    view = svc.store.view()
    keep_chains = referenced_chains(view)
    keep_blobs = referenced_blobs(view)
    items: list[DeleteItem] = []
    reclaimed = 0
    deletions = deleter.deletions
    for i, d in enumerate(deletions):
        items += d.untags
        if not d.record.id:
            continue
        items.append(DeleteItem(deleted=d.record.id))
        later = {c for x in deletions[i + 1 :] if x.record.id for c in x.record.chain_ids}
        sizes = dict(zip(d.record.chain_ids, (layer.size for layer in d.record.layers), strict=True))
        removed = remove_chains(svc.snapshotter, reversed(d.record.chain_ids), keep_chains | later)
        items += [DeleteItem(deleted=c) for c in removed]
        reclaimed += sum(sizes.get(c, 0) for c in removed)
        later_blobs = {b for x in deletions[i + 1 :] if x.record.id for b in x.record.blobs()}
        remove_blobs(svc.content, d.record.blobs(), keep_blobs | later_blobs)
    return items, reclaimed


def remove_image(svc: ImageService, text: str, *, force: bool = False, prune: bool = True) -> list[DeleteItem]:
    """One ``docker rmi`` argument; see the module docstring."""
    users = list(svc.users())
    with gc_lock(svc.layout, shared=False):
        with svc.store.edit() as tx:
            deleter = _Deleter(tx, users)
            deleter.delete(text, force=force, prune=prune)
        items, _ = _release(svc, deleter)
    return items


_PRUNE_FILTERS = ("dangling", "label", "label!", "until")


def _label_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def prune_images(svc: ImageService, *, all: bool = False, filters: dict[str, list[str]] | None = None) -> PruneReport:  # noqa: A002
    """``docker image prune``: dangling images (``all``: every image no container uses).

    Filters: ``dangling=false`` (as ``all``), ``label=k[=v]``, ``label!=k[=v]``, ``until=<time>``.
    Raises InvalidFilter for other keys.
    """
    from dockernb.engine.image_query import parse_until

    filters = dict(filters or {})
    for key in filters:
        if key not in _PRUNE_FILTERS:
            raise InvalidFilter(key)
    dangling_only = not all
    if "dangling" in filters:
        value = filters["dangling"][-1].lower()
        if value in ("false", "0"):
            dangling_only = False
        elif value not in ("true", "1"):
            raise InvalidArgument(f"Invalid filter 'dangling={filters['dangling'][-1]}'")
    until = parse_until(filters["until"][-1]) if "until" in filters else None
    users = list(svc.users())
    used = {u.image_id for u in users}
    with gc_lock(svc.layout, shared=False):
        with svc.store.edit() as tx:
            deleter = _Deleter(tx, users)
            for image_id, rec in sorted(tx.view.images.items()):
                if tx.view.get(image_id) is None or image_id in used:
                    continue  # gone with a child pruned before it, or in use
                refs = tx.view.refs_of(image_id)
                if not refs and tx.view.children(image_id):
                    continue  # an intermediate image: pruned with its child
                if until is not None and rec.created is not None and rec.created > until:
                    continue
                if "label" in filters and not _label_match(rec.labels, filters["label"]):
                    continue
                if "label!" in filters and _label_match(rec.labels, filters["label!"]):
                    continue
                if refs:
                    if dangling_only and any("@" not in r for r in refs):
                        continue
                    for r in refs:
                        if tx.view.get(image_id) is None:
                            break
                        try:
                            deleter.delete(r, force=False, prune=True)
                        except ImageInUse:
                            continue
                else:
                    try:
                        deleter.delete(image_id, force=False, prune=True)
                    except ImageInUse:
                        continue
        items, reclaimed = _release(svc, deleter)
    return PruneReport(deleted=tuple(items), space_reclaimed=reclaimed)
