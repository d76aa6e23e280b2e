"""RegistryClient.resolve/head through the fake transport: negotiation, verification, auth, mirrors, errors."""

from __future__ import annotations

import json

import pytest

from dockernb.errors import (
    InvalidManifest,
    ManifestUnknown,
    NoMatchingPlatform,
    NotFound,
    RegistryAuthRequired,
    RegistryUnreachable,
    VerificationFailed,
)
from dockernb.registry.credentials import AuthConfig
from dockernb.spec.digest import Digest
from dockernb.spec.oci import MediaType, Platform
from dockernb.spec.reference import parse_reference
from dockernb.testing.registry import MemoryRegistry, Router
from tests.unit.registry_fakes import HOST_PLATFORM, OTHER_PLATFORM, client, config, image, layer

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged


def test_resolve_by_tag_heads_then_gets_by_digest() -> None:
    reg = MemoryRegistry()
    img = image(reg)
    c = client(reg)
    r = c.resolve(parse_reference("registry.test/library/app"))
    assert str(r.descriptor.digest) == img.index and r.descriptor.media_type == MediaType.OCI_INDEX
    assert r.index is not None and r.index_bytes is not None
    assert str(r.manifest_descriptor.digest) == img.manifests[0]
    assert str(r.manifest.config.digest) == img.configs[0] and str(r.config.platform) == HOST_PLATFORM
    assert [str(d.digest) for d in r.manifest.layers] == img.layers
    assert Digest.of(r.config_bytes) == r.manifest.config.digest
    assert r.source.endpoint.url == "https://registry.test" and r.source.path == "library/app"
    calls = [(e.method, e.path) for e in reg.log]
    assert calls == [
        ("GET", "/v2/"),
        ("HEAD", "/v2/library/app/manifests/latest"),
        ("GET", f"/v2/library/app/manifests/{img.index}"),
        ("GET", f"/v2/library/app/manifests/{img.manifests[0]}"),
        ("GET", f"/v2/library/app/blobs/{img.configs[0]}"),
    ]
    accept = reg.log[1].headers["Accept"]
    for media_type in (MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST_LIST,
                       MediaType.DOCKER_MANIFEST):  # fmt: skip
        assert media_type in accept


def test_resolve_other_platform_by_digest_and_docker_formats() -> None:
    reg = MemoryRegistry()
    img = image(reg, docker=True)
    c = client(reg)
    r = c.resolve(parse_reference(f"registry.test/library/app@{img.index}"), Platform.parse(OTHER_PLATFORM))
    assert str(r.manifest_descriptor.digest) == img.manifests[1] and str(r.config.platform) == OTHER_PLATFORM
    assert r.manifest.media_type == MediaType.DOCKER_MANIFEST
    assert r.descriptor.media_type == MediaType.DOCKER_MANIFEST_LIST
    assert not [e for e in reg.log if e.method == "HEAD"]  # a digest needs no HEAD
    single = reg.add_image("library/one", "v1", [layer(3)])
    r = c.resolve(parse_reference("registry.test/library/one:v1"))
    assert r.index is None and str(r.descriptor.digest) == single.manifests[0] == str(r.manifest_descriptor.digest)


def test_head_is_one_request() -> None:
    reg = MemoryRegistry()
    img = image(reg)
    c = client(reg)
    c.head(parse_reference("registry.test/library/app"))  # pings
    before = len(reg.log)
    d = c.head(parse_reference("registry.test/library/app"))
    assert str(d.digest) == img.index and d.media_type == MediaType.OCI_INDEX
    assert len(reg.log) == before + 1 and reg.log[-1].method == "HEAD"


def test_errors_in_dockers_words() -> None:
    reg = MemoryRegistry()
    image(reg)
    c = client(reg)
    with pytest.raises(ManifestUnknown) as info:
        c.resolve(parse_reference("registry.test/nosuch"))
    assert str(info.value) == "manifest for registry.test/nosuch:latest not found: manifest unknown: manifest unknown"
    with pytest.raises(ManifestUnknown, match="registry.test/library/app:nosuchtag not found"):
        c.resolve(parse_reference("registry.test/library/app:nosuchtag"))
    with pytest.raises(NoMatchingPlatform) as nomatch:
        c.resolve(parse_reference("registry.test/library/app"), Platform.parse("linux/riscv64"))
    assert str(nomatch.value) == "no matching manifest for linux/riscv64 in the manifest list entries"


