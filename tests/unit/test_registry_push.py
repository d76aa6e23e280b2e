"""Push through the fake registry: HEAD skips, cross-repo mounts, monolithic and chunked uploads, manifests."""

from __future__ import annotations

import io

import pytest

from dockernb.errors import RegistryAuthRequired, RegistryError
from dockernb.registry import PushOutcome
from dockernb.registry.credentials import AuthConfig
from dockernb.spec.digest import Digest
from dockernb.spec.oci import Descriptor, MediaType
from dockernb.spec.reference import parse_reference
from dockernb.testing.registry import MemoryRegistry
from tests.unit.registry_fakes import client, layer

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged

BLOB = layer(11, 300_000)
DESC = Descriptor(MediaType.OCI_LAYER_GZIP, Digest.of(BLOB), len(BLOB))
TARGET = parse_reference("registry.test/team/app:v1")


def test_monolithic_upload_then_skip() -> None:
    reg = MemoryRegistry()
    c = client(reg)
    progress: list[int] = []
    assert c.push_blob(TARGET, DESC, lambda: io.BytesIO(BLOB), progress=progress.append) == PushOutcome.PUSHED
    assert reg.blobs[str(DESC.digest)] == BLOB and progress[-1] == len(BLOB)
    calls = [(e.method, e.path) for e in reg.log if "/blobs/" in e.path]
    assert calls[0] == ("HEAD", f"/v2/team/app/blobs/{DESC.digest}")
    assert calls[1] == ("POST", "/v2/team/app/blobs/uploads/")
    assert calls[2][0] == "PUT" and calls[2][1].startswith("/v2/team/app/blobs/uploads/") and len(calls) == 3
    assert f"digest={DESC.digest}" in [e for e in reg.log if e.method == "PUT"][0].query
    assert c.blob_exists(TARGET, DESC.digest)
    assert c.push_blob(TARGET, DESC, BLOB) == PushOutcome.EXISTS


def test_chunked_upload() -> None:
    reg = MemoryRegistry()
    c = client(reg)
    assert c.push_blob(TARGET, DESC, BLOB, chunk_size=100_000) == PushOutcome.PUSHED
    patches = [e for e in reg.log if e.method == "PATCH"]
    assert [p.headers["Content-Range"] for p in patches] == [
        "0-99999", "100000-199999", "200000-299999", f"300000-{len(BLOB) - 1}"
    ][: len(patches)]  # fmt: skip
    assert len(patches) == -(-len(BLOB) // 100_000)
    assert reg.blobs[str(DESC.digest)] == BLOB


def test_cross_repository_mount() -> None:
    reg = MemoryRegistry()
    reg.add_blob("library/base", BLOB)
    c = client(reg)
    outcome = c.push_blob(TARGET, DESC, BLOB, mount_from=parse_reference("registry.test/library/base"))
    assert outcome == PushOutcome.MOUNTED
    assert not [e for e in reg.log if e.method == "PUT"]
    post = next(e for e in reg.log if e.method == "POST")
    assert f"mount={DESC.digest}" in post.query and "from=library/base" in post.query
    # a mount that the registry refuses falls back to a plain upload in the session it opened
    other = layer(12, 1000)
    d2 = Descriptor(MediaType.OCI_LAYER_GZIP, Digest.of(other), len(other))
    base = parse_reference("registry.test/library/base")
    assert c.push_blob(TARGET, d2, other, mount_from=base) == PushOutcome.PUSHED
    assert c.mount_blob(parse_reference("registry.test/x/y"), DESC, base)
    assert not c.mount_blob(parse_reference("registry.test/x/y"), d2, parse_reference("registry.test/library/nope"))
    assert not reg.uploads  # the refused mount's session was cancelled
    assert not c.mount_blob(TARGET, DESC, parse_reference("elsewhere.test/library/base"))


def test_manifest_put_and_read_back() -> None:
    reg = MemoryRegistry()
    img = reg.add_image("library/src", "latest", [BLOB])
    c = client(reg)
    src = c.resolve(parse_reference("registry.test/library/src"))
    for d in (src.manifest.config, *src.manifest.layers):
        c.push_blob(TARGET, d, c.fetch_blob(src.source, d, limit=1 << 20))
    digest = c.put_manifest(TARGET, src.manifest_bytes, src.manifest.media_type)
    assert str(digest) == img.manifests[0]
    back = c.resolve(TARGET)
    assert back.manifest == src.manifest and back.descriptor.digest == digest
    c.delete_manifest(TARGET, digest)
    assert not reg.repos["team/app"].manifests


def test_push_scope_and_denials() -> None:
    reg = MemoryRegistry(auth="bearer", users={"student": "pw"})
    anonymous = client(reg)
    with pytest.raises(RegistryAuthRequired) as info:
        anonymous.push_blob(TARGET, DESC, BLOB)
    assert str(info.value) == "denied: requested access to the resource is denied"
    c = client(reg, creds={"registry.test": AuthConfig("student", "pw")})
    assert c.push_blob(TARGET, DESC, BLOB) == PushOutcome.PUSHED
    assert reg.token_requests[-1]["scope"] == ["repository:team/app:pull,push"]
    reg.add_blob("library/base", layer(13, 500))
    c.push_blob(TARGET, Descriptor("x", Digest.of(reg.blobs[next(iter(reg.repos["library/base"].blobs))]), 1),
                b"", mount_from=parse_reference("registry.test/library/base"), check_exists=False)  # fmt: skip
    assert sorted(reg.token_requests[-1]["scope"]) == ["repository:library/base:pull", "repository:team/app:pull,push"]


def test_registry_rejects_a_bad_digest() -> None:
    reg = MemoryRegistry()
    c = client(reg)
    lying = Descriptor(DESC.media_type, Digest.of(b"other"), len(BLOB))
    with pytest.raises(RegistryError, match="digest invalid: provided digest did not match uploaded content"):
        c.push_blob(TARGET, lying, BLOB)
    assert not reg.uploads  # the failed session was cancelled
