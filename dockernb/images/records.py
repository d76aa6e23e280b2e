"""Image records: what the engine keeps about each stored image, and their JSON form (layer L3).

An image is named by its id, the digest of its config blob (``sha256:<hex>``). Its record says
which blobs make it (the platform manifest it came with, the layer blobs) and which snapshots hold
its filesystem (one per layer chain, named by chain id), plus the facts ``docker images`` shows
without opening the config (created, size, labels). Names (tags and repo digests) are not part of a
record: they live in the store's reference table, as in docker's ``repositories.json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockernb.errors import InternalError

__all__ = ["SCHEMA_VERSION", "BlobRef", "ImageRecord", "LayerRecord", "chain_ids", "parse_time", "utc_now"]

SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The chain id of every prefix of ``diff_ids`` (the snapshot names of an image's layers).

    The OCI rule, as ``layers.unpack.chain_id`` (not imported: listing images needs no layer code).
    """
    out: list[str] = []
    parent = ""
    for diff_id in diff_ids:
        parent = "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest() if parent else diff_id
        out.append(parent)
    return out


@dataclass(slots=True)
class BlobRef:
    """A blob in the content store: digest, media type, size (a manifest, or a layer as distributed)."""

    digest: str
    media_type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "media_type": self.media_type, "size": self.size}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BlobRef:
        return cls(str(d["digest"]), str(d.get("media_type", "")), int(d.get("size", 0)))


@dataclass(slots=True)
class LayerRecord:
    """One layer: its ``diff_id`` (uncompressed digest), the blob it came as (None: made here, e.g.
    by a build, and only in the snapshots) and ``size``, docker's layer size (bytes of file content)."""

    diff_id: str
    blob: BlobRef | None = None
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"diff_id": self.diff_id, "blob": self.blob.to_json() if self.blob else None, "size": self.size}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LayerRecord:
        blob = d.get("blob")
        return cls(str(d["diff_id"]), BlobRef.from_json(blob) if blob else None, int(d.get("size", 0)))


@dataclass(slots=True)
class ImageRecord:
    """What the store knows about one image (see the module docstring).

    ``manifest`` is the platform manifest it was pulled or loaded with (None for images made here,
    whose manifest is made when pushed); ``parent`` the image a build step made it from (docker's
    classic ``Parent``: history shows ids along it); ``created`` comes from the config,
    ``added``/``last_tag_time`` from this store.
    """

    id: str
    layers: list[LayerRecord] = field(default_factory=list)
    manifest: BlobRef | None = None
    parent: str = ""
    created: datetime | None = None
    added: datetime | None = None
    last_tag_time: datetime | None = None
    platform: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    @property
    def top_chain(self) -> str:
        chains = self.chain_ids
        return chains[-1] if chains else ""

    @property
    def size(self) -> int:
        """docker's image Size: the sum of its layers' sizes."""
        return sum(layer.size for layer in self.layers)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    def blobs(self) -> list[str]:
        """Every content digest this image needs kept: config, manifest, layer blobs."""
        out = [self.id]
        if self.manifest is not None:
            out.append(self.manifest.digest)
        out += [layer.blob.digest for layer in self.layers if layer.blob is not None]
        return out

    def to_json(self) -> dict[str, Any]:
        def t(v: datetime | None) -> str:
            return v.isoformat() if v else ""

        return {
            "schema_version": self.schema_version,
            "layers": [layer.to_json() for layer in self.layers],
            "manifest": self.manifest.to_json() if self.manifest else None,
            "parent": self.parent,
            "created": t(self.created),
            "added": t(self.added),
            "last_tag_time": t(self.last_tag_time),
            "platform": self.platform,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_json(cls, image_id: str, d: dict[str, Any]) -> ImageRecord:
        version = int(d.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise InternalError(f"image record {image_id} has schema version {version}; this dockernb reads "
                                f"{SCHEMA_VERSION}")  # fmt: skip
        manifest = d.get("manifest")
        return cls(
            id=image_id,
            layers=[LayerRecord.from_json(x) for x in d.get("layers", [])],
            manifest=BlobRef.from_json(manifest) if manifest else None,
            parent=str(d.get("parent", "")),
            created=parse_time(str(d.get("created", ""))),
            added=parse_time(str(d.get("added", ""))),
            last_tag_time=parse_time(str(d.get("last_tag_time", ""))),
            platform=str(d.get("platform", "")),
            labels={str(k): str(v) for k, v in dict(d.get("labels") or {}).items()},
            schema_version=version,
        )