def test_name_unknown_and_garbage_error_bodies() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        from dockernb.registry.transport import Headers, Response

        if request.url.endswith("/v2/"):
            return Response(200, Headers())
        if "nameless" in request.url:
            body = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}'
            return Response(404, Headers({"Content-Type": "application/json"}), body)
        return Response(500, Headers(), b"")

    from dockernb.registry import RegistryClient
    from dockernb.testing.registry import FakeTransport

    c = RegistryClient(config(), transport=FakeTransport(handler))
    with pytest.raises(NotFound) as info:
        c.resolve(parse_reference("registry.test/nameless"))
    assert str(info.value) == (
        "repository registry.test/nameless not found: name unknown: repository name not known to registry"
    )
    with pytest.raises(Exception, match="received unexpected HTTP status: 500 Internal Server Error"):
        c.resolve(parse_reference("registry.test/other"))


def test_manifest_digest_is_verified() -> None:
    reg = MemoryRegistry()
    img = image(reg)
    repo = reg.repos["library/app"]
    media_type, data = repo.manifests[img.manifests[0]]
    repo.manifests[img.manifests[0]] = (media_type, data.replace(b'"layers"', b'"layers" '))
    with pytest.raises(VerificationFailed) as info:
        client(reg).resolve(parse_reference("registry.test/library/app"))
    assert str(info.value) == f"manifest verification failed for digest {img.manifests[0]}"


def test_config_digest_is_verified() -> None:
    reg = MemoryRegistry()
    img = image(reg)
    reg.blobs[img.configs[0]] = b'{"tampered": true}'
    with pytest.raises(VerificationFailed, match=f"image config verification failed for digest {img.configs[0]}"):
        client(reg).resolve(parse_reference("registry.test/library/app"))


def test_malformed_and_unsupported_documents() -> None:
    reg = MemoryRegistry()
    reg.add_manifest("library/bad", MediaType.OCI_MANIFEST, b'{"schemaVersion":2, "config": ', "latest")
    reg.add_manifest("library/weird", "application/vnd.example+json", b'{"schemaVersion":2}', "latest")
    c = client(reg)
    with pytest.raises(InvalidManifest, match="unexpected end of JSON input"):
        c.resolve(parse_reference("registry.test/library/bad"))
    with pytest.raises(InvalidManifest, match="unsupported manifest media type and no default available"):
        c.resolve(parse_reference("registry.test/library/weird"))
    helm = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST, "layers": [],
                       "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2}}).encode()  # fmt: skip
    reg.add_manifest("library/chart", MediaType.OCI_MANIFEST, helm, "latest")
    with pytest.raises(InvalidManifest, match='Encountered remote "application/vnd.cncf.helm.config.v1\\+json"'):
        c.resolve(parse_reference("registry.test/library/chart"))


def test_bearer_tokens_are_cached_per_scope_and_refreshed() -> None:
    now = [1000.0]
    reg = MemoryRegistry(auth="bearer", clock=lambda: now[0], token_lifetime=120)
    image(reg)
    c = client(reg)
    c.clock = lambda: now[0]
    c.tokens.clock = c.clock
    ref = parse_reference("registry.test/library/app")
    c.resolve(ref)
    c.resolve(ref)
    assert len(reg.token_requests) == 1
    assert reg.token_requests[0]["scope"] == ["repository:library/app:pull"]
    assert reg.token_requests[0]["service"] == ["registry.test"] and "account" not in reg.token_requests[0]
    now[0] += 200  # expired: a new token before the request
    c.head(ref)
    assert len(reg.token_requests) == 2
    reg.revoke_tokens()  # the registry forgets it: 401 invalid_token, one refresh, one retry
    c.head(ref)
    assert len(reg.token_requests) == 3


