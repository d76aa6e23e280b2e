"""OCI and Docker image documents as typed, validated values (layer L0, pure data).

Owns the media types, :class:`Descriptor`, :class:`Platform` (with containerd's normalisation and
docker's matching), :class:`Manifest`, :class:`Index` and :class:`ImageConfig`, each parsed from
the JSON bytes a registry or an archive holds. Malformed or unsupported documents raise
:class:`~dockernb.errors.InvalidManifest` saying what is wrong and where.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from dockernb.errors import InvalidArgument, InvalidManifest, InvalidPlatform, NoMatchingPlatform
from dockernb.spec.digest import Digest

__all__ = [
    "CONFIG_TYPES",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "Compression",
    "Descriptor",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "MediaType",
    "Platform",
    "RunConfig",
    "layer_compression",
    "parse_document",
    "parse_image_config",
    "platform_preference",
    "select_manifest",
]

JSONObject = Mapping[str, object]


class MediaType(StrEnum):
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
    OCI_FOREIGN_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    OCI_FOREIGN_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    OCI_FOREIGN_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
    DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
    DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
    DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


INDEX_TYPES = frozenset({MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({MediaType.OCI_CONFIG, MediaType.DOCKER_CONFIG})


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


_LAYERS: dict[str, tuple[Compression, bool]] = {
    MediaType.OCI_LAYER: (Compression.NONE, False),
    MediaType.OCI_LAYER_GZIP: (Compression.GZIP, False),
    MediaType.OCI_LAYER_ZSTD: (Compression.ZSTD, False),
    MediaType.OCI_FOREIGN_LAYER: (Compression.NONE, True),
    MediaType.OCI_FOREIGN_LAYER_GZIP: (Compression.GZIP, True),
    MediaType.OCI_FOREIGN_LAYER_ZSTD: (Compression.ZSTD, True),
    MediaType.DOCKER_LAYER: (Compression.NONE, False),
    MediaType.DOCKER_LAYER_GZIP: (Compression.GZIP, False),
    MediaType.DOCKER_FOREIGN_LAYER: (Compression.NONE, True),
    MediaType.DOCKER_FOREIGN_LAYER_GZIP: (Compression.GZIP, True),
}


def layer_compression(media_type: str) -> tuple[Compression, bool]:
    """(compression, foreign) of a layer media type.

    Raises:
        InvalidManifest: not a layer type we can unpack.
    """
    try:
        return _LAYERS[media_type]
    except KeyError:
        raise InvalidManifest(f"unsupported layer media type: {media_type}") from None


# --- platforms ---------------------------------------------------------------------

_KNOWN_OS = frozenset(
    ("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd",
     "openbsd", "plan9", "solaris", "windows", "zos")
)  # fmt: skip
_KNOWN_ARCH = frozenset(
    ("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips", "mipsle",
     "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64",
     "wasm")
)  # fmt: skip
_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+\Z")


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    # containerd 1.6's normalizeArch (what docker 20.10 uses): arm64's v8 is the empty variant
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64"):
        return "amd64", ""
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


def _host_arch() -> tuple[str, str]:
    arch, variant = _normalize_arch(os.uname().machine, "")
    if arch.startswith("armv"):  # armv7l, armv6l
        arch, variant = _normalize_arch("arm", arch[4:5])
    return arch, variant


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform; construct through :meth:`parse`, :meth:`host` or :meth:`from_json` (normalised)."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def host(cls) -> Platform:
        """The platform this machine runs (docker's default for pulls)."""
        arch, variant = _host_arch()
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, specifier: str) -> Platform:
        """``os[/arch[/variant]]`` or a bare os or arch, as containerd's platforms.Parse (docker's --platform).

        Raises:
            InvalidPlatform: in containerd's words, e.g. ``"a/b/c/d": cannot parse platform specifier``.
        """
        if "*" in specifier:
            raise InvalidPlatform(f'"{specifier}": wildcards not yet supported: invalid argument')
        parts = specifier.split("/")
        for part in parts:
            if not _COMPONENT.match(part):
                raise InvalidPlatform(
                    f'"{specifier}": invalid path component "{part}" in "{specifier}": invalid argument'
                )
        host_arch, host_variant = _host_arch()
        if len(parts) == 1:
            word = parts[0].lower()
            if word in _KNOWN_OS:
                return cls(word, host_arch, host_variant if word == "linux" else "")
            arch, variant = _normalize_arch(word, "")
            if arch in _KNOWN_ARCH:
                return cls("linux", arch, variant)
            raise InvalidPlatform(f'"{specifier}": unknown operating system or architecture: invalid argument')
        if len(parts) == 2:
            arch, variant = _normalize_arch(parts[1], "")
            return cls(parts[0].lower(), arch, variant)
        if len(parts) == 3:
            arch, variant = _normalize_arch(parts[1], parts[2])
            return cls(parts[0].lower(), arch, variant)
        raise InvalidPlatform(f'"{specifier}": cannot parse platform specifier: invalid argument')

    @classmethod
    def from_json(cls, obj: object, where: str = "platform") -> Platform:
        o = _obj(obj, where)
        arch, variant = _normalize_arch(_str(o, "architecture", where), _str(o, "variant", where, ""))
        features = o.get("os.features", [])
        return cls(
            _str(o, "os", where).lower(), arch, variant, _str(o, "os.version", where, ""), _strs(features, where)
        )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def normalized(self) -> Platform:
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(self.os.lower(), arch, variant, self.os_version, self.os_features)

    def matches(self, other: Platform) -> bool:
        """Same os, architecture and variant once both are normalised (``linux/arm64`` = ``linux/arm64/v8``)."""
        a, b = self.normalized(), other.normalized()
        return (a.os, a.architecture, a.variant) == (b.os, b.architecture, b.variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def platform_preference(wanted: Platform) -> list[Platform]:
    """What ``wanted`` accepts, best first (containerd's platforms.Only): amd64 also runs 386,
    arm64 also arm/v8..v5, arm/vN also arm/v(N-1)..v5."""
    p = wanted.normalized()
    out = [p]
    if p.architecture == "amd64":
        out.append(Platform(p.os, "386"))
    elif p.architecture == "arm64":
        out += platform_preference(Platform(p.os, "arm", p.variant or "v8"))
    elif p.architecture == "arm" and p.variant[1:].isdigit():
        out += [Platform(p.os, "arm", f"v{v}") for v in range(int(p.variant[1:]) - 1, 4, -1)]
    return out


def select_manifest(index: Index, wanted: Platform) -> Descriptor:
    """The manifest of ``index`` that best fits ``wanted`` (docker's filterManifests, then first match).

    Raises:
        NoMatchingPlatform: ``no matching manifest for linux/amd64 in the manifest list entries``.
    """
    for candidate in platform_preference(wanted):
        for desc in index.manifests:
            if desc.platform is not None and desc.media_type not in INDEX_TYPES and desc.platform.matches(candidate):
                return desc
    # an entry that names no platform fits any (containerd's rule); its config says what it is
    for desc in index.manifests:
        if desc.platform is None and desc.media_type in MANIFEST_TYPES:
            return desc
    raise NoMatchingPlatform(str(wanted.normalized()))


# --- documents ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Descriptor:
    """What points at a blob: its media type, digest and size (plus optional platform, urls, annotations)."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str = ""

    @classmethod
    def from_json(cls, obj: object, where: str = "descriptor") -> Descriptor:
        o = _obj(obj, where)
        media_type = _str(o, "mediaType", where)
        try:
            digest = Digest.parse(_str(o, "digest", where))
        except InvalidArgument as err:
            raise InvalidManifest(f"{where}: {err}") from None
        size = o.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"{where}: size must be a non-negative integer")
        platform = o.get("platform")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            urls=_strs(o.get("urls", []), f"{where}.urls"),
            annotations=_annotations(o, where),
            platform=None if platform is None else Platform.from_json(platform, f"{where}.platform"),
            artifact_type=_str(o, "artifactType", where, ""),
        )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker v2 schema 2): one config and the layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or a Docker manifest list: manifests for several platforms."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [m.to_json() for m in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def _go_json_error(err: json.JSONDecodeError) -> str:
    # Go's encoding/json wording, which docker prints ("unexpected end of JSON input")
    doc, pos = err.doc, err.pos
    if pos >= len(doc.rstrip()):
        return "unexpected end of JSON input"
    ch = doc[pos]
    context = {
        "Expecting value": "looking for beginning of value",
        "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
        "Expecting ':' delimiter": "after object key",
        "Expecting ',' delimiter": "after object key:value pair" if "{" in doc[:pos] else "after array element",
        "Extra data": "after top-level value",
    }.get(err.msg, err.msg.lower())
    return f"invalid character {ch!r} {context}"


def _load(data: bytes, what: str) -> JSONObject:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise InvalidManifest(f"error unmarshalling {what}: invalid UTF-8") from None
    except json.JSONDecodeError as err:
        raise InvalidManifest(f"error unmarshalling {what}: {_go_json_error(err)}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest(f"error unmarshalling {what}: not a JSON object")
    return doc


def _sniff(doc: JSONObject) -> str:
    # a document without a mediaType (allowed by OCI): guess from its shape, like containerd
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc:
        return MediaType.DOCKER_SCHEMA1
    if "manifests" in doc:
        return MediaType.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return MediaType.OCI_MANIFEST
    return ""


def parse_document(data: bytes, content_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or an index from its bytes; ``content_type`` is what the registry said it is.

    Raises:
        InvalidManifest: malformed JSON or fields, schema 1, or a media type that is neither.
    """
    doc = _load(data, "content")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifest("mediaType must be a string")
    header = (content_type or "").split(";", 1)[0].strip().lower()
    if header in ("", "application/json", "text/plain", "application/octet-stream"):
        header = ""
    media_type = header or declared or _sniff(doc)
    if header and declared and declared != header:
        raise InvalidManifest(f"if present, mediaType in manifest should be '{header}' not '{declared}'")
    if media_type in (MediaType.DOCKER_SCHEMA1, MediaType.DOCKER_SCHEMA1_SIGNED):
        raise InvalidManifest(
            f"unsupported manifest media type: {media_type} (Docker image manifest version 2, schema 1 is "
            "deprecated; push the image again with a current tool)"
        )
    if media_type not in INDEX_TYPES and media_type not in MANIFEST_TYPES:
        raise InvalidManifest(f"unsupported manifest media type and no default available: {media_type or 'none'}")
    if doc.get("schemaVersion") != 2:
        raise InvalidManifest(f"unsupported manifest schema version: {doc.get('schemaVersion')!r}")
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise InvalidManifest("index: manifests must be a list")
        return Index(
            media_type=media_type,
            manifests=tuple(Descriptor.from_json(m, f"manifests[{i}]") for i, m in enumerate(entries)),
            annotations=_annotations(doc, "index"),
        )
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifest("manifest: layers must be a list")
    subject = doc.get("subject")
    return Manifest(
        media_type=media_type,
        config=Descriptor.from_json(doc.get("config"), "config"),
        layers=tuple(Descriptor.from_json(layer, f"layers[{i}]") for i, layer in enumerate(layers)),
        annotations=_annotations(doc, "manifest"),
        subject=None if subject is None else Descriptor.from_json(subject, "subject"),
    )


# --- image config ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunConfig:
    """The ``config`` section of an image config: how containers of the image run by default."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()
    healthcheck: JSONObject | None = None
    args_escaped: bool = False


@dataclass(frozen=True, slots=True)
class History:
    created: datetime | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The image config JSON (its digest is the image ID). ``raw`` keeps the document as received,
    so fields we do not model (``container_config``, ``docker_version``...) survive inspect and save."""

    architecture: str
    os: str
    variant: str = ""
    os_version: str = ""
    created: datetime | None = None
    author: str = ""
    config: RunConfig = field(default_factory=RunConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    raw: JSONObject = field(default_factory=dict)

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant, self.os_version).normalized()


def _time(value: object, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidManifest(f"image config: {where} must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidManifest(f"image config: {where}: invalid time {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_strs(o: JSONObject, key: str, where: str) -> tuple[str, ...] | None:
    value = o.get(key)
    return None if value is None else _strs(value, f"{where}.{key}")


def _keys(o: JSONObject, key: str, where: str) -> tuple[str, ...]:
    value = o.get(key)
    if value is None:
        return ()
    return tuple(_obj(value, f"{where}.{key}").keys())


def _run_config(value: object) -> RunConfig:
    if value is None:
        return RunConfig()
    o, w = _obj(value, "config"), "config"
    health = o.get("Healthcheck")
    return RunConfig(
        user=_str(o, "User", w, ""),
        exposed_ports=_keys(o, "ExposedPorts", w),
        env=_opt_strs(o, "Env", w) or (),
        entrypoint=_opt_strs(o, "Entrypoint", w),
        cmd=_opt_strs(o, "Cmd", w),
        volumes=_keys(o, "Volumes", w),
        working_dir=_str(o, "WorkingDir", w, ""),
        labels=_str_map(o.get("Labels"), f"{w}.Labels"),
        stop_signal=_str(o, "StopSignal", w, ""),
        shell=_opt_strs(o, "Shell", w),
        on_build=_opt_strs(o, "OnBuild", w) or (),
        healthcheck=None if health is None else _obj(health, f"{w}.Healthcheck"),
        args_escaped=bool(o.get("ArgsEscaped", False)),
    )


def parse_image_config(data: bytes) -> ImageConfig:
    """Parse an image config blob (OCI or Docker; same shape).

    Raises:
        InvalidManifest: malformed JSON, or rootfs/diff_ids/history of the wrong shape.
    """
    doc = _load(data, "image config")
    w = "image config"
    rootfs = _obj(doc.get("rootfs", {"type": "layers", "diff_ids": []}), "rootfs")
    if rootfs.get("type") != "layers":
        raise InvalidManifest(f"{w}: rootfs.type must be 'layers', not {rootfs.get('type')!r}")
    try:
        diff_ids = tuple(Digest.parse(d) for d in _strs(rootfs.get("diff_ids") or [], "rootfs.diff_ids"))
    except InvalidArgument as err:
        raise InvalidManifest(f"{w}: rootfs.diff_ids: {err}") from None
    history_list = doc.get("history")
    history_list = [] if history_list is None else history_list
    if not isinstance(history_list, list):
        raise InvalidManifest(f"{w}: history must be a list")
    history = []
    for i, item in enumerate(history_list):
        h, hw = _obj(item, f"history[{i}]"), f"history[{i}]"
        history.append(
            History(
                created=_time(h.get("created"), f"{hw}.created"),
                created_by=_str(h, "created_by", hw, ""),
                author=_str(h, "author", hw, ""),
                comment=_str(h, "comment", hw, ""),
                empty_layer=bool(h.get("empty_layer", False)),
            )
        )
    arch, variant = _normalize_arch(_str(doc, "architecture", w, ""), _str(doc, "variant", w, ""))
    return ImageConfig(
        architecture=arch,
        os=_str(doc, "os", w, ""),
        variant=variant,
        os_version=_str(doc, "os.version", w, ""),
        created=_time(doc.get("created"), "created"),
        author=_str(doc, "author", w, ""),
        config=_run_config(doc.get("config")),
        diff_ids=diff_ids,
        history=tuple(history),
        raw=doc,
    )


# --- field helpers -----------------------------------------------------------------


def _obj(value: object, where: str) -> JSONObject:
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where}: expected a JSON object")
    return value


def _str(o: JSONObject, key: str, where: str, default: str | None = None) -> str:
    value = o.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise InvalidManifest(f"{where}: {key} must be a string")
    return value


def _strs(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidManifest(f"{where}: expected a list of strings")
    return tuple(value)


def _str_map(value: object, where: str) -> Mapping[str, str]:
    if value is None:
        return {}
    o = _obj(value, where)
    if not all(isinstance(v, str) for v in o.values()):
        raise InvalidManifest(f"{where}: values must be strings")
    return {str(k): str(v) for k, v in o.items()}


def _annotations(o: JSONObject, where: str) -> Mapping[str, str]:
    return _str_map(o.get("annotations"), f"{where}.annotations")
