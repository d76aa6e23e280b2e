"""OCI/Docker documents: parsing, validation errors, platforms and docker's platform matching."""

from __future__ import annotations

import json

import pytest

from dockernb.errors import InvalidManifest, InvalidPlatform, NoMatchingPlatform
from dockernb.spec.digest import Digest
from dockernb.spec.oci import (
    Compression,
    Descriptor,
    Index,
    Manifest,
    MediaType,
    Platform,
    layer_compression,
    parse_document,
    parse_image_config,
    platform_preference,
    select_manifest,
)

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def manifest_doc(media_type: str = MediaType.OCI_MANIFEST, **extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": MediaType.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": MediaType.OCI_LAYER_GZIP, "digest": D2, "size": 20, "annotations": {"a": "b"}}],
    }
    doc.update(extra)
    return doc


def index_doc(*platforms: dict[str, str], media_type: str = MediaType.OCI_INDEX) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {"mediaType": MediaType.OCI_MANIFEST, "digest": f"sha256:{i:064x}", "size": 5, "platform": p}
            for i, p in enumerate(platforms)
        ],
    }


def test_manifest_round_trip() -> None:
    raw = json.dumps(manifest_doc()).encode()
    m = parse_document(raw, MediaType.OCI_MANIFEST)
    assert isinstance(m, Manifest)
    assert m.config.digest == Digest.parse(D1) and m.layers[0].size == 20 and m.layers[0].annotations == {"a": "b"}
    assert parse_document(json.dumps(m.to_json()).encode()) == m


def test_media_type_from_header_document_or_shape() -> None:
    doc = manifest_doc()
    del doc["mediaType"]
    assert parse_document(json.dumps(doc).encode()).media_type == MediaType.OCI_MANIFEST
    assert parse_document(json.dumps(doc).encode(), MediaType.DOCKER_MANIFEST).media_type == MediaType.DOCKER_MANIFEST
    idx = index_doc({"os": "linux", "architecture": "amd64"})
    del idx["mediaType"]
    assert isinstance(parse_document(json.dumps(idx).encode(), "application/json"), Index)
    listed = parse_document(json.dumps(index_doc(media_type=MediaType.DOCKER_MANIFEST_LIST)).encode())
    assert isinstance(listed, Index) and listed.media_type == MediaType.DOCKER_MANIFEST_LIST


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b'{"schemaVersion":2, "config": ', None, "error unmarshalling content: unexpected end of JSON input"),
        (b"hello", None, "error unmarshalling content: invalid character 'h' looking for beginning of value"),
        (b"[1]", None, "error unmarshalling content: not a JSON object"),
        (
            b'{"schemaVersion":2,"mediaType":"application/vnd.example.weird+json"}',
            "application/vnd.example.weird+json",
            "unsupported manifest media type and no default available: application/vnd.example.weird+json",
        ),
        (b'{"schemaVersion":1,"fsLayers":[]}', None, "schema 1"),
        (
            json.dumps(manifest_doc()).encode(),
            MediaType.DOCKER_MANIFEST,
            f"if present, mediaType in manifest should be '{MediaType.DOCKER_MANIFEST}' not '{MediaType.OCI_MANIFEST}'",
        ),
        (json.dumps(manifest_doc(schemaVersion=3)).encode(), None, "unsupported manifest schema version: 3"),
        (json.dumps(manifest_doc(layers={})).encode(), None, "manifest: layers must be a list"),
        (json.dumps(manifest_doc(config={"digest": "x"})).encode(), None, "config: mediaType must be a string"),
        (
            json.dumps(manifest_doc(config={"mediaType": "a", "digest": "sha256:zz", "size": 1})).encode(),
            None,
            "config: invalid digest",
        ),
        (
            json.dumps(manifest_doc(config={"mediaType": "a", "digest": D1, "size": -1})).encode(),
            None,
            "config: size must be a non-negative integer",
        ),
        (b"\xff\xfe", None, "error unmarshalling content"),
    ],
)
def test_malformed_documents(data: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        parse_document(data, content_type)
    assert message in str(info.value)
    assert info.value.http_status == 502


def test_layer_compression() -> None:
    assert layer_compression(MediaType.OCI_LAYER_ZSTD) == (Compression.ZSTD, False)
    assert layer_compression(MediaType.DOCKER_LAYER_GZIP) == (Compression.GZIP, False)
    assert layer_compression(MediaType.OCI_LAYER) == (Compression.NONE, False)
    assert layer_compression(MediaType.DOCKER_FOREIGN_LAYER_GZIP) == (Compression.GZIP, True)
    with pytest.raises(InvalidManifest, match="unsupported layer media type: text/plain"):
        layer_compression("text/plain")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/arm/6", "linux/arm/v6"),
        ("LINUX/AMD64", "linux/amd64"),
        ("linux/s390x", "linux/s390x"),
        ("s390x", "linux/s390x"),
        ("i386", "linux/386"),
    ],
)
def test_platform_parse(spec: str, expected: str) -> None:
    assert str(Platform.parse(spec)) == expected


