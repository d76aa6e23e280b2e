"""The docker-archive format of ``docker save``/``docker load`` (layer L3).

An archive is a tar holding, for docker 20.10's ``save``::

    <config hex>.json              each image's config, named by the image id
    <v1 id>/VERSION                "1.0"
    <v1 id>/json                   the legacy (v1) image JSON of the layer
    <v1 id>/layer.tar              the layer, uncompressed (its sha256 is the diff_id)
    manifest.json                  [{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<v1 id>/layer.tar"]}]
    repositories                   {"busybox": {"latest": "<v1 id of the top layer>"}}

:class:`ArchiveWriter` writes one as a stream; :func:`read_archive` reads one as a stream (plain or
compressed, in any member order): small JSON members stay in memory, everything else goes straight
into the content store as a blob (hashed once, as it passes). Member names are only keys here,
never paths: nothing from an archive is written where its name says.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, BinaryIO

from dockernb.content.local import LocalContentStore
from dockernb.errors import DigestMismatch, InvalidArgument
from dockernb.layers.compression import RawReader, detect, open_decompressed
from dockernb.spec.digest import Digest
from dockernb.spec.oci import MediaType

__all__ = ["ArchiveWriter", "ManifestEntry", "ReadArchive", "StoredBlob", "decompress_to", "read_archive", "v1_id"]

_SMALL = 1 << 20  # JSON members up to this size are kept in memory
_CHUNK = 1 << 20


def v1_id(chain: str, parent_v1: str) -> str:
    """A stable directory name for a layer in an archive (docker derives one from the v1 image JSON)."""
    return hashlib.sha256(f"{parent_v1} {chain}".encode()).hexdigest()


def decompress_to(blob: RawReader, out: IO[bytes], *, media_type: str, diff_id: Digest) -> int:
    """Write the uncompressed layer to ``out``, checking it hashes to ``diff_id``; returns its size."""
    reader = open_decompressed(blob, media_type)
    h = hashlib.sha256()
    size = 0
    while chunk := reader.read(_CHUNK):
        h.update(chunk)
        out.write(chunk)
        size += len(chunk)
    if h.hexdigest() != diff_id.hex:
        raise DigestMismatch(f"sha256:{h.hexdigest()}", str(diff_id))
    return size


def _info(name: str, size: int, mtime: float, *, mode: int = 0o644, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = int(mtime)
    ti.mode = mode
    ti.type = kind
    ti.uname = ti.gname = ""
    return ti


class ArchiveWriter:
    """Writes a docker-archive to a stream: layers first, then configs, manifest.json, repositories."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self._layers: set[str] = set()
        self._manifest: list[dict[str, object]] = []
        self._repositories: dict[str, dict[str, str]] = {}
        self._configs: set[str] = set()

    def has_layer(self, v1: str) -> bool:
        return v1 in self._layers

    def _bytes(self, name: str, data: bytes, mtime: float) -> None:
        self._tar.addfile(_info(name, len(data), mtime), io.BytesIO(data))

    def add_layer(self, v1: str, parent_v1: str, spool: IO[bytes], *, created: datetime | None) -> None:
        """``spool`` holds the uncompressed layer tar (positioned anywhere; it is rewound)."""
        mtime = created.timestamp() if created and created.timestamp() > 0 else 0
        self._tar.addfile(_info(v1, 0, mtime, mode=0o755, kind=tarfile.DIRTYPE))
        self._bytes(f"{v1}/VERSION", b"1.0", mtime)
        legacy: dict[str, object] = {"id": v1, "created": (created.isoformat() if created else "0001-01-01T00:00:00Z")}
        if parent_v1:
            legacy["parent"] = parent_v1
        self._bytes(f"{v1}/json", json.dumps(legacy, separators=(",", ":")).encode(), mtime)
        size = spool.seek(0, io.SEEK_END)
        spool.seek(0)
        self._tar.addfile(_info(f"{v1}/layer.tar", size, mtime), spool)
        self._layers.add(v1)

    def add_image(
        self, image_id: str, config: bytes, repo_tags: list[str], layers: list[str], *, top_v1: str,
        created: datetime | None,
    ) -> None:
        hexpart = image_id.split(":", 1)[-1]
        name = f"{hexpart}.json"
        if name not in self._configs:
            mtime = created.timestamp() if created and created.timestamp() > 0 else 0
            self._bytes(name, config, mtime)
            self._configs.add(name)
        self._manifest.append({"Config": name, "RepoTags": repo_tags or None, "Layers": layers})
        for tag in repo_tags:
            repo, _, t = tag.rpartition(":")
            if top_v1:
                self._repositories.setdefault(repo, {})[t] = top_v1

    def close(self) -> None:
        self._bytes("manifest.json", json.dumps(self._manifest, separators=(",", ":")).encode(), 0)
        if self._repositories:
            self._bytes("repositories", json.dumps(self._repositories, separators=(",", ":")).encode(), 0)
        self._tar.close()


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """An archive member stored as a blob: its digest, size, and the layer media type its bytes suggest."""

    digest: Digest
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


