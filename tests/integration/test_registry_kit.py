"""The registry client against the kit's three real registries (root and rootless).

Expected wordings come from ../shared/golden and from docker 20.10.24 run against these same
registries (recorded by hand, quoted here where golden has no case).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.config import Config
from dockernb.errors import (
    ManifestUnknown,
    NoMatchingPlatform,
    RegistryAuthRequired,
    RegistryUnreachable,
    VerificationFailed,
)
from dockernb.registry import DockerConfigFile, MemoryCredentials, PushOutcome, RegistryClient
from dockernb.registry.credentials import AuthConfig
from dockernb.spec.digest import Digest
from dockernb.spec.oci import MediaType, Platform
from dockernb.spec.reference import parse_reference
from dockernb.testing.faultproxy import FaultProxy, non_loopback_address
from tests import golden
from tests.integration.registry_support import (
    KIT_PASSWORD,
    KIT_USER,
    TEST_RETRY,
    CountingTransport,
    kit_config,
    token_registry,
)

pytestmark = [pytest.mark.kit, pytest.mark.rootless]


@pytest.fixture
def client(kit_env: dict[str, str], root_dir: Path) -> Iterator[RegistryClient]:
    c = RegistryClient(kit_config(kit_env, root_dir), MemoryCredentials(), transport=CountingTransport(),
                       retry=TEST_RETRY)  # fmt: skip
    yield c
    c.close()


def test_every_kit_format_resolves(client: RegistryClient) -> None:
    cases = {
        "busybox": (MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, 1),
        "127.0.0.1:5000/library/hello-world": (MediaType.DOCKER_MANIFEST_LIST, MediaType.DOCKER_MANIFEST, 1),
        "debian:bookworm": (MediaType.OCI_MANIFEST, MediaType.OCI_MANIFEST, 1),
        "nginx": (MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST, 2),
        "python:3.11": (MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST, 2),
        "busybox:zstd": (MediaType.OCI_MANIFEST, MediaType.OCI_MANIFEST, 1),
    }
    for text, (top, manifest, layers) in cases.items():
        r = client.resolve(parse_reference(text))
        assert (r.descriptor.media_type, r.manifest.media_type, len(r.manifest.layers)) == (top, manifest, layers)
        assert r.config.platform.matches(Platform.host()) and Digest.of(r.config_bytes) == r.manifest.config.digest
        assert len(r.config.diff_ids) == layers
    assert client.resolve(parse_reference("busybox:zstd")).manifest.layers[0].media_type == MediaType.OCI_LAYER_ZSTD
    # docker.io names come from the mirror, and the mirror's digest is the registry's
    hub = client.resolve(parse_reference("busybox"))
    assert hub.source.endpoint.url == "http://127.0.0.1:5000" and hub.source.endpoint.mirror
    assert client.head(parse_reference("127.0.0.1:5000/library/busybox")) == hub.descriptor
    arm = client.resolve(parse_reference("busybox"), Platform.parse("linux/arm64/v8"))
    assert str(arm.config.platform) == "linux/arm64"
    assert arm.manifest_descriptor.digest != hub.manifest_descriptor.digest


def test_blob_stream_and_connection_reuse(client: RegistryClient) -> None:
    r = client.resolve(parse_reference("127.0.0.1:5000/library/busybox"))
    layer = r.manifest.layers[0]
    h = hashlib.sha256()
    seen: list[int] = []
    with client.open_blob(r.source, layer, progress=seen.append) as reader:
        while chunk := reader.read(1 << 16):
            h.update(chunk)
    assert "sha256:" + h.hexdigest() == str(layer.digest) and seen[-1] == layer.size
    # every request went over kept-alive connections: far fewer connections than requests
    inner = client.transport.inner  # type: ignore[attr-defined]
    assert sum(len(v) for v in inner._idle.values()) >= 1


def test_errors_match_golden(client: RegistryClient) -> None:
    for case in ("pull-missing-local-registry", "pull-missing-tag"):
        exp = golden.expected(case)
        with pytest.raises(ManifestUnknown) as info:
            client.resolve(parse_reference(exp["argv"][-1]))
        assert exp["stderr"] == f"Error response from daemon: {info.value}\n"
    exp = golden.expected("run-no-such-image-local-registry")
    with pytest.raises(ManifestUnknown) as info:
        client.resolve(parse_reference(exp["argv"][-1]))
    assert f"dockernb: Error response from daemon: {info.value}.\n" in exp["stderr"]


def test_errors_match_docker_on_the_kit(client: RegistryClient) -> None:
    """Wordings docker 20.10.24 printed against these registries (after 'Error response from daemon: ')."""
    expect = {
        "127.0.0.1:5002/private/busybox": (RegistryAuthRequired,
            "pull access denied for 127.0.0.1:5002/private/busybox, repository does not exist or may require "
            "'docker login': denied: requested access to the resource is denied"),
        "127.0.0.1:5002/other/nosuch": (RegistryAuthRequired,
            "pull access denied for 127.0.0.1:5002/other/nosuch, repository does not exist or may require "
            "'docker login': denied: requested access to the resource is denied"),
        "127.0.0.1:5002/library/nosuch": (ManifestUnknown,
            "manifest for 127.0.0.1:5002/library/nosuch:latest not found: manifest unknown: manifest unknown"),
        "127.0.0.1:5001/library/busybox": (RegistryAuthRequired,
            'Head "http://127.0.0.1:5001/v2/library/busybox/manifests/latest": no basic auth credentials'),
        "127.0.0.1:5999/library/busybox": (RegistryUnreachable,
            'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'),
        f"127.0.0.1:5000/library/busybox@sha256:{'0' * 64}": (ManifestUnknown,
            f"manifest for 127.0.0.1:5000/library/busybox@sha256:{'0' * 64} not found: manifest unknown: "
            "manifest unknown"),
    }  # fmt: skip
    for text, (cls, message) in expect.items():
        with pytest.raises(cls) as info:
            client.resolve(parse_reference(text))
        assert str(info.value) == message
    for text, platform, shown in (("127.0.0.1:5000/library/busybox", "linux/s390x", "linux/s390x"),
                                  ("127.0.0.1:5000/library/hello-world", "linux/arm64", "linux/arm64"),
                                  ("127.0.0.1:5000/library/busybox", "windows", "windows/amd64")):  # fmt: skip
        if platform == "windows" and Platform.host().architecture != "amd64":
            continue
        with pytest.raises(NoMatchingPlatform) as nomatch:
            client.resolve(parse_reference(text), Platform.parse(platform))
        assert str(nomatch.value) == f"no matching manifest for {shown} in the manifest list entries"


def test_tls_to_a_plain_http_registry_not_configured_insecure(client: RegistryClient) -> None:
    with FaultProxy(("127.0.0.1", 5000), host=non_loopback_address()) as proxy:
        with pytest.raises(RegistryUnreachable) as info:
            client.resolve(parse_reference(f"{proxy.address}/library/busybox"))
        assert str(info.value) == f'Get "https://{proxy.address}/v2/": http: server gave HTTP response to HTTPS client'
        ok = RegistryClient(Config(root=client.config.root, insecure_registries=(proxy.address,)))
        try:  # listed as insecure: https fails, plain http works (docker's fallback)
            resolved = ok.resolve(parse_reference(f"{proxy.address}/library/busybox"))
            assert resolved.source.endpoint.url == f"http://{proxy.address}"
        finally:
            ok.close()


def test_login_logout_and_private_pulls(kit_env: dict[str, str], root_dir: Path, tmp_path: Path) -> None:
    store = DockerConfigFile(tmp_path / "docker" / "config.json")
    transport = CountingTransport()
    c = RegistryClient(kit_config(kit_env, root_dir), store, transport=transport)
    try:
        with pytest.raises(RegistryAuthRequired) as wrong_basic:
            c.login("127.0.0.1:5001", KIT_USER, "wrong")
        assert str(wrong_basic.value) == (
            "login attempt to http://127.0.0.1:5001/v2/ failed with status: 401 Unauthorized"
        )
        with pytest.raises(RegistryAuthRequired) as wrong_token:
            c.login("127.0.0.1:5002", KIT_USER, "wrong")
        assert str(wrong_token.value) == 'Get "http://127.0.0.1:5002/v2/": unauthorized: incorrect username or password'
        assert not (tmp_path / "docker" / "config.json").exists()
        for server in ("127.0.0.1:5001", "127.0.0.1:5002"):
            result = c.login(server, KIT_USER, KIT_PASSWORD)
            assert (result.status, result.server, result.plaintext) == ("Login Succeeded", server, True)
        doc = json.loads((tmp_path / "docker" / "config.json").read_text())
        assert set(doc["auths"]) == {"127.0.0.1:5001", "127.0.0.1:5002"}
        private = c.resolve(parse_reference("127.0.0.1:5002/private/busybox"))
        assert private.manifest.layers
        before = len(transport.token_requests())
        c.resolve(parse_reference("127.0.0.1:5002/private/busybox"))
        c.head(parse_reference("127.0.0.1:5002/private/busybox"))
        assert len(transport.token_requests()) == before  # the token is cached for its scope
        assert c.resolve(parse_reference("127.0.0.1:5001/library/busybox")).manifest.layers
        assert c.logout("127.0.0.1:5002").message == "Removing login credentials for 127.0.0.1:5002"
        assert set(json.loads((tmp_path / "docker" / "config.json").read_text())["auths"]) == {"127.0.0.1:5001"}
        with pytest.raises(RegistryAuthRequired, match="pull access denied"):
            c.resolve(parse_reference("127.0.0.1:5002/private/busybox"))
        with pytest.raises(RegistryUnreachable, match="connection refused"):
            c.login("127.0.0.1:5999", KIT_USER, KIT_PASSWORD)
    finally:
        c.close()


def test_push_to_a_token_registry(kit_env: dict[str, str], root_dir: Path) -> None:
    kit_dir = Path(kit_env.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit"))
    with token_registry(kit_dir) as host:
        transport = CountingTransport()
        creds = MemoryCredentials()
        c = RegistryClient(kit_config(kit_env, root_dir), creds, transport=transport, retry=TEST_RETRY)
        try:
            src = c.resolve(parse_reference("127.0.0.1:5000/library/busybox"))
            layer = src.manifest.layers[0]
            data = c.fetch_blob(src.source, layer, limit=64 << 20)
            first = parse_reference(f"{host}/team/one:v1")
            with pytest.raises(RegistryAuthRequired) as info:
                c.push_blob(first, layer, data)
            assert str(info.value) == "denied: requested access to the resource is denied"
            creds.store(host, AuthConfig(KIT_USER, KIT_PASSWORD))
            assert c.push_blob(first, layer, data) == PushOutcome.PUSHED
            assert any("scope=repository%3Ateam%2Fone%3Apull%2Cpush" in r.url for r in transport.token_requests())
            assert c.push_blob(first, layer, data) == PushOutcome.EXISTS
            assert c.push_blob(first, src.manifest.config, src.config_bytes, chunk_size=100) == PushOutcome.PUSHED
            digest = c.put_manifest(first, src.manifest_bytes, src.manifest.media_type)
            assert digest == src.manifest_descriptor.digest
            back = c.resolve(first)
            assert back.manifest == src.manifest and back.config_bytes == src.config_bytes
            second = parse_reference(f"{host}/team/two:v1")
            assert c.push_blob(second, layer, data, mount_from=first) == PushOutcome.MOUNTED
            assert c.push_blob(second, src.manifest.config, lambda: _bytes_io(src.config_bytes),
                               chunk_size=64) == PushOutcome.PUSHED  # fmt: skip
            c.put_manifest(second, src.manifest_bytes, src.manifest.media_type)
            with c.open_blob(c.resolve(second).source, layer) as reader:
                assert hashlib.sha256(reader.read()).hexdigest() == layer.digest.hex
            c.delete_manifest(second, digest)
            with pytest.raises(ManifestUnknown):
                c.resolve(second)
        finally:
            c.close()


def _bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


@pytest.fixture
def proxied(client: RegistryClient) -> Iterator[tuple[FaultProxy, RegistryClient]]:
    with FaultProxy(("127.0.0.1", 5000)) as proxy:
        yield proxy, client


def _download(client: RegistryClient, address: str, tag: str = "latest", repo: str = "library/busybox") -> tuple[
        bytes, int, Digest]:  # fmt: skip
    r = client.resolve(parse_reference(f"{address}/{repo}:{tag}"))
    layer = r.manifest.layers[0]
    h = hashlib.sha256()
    with client.open_blob(r.source, layer) as reader:
        while chunk := reader.read(1 << 18):
            h.update(chunk)
        reconnects = reader.reconnects
    return h.digest(), reconnects, layer.digest


def test_dropped_downloads_resume(proxied: tuple[FaultProxy, RegistryClient]) -> None:
    proxy, client = proxied
    proxy.drop_after(400_000, times=2)
    got, reconnects, digest = _download(client, proxy.address)
    assert got.hex() == digest.hex and reconnects == 2 and proxy.injected == ["drop", "drop"]


def test_stalled_download_times_out_and_resumes(kit_env: dict[str, str], root_dir: Path) -> None:
    with FaultProxy(("127.0.0.1", 5000)) as proxy:
        c = RegistryClient(kit_config(kit_env, root_dir), timeout=0.3, retry=TEST_RETRY)
        try:
            proxy.stall_after(300_000, 1.0)
            got, reconnects, digest = _download(c, proxy.address)
            assert got.hex() == digest.hex and reconnects == 1 and proxy.injected == ["stall"]
        finally:
            c.close()


def test_garbled_download_is_rejected(proxied: tuple[FaultProxy, RegistryClient]) -> None:
    proxy, client = proxied
    proxy.garble_at(700_000)
    with pytest.raises(VerificationFailed, match="filesystem layer verification failed for digest sha256:"):
        _download(client, proxy.address)


@pytest.mark.slow
def test_large_layer_resumes_after_a_drop(proxied: tuple[FaultProxy, RegistryClient]) -> None:
    proxy, client = proxied
    proxy.drop_after(20_000_000)
    got, reconnects, digest = _download(client, proxy.address, "bookworm", "library/debian")
    assert got.hex() == digest.hex and reconnects == 1


def test_registry_going_down_mid_download(kit_env: dict[str, str], root_dir: Path) -> None:
    proxy = FaultProxy(("127.0.0.1", 5000)).start()
    c = RegistryClient(kit_config(kit_env, root_dir), retry=TEST_RETRY)
    try:
        r = c.resolve(parse_reference(f"{proxy.address}/library/busybox"))
        proxy.throttle(2_000_000)  # so that most of the layer is still on its way when the registry goes
        reader = c.open_blob(r.source, r.manifest.layers[0])
        assert reader.read(100_000)
        proxy.stop()  # the connection dies and nothing listens any more: retries, then docker's dial error
        with pytest.raises(RegistryUnreachable) as info:
            while reader.read(1 << 16):
                pass
        assert "connect: connection refused" in str(info.value)
        reader.close()
    finally:
        proxy.stop()
        c.close()