def test_platform_parse_defaults_and_errors() -> None:
    host = Platform.host()
    assert host.os == "linux" and host.architecture
    assert Platform.parse("windows") == Platform("windows", host.architecture)
    assert Platform.parse("linux") == host
    with pytest.raises(InvalidPlatform) as info:
        Platform.parse("foo/bar/baz/qux")
    assert str(info.value) == '"foo/bar/baz/qux": cannot parse platform specifier: invalid argument'
    with pytest.raises(InvalidPlatform, match="unknown operating system or architecture"):
        Platform.parse("nosuchos")
    with pytest.raises(InvalidPlatform, match="invalid path component"):
        Platform.parse("linux/am d64")
    assert Platform.parse("linux/arm64").matches(Platform("linux", "arm64", "v8"))
    assert not Platform.parse("linux/arm/v7").matches(Platform("linux", "arm", "v6"))


def test_platform_preference_and_selection() -> None:
    assert [str(p) for p in platform_preference(Platform.parse("linux/arm64"))] == [
        "linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5"
    ]  # fmt: skip
    idx = parse_document(
        json.dumps(
            index_doc(
                {"os": "linux", "architecture": "386"},
                {"os": "linux", "architecture": "amd64"},
                {"os": "linux", "architecture": "arm64", "variant": "v8"},
                {"os": "linux", "architecture": "arm", "variant": "v6"},
            )
        ).encode()
    )
    assert isinstance(idx, Index)
    assert select_manifest(idx, Platform.parse("linux/amd64")) is idx.manifests[1]
    assert select_manifest(idx, Platform.parse("linux/arm64/v8")) is idx.manifests[2]
    assert select_manifest(idx, Platform.parse("linux/arm/v7")) is idx.manifests[3]
    only386 = Index(MediaType.OCI_INDEX, (idx.manifests[0],))
    assert select_manifest(only386, Platform.parse("linux/amd64")) is idx.manifests[0]
    with pytest.raises(NoMatchingPlatform) as info:
        select_manifest(idx, Platform.parse("linux/s390x"))
    assert str(info.value) == "no matching manifest for linux/s390x in the manifest list entries"
    with pytest.raises(NoMatchingPlatform, match="for windows/amd64 in"):
        select_manifest(only386, Platform("windows", "amd64"))


def test_an_entry_without_platform_fits_any() -> None:
    entry = {"mediaType": MediaType.OCI_MANIFEST, "digest": D3, "size": 1}
    idx = parse_document(json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode())
    assert isinstance(idx, Index)
    assert select_manifest(idx, Platform.parse("linux/s390x")).digest == Digest.parse(D3)


def test_attestation_entries_are_never_selected() -> None:
    entry = {"mediaType": MediaType.OCI_MANIFEST, "digest": D3, "size": 1,
             "platform": {"os": "unknown", "architecture": "unknown"}}  # fmt: skip
    idx = parse_document(json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode())
    assert isinstance(idx, Index)
    with pytest.raises(NoMatchingPlatform):
        select_manifest(idx, Platform.parse("linux/amd64"))


def test_image_config() -> None:
    raw = {
        "architecture": "arm64",
        "variant": "v8",
        "os": "linux",
        "created": "2024-01-02T03:04:05.123456789Z",
        "author": "me",
        "config": {
            "Env": ["PATH=/bin"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "b"},
            "Volumes": {"/data": {}}, "WorkingDir": "/w", "User": "1000", "StopSignal": "SIGQUIT",
        },
        "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "umoci"}, {"empty_layer": True}],
        "container_config": {"Hostname": "x"},
    }  # fmt: skip
    cfg = parse_image_config(json.dumps(raw).encode())
    assert str(cfg.platform) == "linux/arm64"
    assert cfg.created is not None and cfg.created.year == 2024 and cfg.created.microsecond == 123456
    assert cfg.config.cmd == ("sh",) and cfg.config.entrypoint is None and cfg.config.exposed_ports == ("80/tcp",)
    assert cfg.config.volumes == ("/data",) and cfg.config.labels == {"a": "b"} and cfg.config.stop_signal == "SIGQUIT"
    assert cfg.diff_ids == (Digest.parse(D1), Digest.parse(D2))
    assert cfg.history[1].empty_layer and cfg.history[0].created_by == "umoci"
    assert cfg.raw["container_config"] == {"Hostname": "x"}
    minimal = parse_image_config(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    assert minimal.config.cmd is None and minimal.created is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rootfs": {"type": "other", "diff_ids": []}}, "rootfs.type must be 'layers'"),
        ({"rootfs": {"type": "layers", "diff_ids": ["nope"]}}, "rootfs.diff_ids: invalid digest"),
        ({"created": "yesterday"}, "invalid time"),
        ({"config": {"Cmd": "sh"}}, "config.Cmd: expected a list of strings"),
        ({"history": {}}, "history must be a list"),
    ],
)
def test_bad_image_configs(doc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidManifest, match=message):
        parse_image_config(json.dumps(doc).encode())


def test_descriptor_json() -> None:
    d = Descriptor.from_json(
        {"mediaType": "m", "digest": D1, "size": 3, "urls": ["http://x"], "platform": {"os": "linux",
         "architecture": "arm", "variant": "v7"}}  # fmt: skip
    )
    assert d.to_json() == {
        "mediaType": "m", "digest": D1, "size": 3, "urls": ["http://x"],
        "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
    }  # fmt: skip
    with pytest.raises(InvalidManifest, match="expected a JSON object"):
        Descriptor.from_json([])
