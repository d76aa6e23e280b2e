"""The image store: records and names under ``<root>/images.json``, shared by processes (layer L3).

One JSON file holds every record (id -> :class:`~dockernb.images.records.ImageRecord`) and the
reference table (canonical name -> id: ``docker.io/library/busybox:latest`` for a tag,
``docker.io/library/busybox@sha256:...`` for a repo digest), as docker's image store and
``repositories.json`` do. Readers load it whole (it is small) and see an immutable
:class:`ImageView`; writers change it in a transaction (``with store.edit() as tx:``) that holds
the root's ``images`` flock and replaces the file atomically, so several processes can share a
root and a crash leaves the old or the new table.

Extra read-only stores (``DOCKERNB_IMAGE_STORES``, like podman's additional image stores) add their
images and names to the view, below this root's. Changing one of them copies its record into this
root first; removing a name or an image they hold masks it here (``masked``), so the view behaves
as one store while the extra stores stay untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockernb.errors import InternalError, InvalidReference, NoSuchImage
from dockernb.images.records import SCHEMA_VERSION, ImageRecord
from dockernb.spec.reference import Reference, parse_reference
from dockernb.store.atomic import read_json, write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["ImageStore", "ImageView", "Txn", "familiar", "is_id_prefix"]

_FULL_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})\Z")
_HEX = re.compile(r"^[0-9a-f]+\Z")


def familiar(canonical: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest`` (docker's FamiliarString)."""
    return parse_reference(canonical).familiar


def is_id_prefix(image_id: str, text: str) -> bool:
    """docker's isImageIDPrefix: ``text`` is a prefix of the id, with or without ``sha256:``."""
    return image_id.startswith(text) or image_id.split(":", 1)[-1].startswith(text)