@dataclass
class ReadArchive:
    """What :func:`read_archive` found: small files by name, blobs by name, symlinks by name."""

    content: LocalContentStore | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, StoredBlob] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def _resolve(self, name: str) -> str:
        name = posixpath.normpath(name.lstrip("/"))
        for _ in range(16):
            target = self.links.get(name)
            if target is None:
                return name
            name = posixpath.normpath(posixpath.join(posixpath.dirname(name), target)).lstrip("/")
        raise InvalidArgument(f"invalid archive: too many links at {name}")

    def file(self, name: str) -> bytes:
        name = self._resolve(name)
        if name in self.files:
            return self.files[name]
        if name in self.blobs and self.content is not None and self.blobs[name].size <= 16 * _SMALL:
            with self.content.open_reader(self.blobs[name].digest) as f:
                return f.read()
        raise InvalidArgument(f"invalid archive: {name} is missing")

    def blob(self, name: str) -> StoredBlob:
        name = self._resolve(name)
        if name in self.blobs:
            return self.blobs[name]
        raise InvalidArgument(f"invalid archive: layer {name} is missing")

    def manifest(self) -> list[ManifestEntry]:
        if "manifest.json" not in self.files:
            raise InvalidArgument("invalid archive: no manifest.json (docker load reads what docker save writes)")
        try:
            doc = json.loads(self.files["manifest.json"])
        except ValueError as err:
            raise InvalidArgument(f"invalid archive: manifest.json: {err}") from None
        if not isinstance(doc, list):
            raise InvalidArgument("invalid archive: manifest.json is not a list")
        out = []
        for item in doc:
            if not isinstance(item, dict) or not isinstance(item.get("Config"), str):
                raise InvalidArgument("invalid archive: manifest.json entry without Config")
            tags = item.get("RepoTags") or []
            layers = item.get("Layers") or []
            if not all(isinstance(t, str) for t in tags) or not all(isinstance(x, str) for x in layers):
                raise InvalidArgument("invalid archive: manifest.json has non-string names")
            out.append(ManifestEntry(item["Config"], tuple(tags), tuple(layers)))
        return out


def _keep_in_memory(name: str, size: int) -> bool:
    base = posixpath.basename(name)
    return size <= _SMALL and (base.endswith(".json") or base in ("json", "VERSION", "repositories", "index.json",
                                                                   "oci-layout"))  # fmt: skip


def read_archive(stream: BinaryIO, content: LocalContentStore) -> ReadArchive:
    """Read a ``docker save`` archive (plain, gzip, bzip2 or xz) once; see the module docstring.

    Raises InvalidArgument for something that is not a tar.
    """
    out = ReadArchive(content)
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as err:
        raise InvalidArgument(f"invalid archive: {err}") from None
    with tar:
        try:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("/"))
                if member.issym():
                    out.links[name] = member.linkname
                    continue
                if member.islnk():
                    out.links[name] = "/" + member.linkname  # hard links name the member from the root
                    continue
                if not member.isreg():
                    continue
                f = tar.extractfile(member)
                assert f is not None
                if _keep_in_memory(name, member.size):
                    out.files[name] = f.read()
                else:
                    out.blobs[name] = _store(f, content)
        except tarfile.TarError as err:
            raise InvalidArgument(f"invalid archive: {err}") from None
    return out


def _store(f: IO[bytes], content: LocalContentStore) -> StoredBlob:
    ref = f"load-{uuid.uuid4().hex}"
    writer = content.writer(ref)
    head = b""
    try:
        while chunk := f.read(_CHUNK):
            if len(head) < 4:
                head = (head + chunk)[:4]
            writer.write(chunk)
        size = writer.offset
        digest = writer.commit()
    except BaseException:
        writer.close()
        content.abort(ref)
        raise
    kind = detect(head)
    types = {"gzip": MediaType.DOCKER_LAYER_GZIP, "zstd": MediaType.OCI_LAYER_ZSTD}
    media_type = types.get(kind, MediaType.DOCKER_LAYER)
    return StoredBlob(digest, size, media_type)