def test_private_repository_access() -> None:
    reg = MemoryRegistry(auth="bearer", users={"student": "pw"})
    image(reg, repo="private/app")
    with pytest.raises(RegistryAuthRequired) as info:
        client(reg).resolve(parse_reference("registry.test/private/app"))
    assert str(info.value) == (
        "pull access denied for registry.test/private/app, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied"
    )
    ok = client(reg, creds={"registry.test": AuthConfig("student", "pw")})
    assert ok.resolve(parse_reference("registry.test/private/app")).manifest.layers
    assert reg.token_requests[-1]["account"] == ["student"]
    bad = client(reg, creds={"registry.test": AuthConfig("student", "wrong")})
    with pytest.raises(RegistryAuthRequired) as wrong:
        bad.resolve(parse_reference("registry.test/private/app"))
    assert str(wrong.value) == (
        'Head "https://registry.test/v2/private/app/manifests/latest": unauthorized: incorrect username or password'
    )


def test_basic_auth() -> None:
    reg = MemoryRegistry(auth="basic", users={"student": "pw"})
    image(reg)
    ref = parse_reference("registry.test/library/app")
    with pytest.raises(RegistryAuthRequired) as info:
        client(reg).resolve(ref)
    assert str(info.value) == 'Head "https://registry.test/v2/library/app/manifests/latest": no basic auth credentials'
    assert client(reg, creds={"registry.test": AuthConfig("student", "pw")}).resolve(ref).config
    with pytest.raises(RegistryAuthRequired, match="^unauthorized: authentication required$"):
        client(reg, creds={"registry.test": AuthConfig("student", "nope")}).resolve(ref)


def test_docker_hub_mirror_then_upstream() -> None:
    mirror = MemoryRegistry("mirror.test")
    image(mirror, repo="library/busybox")
    upstream = MemoryRegistry("registry-1.docker.io")
    image(upstream, repo="library/onlyupstream")
    router = Router(mirror, upstream)
    c = client(router, config(registry_mirrors=("http://mirror.test",)))
    r = c.resolve(parse_reference("busybox"))
    assert r.source.endpoint.url == "http://mirror.test" and r.source.endpoint.mirror
    r = c.resolve(parse_reference("onlyupstream"))
    assert r.source.endpoint.url == "https://registry-1.docker.io"
    router.down.add("registry-1.docker.io")
    # the mirror's answer beats the unreachable upstream's (docker would print the upstream's dial error)
    with pytest.raises(ManifestUnknown, match="manifest for nosuch:latest not found"):
        c.resolve(parse_reference("nosuch"))
    router.down = {"mirror.test"}
    c2 = client(router, config(registry_mirrors=("http://mirror.test",)))
    assert c2.resolve(parse_reference("onlyupstream")).source.endpoint.url == "https://registry-1.docker.io"
    router.down = {"mirror.test", "registry-1.docker.io"}
    with pytest.raises(RegistryUnreachable) as info:
        client(router, config(registry_mirrors=("http://mirror.test",))).resolve(parse_reference("busybox"))
    assert str(info.value) == (
        'Get "https://registry-1.docker.io/v2/": dial tcp registry-1.docker.io: connect: connection refused'
    )


def test_insecure_registry_falls_back_from_https_to_http() -> None:
    reg = MemoryRegistry("127.0.0.1:5999")
    image(reg)

    def handler(request):  # type: ignore[no-untyped-def]
        if request.url.startswith("https://"):
            raise ConnectionError("http: server gave HTTP response to HTTPS client")
        return reg.handle(request)

    from dockernb.registry import RegistryClient
    from dockernb.testing.registry import FakeTransport

    transport = FakeTransport(handler)
    c = RegistryClient(config(), transport=transport)
    r = c.resolve(parse_reference("127.0.0.1:5999/library/app"))
    assert r.source.endpoint.url == "http://127.0.0.1:5999"
    assert transport.requests[0].url == "https://127.0.0.1:5999/v2/" and not transport.requests[0].verify_tls
    pings = len([q for q in transport.requests if q.url.startswith("https://")])
    c.resolve(parse_reference("127.0.0.1:5999/library/app"))
    assert len([q for q in transport.requests if q.url.startswith("https://")]) == pings  # session reused

    secure = RegistryClient(config(), transport=FakeTransport(handler))
    reg.host = "example.test"
    with pytest.raises(RegistryUnreachable) as info:
        secure.resolve(parse_reference("example.test/library/app"))
    assert str(info.value) == 'Get "https://example.test/v2/": http: server gave HTTP response to HTTPS client'