@dataclass(slots=True)
class _Table:
    images: dict[str, ImageRecord] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    masked_images: set[str] = field(default_factory=set)
    masked_refs: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> _Table:
        try:
            data: dict[str, Any] = read_json(path)
        except FileNotFoundError:
            return cls()
        except ValueError as err:
            raise InternalError(f"image store {path} is corrupt: {err}") from err
        version = int(data.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise InternalError(f"{path} has schema version {version}; this dockernb reads {SCHEMA_VERSION}")
        masked = data.get("masked") or {}
        return cls(
            images={k: ImageRecord.from_json(k, v) for k, v in dict(data.get("images") or {}).items()},
            refs={str(k): str(v) for k, v in dict(data.get("refs") or {}).items()},
            masked_images=set(masked.get("images", [])),
            masked_refs=set(masked.get("refs", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "images": {k: v.to_json() for k, v in sorted(self.images.items())},
            "refs": dict(sorted(self.refs.items())),
            "masked": {"images": sorted(self.masked_images), "refs": sorted(self.masked_refs)},
        }


class ImageView:
    """Every visible image and name at one moment (this root's, then the extra stores')."""

    def __init__(self, own: _Table, extras: Sequence[_Table]) -> None:
        self.images: dict[str, ImageRecord] = dict(own.images)
        #: ids that live only in an extra (read-only) store
        self.read_only: set[str] = set()
        for table in extras:
            for image_id, rec in table.images.items():
                if image_id not in self.images and image_id not in own.masked_images:
                    self.images[image_id] = rec
                    self.read_only.add(image_id)
        self.refs: dict[str, str] = {}
        for table in extras:
            for ref, image_id in table.refs.items():
                if ref not in own.masked_refs and image_id in self.images and ref not in self.refs:
                    self.refs[ref] = image_id
        self.refs.update({r: i for r, i in own.refs.items() if i in self.images})
        self._by_image: dict[str, list[str]] = {}
        for ref, image_id in sorted(self.refs.items()):
            self._by_image.setdefault(image_id, []).append(ref)

    def get(self, image_id: str) -> ImageRecord | None:
        return self.images.get(image_id)

    def refs_of(self, image_id: str) -> list[str]:
        """Canonical names of the image, sorted (tags and repo digests)."""
        return list(self._by_image.get(image_id, []))

    def tags_of(self, image_id: str) -> list[str]:
        return [r for r in self.refs_of(image_id) if "@" not in r]

    def digests_of(self, image_id: str) -> list[str]:
        return [r for r in self.refs_of(image_id) if "@" in r]

    def children(self, image_id: str) -> list[str]:
        return sorted(i for i, rec in self.images.items() if rec.parent == image_id)

    def resolve(self, ref: Reference) -> ImageRecord | None:
        """The image a parsed name points to (a bare name means ``:latest``)."""
        image_id = self.refs.get(str(ref.with_default_tag()))
        return self.images.get(image_id) if image_id else None

    def search(self, prefix: str) -> ImageRecord | None:
        """The one image whose id starts with ``prefix`` (with or without ``sha256:``); None if none or several."""
        hexpart = prefix.removeprefix("sha256:")
        if not hexpart or not _HEX.match(hexpart):
            return None
        found = [rec for i, rec in self.images.items() if i.split(":", 1)[-1].startswith(hexpart)]
        return found[0] if len(found) == 1 else None

    def lookup(self, text: str) -> ImageRecord:
        """docker's GetImage: a full id, a name (``busybox``, ``busybox:1``, ``busybox@sha256:..``), an id prefix.

        Raises:
            NoSuchImage: ``No such image: busybox:latest`` (docker's wording: the name with its default tag).
            InvalidReference: ``text`` is neither an id nor a valid reference.
        """
        m = _FULL_ID.match(text)
        if m is not None:
            rec = self.images.get(f"sha256:{m.group(1)}")
            if rec is None:
                raise NoSuchImage(f"sha256:{m.group(1)}")
            return rec
        try:
            ref: Reference | None = parse_reference(text)
        except InvalidReference:
            ref = None
        if ref is not None:
            rec = self.resolve(ref)
            if rec is not None:
                return rec
        rec = self.search(text)
        if rec is not None:
            return rec
        if ref is None:
            raise InvalidReference(text)
        raise NoSuchImage(ref.with_default_tag().familiar)


class Txn:
    """Changes to the store under its lock; saved when the ``with`` block ends without an error."""

    def __init__(self, own: _Table, extras: Sequence[_Table]) -> None:
        self._own = own
        self._extras = extras
        self.view = ImageView(own, extras)

    def _refresh(self) -> None:
        self.view = ImageView(self._own, self._extras)

    def _own_copy(self, image_id: str) -> ImageRecord:
        rec = self._own.images.get(image_id)
        if rec is None:
            found = self.view.get(image_id)
            if found is None:
                raise NoSuchImage(image_id)
            rec = ImageRecord.from_json(image_id, found.to_json())  # copy-on-write from a read-only store
            self._own.images[image_id] = rec
        return rec

    def put_image(self, record: ImageRecord) -> None:
        """Add or replace a record (this root's)."""
        self._own.images[record.id] = record
        self._own.masked_images.discard(record.id)
        self._refresh()

    def image(self, image_id: str) -> ImageRecord:
        """This root's record of a visible image, to change in place (copied here first if read-only)."""
        rec = self._own_copy(image_id)
        self._refresh()
        return rec

    def set_ref(self, ref: str, image_id: str) -> str | None:
        """Point the canonical name ``ref`` at the image; returns the id it pointed to before."""
        if image_id not in self.view.images:
            raise NoSuchImage(image_id)
        self._own_copy(image_id)
        before = self.view.refs.get(ref)
        self._own.refs[ref] = image_id
        self._own.masked_refs.discard(ref)
        self._refresh()
        return before

    def delete_ref(self, ref: str) -> bool:
        """Remove a name; False when it did not exist."""
        existed = ref in self.view.refs
        self._own.refs.pop(ref, None)
        if any(ref in t.refs for t in self._extras):
            self._own.masked_refs.add(ref)
        self._refresh()
        return existed

    def delete_image(self, image_id: str) -> ImageRecord | None:
        """Remove the record and every name pointing at it; returns the record that was visible."""
        rec = self.view.get(image_id)
        for ref in self.view.refs_of(image_id):
            self.delete_ref(ref)
        self._own.images.pop(image_id, None)
        if any(image_id in t.images for t in self._extras):
            self._own.masked_images.add(image_id)
        self._refresh()
        return rec


class ImageStore:
    """Records and names of one root, plus the extra read-only stores (see the module docstring)."""

    def __init__(self, layout: Layout, *, extra_stores: Sequence[Path] = ()) -> None:
        self.layout = layout
        self.path = layout.images_file
        self.extra_paths = [p / "images.json" for p in extra_stores if (p / "images.json").is_file()]

    def _extras(self) -> list[_Table]:
        return [_Table.load(p) for p in self.extra_paths]

    def view(self) -> ImageView:
        """A consistent snapshot of every visible image and name (no lock: the file is replaced atomically)."""
        return ImageView(_Table.load(self.path), self._extras())

    @contextmanager
    def edit(self) -> Iterator[Txn]:
        """``with store.edit() as tx:`` read, change and save under the root's images lock."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with FileLock(self.layout.lock("images")):
            own = _Table.load(self.path)
            tx = Txn(own, self._extras())
            yield tx
            write_json(self.path, own.to_json())
