"""`dockernb pull/push/login/images` against the kit's three real registries, root and rootless.

Every command runs through the shared dispatcher, as the CLI and the notebook run it; the test's root
sees the session's shared busybox and debian (tests/conftest.py), so only what a test is about is
downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from dockernb.testing.faultproxy import FaultProxy, non_loopback_address
from tests.integration.images.support import (
    KIT_PASSWORD,
    KIT_USER,
    cli,
    engine,
    plain_registry,
    proxy_process,
    put,
    read_in,
)

pytestmark = [pytest.mark.kit, pytest.mark.rootless]


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _content_size(prefix: str) -> int:
    kit = Path(os.environ.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit")) / "rootfs"
    path = next(p for p in kit.iterdir() if p.name.startswith(prefix) and "arm64" not in p.name)
    size = 0
    with tarfile.open(path) as tf:
        for m in tf:
            size += m.size if m.isreg() else len(m.linkname.encode()) if m.issym() else 0
    return size


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_every_kit_format_pulls_and_unpacks(images_env: dict[str, str]) -> None:
    env = images_env
    code, out, err = cli(env, "pull", "busybox")  # in the shared store already: nothing to download
    assert (code, err) == (0, "")
    assert out.endswith("Status: Image is up to date for busybox:latest\nbusybox:latest\n")
    for ref, path in (("hello-world", "/hello"), ("busybox:zstd", "/bin/busybox"), ("nginx", "/usr/sbin/nginx")):
        code, out, err = cli(env, "pull", ref)
        assert (code, err) == (0, ""), err
        lines = out.splitlines()
        assert lines[-1] == (ref if ":" in ref else f"{ref}:latest")
        assert lines[-2] == f"Status: Downloaded newer image for {lines[-1]}"
        assert all(x.split(": ", 1)[1] in ("Pulling fs layer", "Waiting", "Download complete", "Pull complete")
                   for x in lines[2:-3]), out  # fmt: skip
        assert read_in(env, ref, path) is not None
    assert "nginx" in read_in(env, "nginx", "/etc/nginx/nginx.conf")
    # nginx's base is debian's layer: unpacked here now, its blob from the shared store, so nothing to fetch
    code, out, _ = cli(env, "pull", "127.0.0.1:5000/library/debian:bookworm")
    assert code == 0 and ": Already exists" in out and "Pulling fs layer" not in out
    # docker's image size: the bytes of file content (and link targets) of the layers, as the kit's rootfs holds
    images = engine(env).images
    for ref, rootfs in (("busybox", "busybox-"), ("hello-world", "hello-"), ("debian:bookworm", "debian-")):
        assert images.get(ref).size == _content_size(rootfs), ref
    code, out, _ = cli(env, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(out.splitlines()) == sorted(["busybox:latest", "busybox:zstd", "debian:bookworm",
                                               "127.0.0.1:5000/library/debian:bookworm", "hello-world:latest",
                                               "nginx:latest"])  # fmt: skip


def test_pull_of_another_platform(images_env: dict[str, str]) -> None:
    code, out, err = cli(images_env, "pull", "--platform", "linux/arm64", "-q", "busybox")
    assert (code, out, err) == (0, "busybox:latest\n", "")
    image = engine(images_env).images.get("busybox")
    assert image.config.architecture == "arm64"
    assert image.digests == ("busybox@" + image.digests[0].split("@")[1],)


def test_logins_to_the_basic_and_token_registries(images_env: dict[str, str], tmp_path: Path) -> None:
    env = {**images_env, "DOCKER_CONFIG": str(tmp_path / "docker")}
    code, _, err = cli(env, "pull", "127.0.0.1:5001/library/busybox")
    assert (code, err) == (1, 'Error response from daemon: Head "http://127.0.0.1:5001/v2/library/busybox/manifests/'
                              'latest": no basic auth credentials\n')  # fmt: skip
    code, out, err = cli(env, "login", "-u", KIT_USER, "--password-stdin", "127.0.0.1:5001", stdin=b"wrong\n")
    assert (code, out, err) == (1, "", "Error response from daemon: login attempt to http://127.0.0.1:5001/v2/ "
                                       "failed with status: 401 Unauthorized\n")  # fmt: skip
    code, out, err = cli(env, "login", "-u", KIT_USER, "--password-stdin", "127.0.0.1:5001",
                         stdin=KIT_PASSWORD.encode() + b"\n")  # fmt: skip
    assert (code, out) == (0, "Login Succeeded\n")
    assert err == (f"WARNING! Your password will be stored unencrypted in {tmp_path}/docker/config.json.\n"
                   "Configure a credential helper to remove this warning. See\n"
                   "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n")  # fmt: skip
    pulled = cli(env, "pull", "-q", "127.0.0.1:5001/library/busybox")
    assert pulled[:2] == (0, "127.0.0.1:5001/library/busybox:latest\n")
    code, _, err = cli(env, "pull", "127.0.0.1:5002/private/busybox")
    assert (code, err) == (1, "Error response from daemon: pull access denied for 127.0.0.1:5002/private/busybox, "
                              "repository does not exist or may require 'docker login': denied: requested access to "
                              "the resource is denied\n")  # fmt: skip
    code, _, err = cli(env, "login", "-u", KIT_USER, "-p", "wrong", "127.0.0.1:5002")
    assert code == 1 and err == ("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
                                 'Error response from daemon: Get "http://127.0.0.1:5002/v2/": unauthorized: '
                                 "incorrect username or password\n")  # fmt: skip
    assert cli(env, "login", "-u", KIT_USER, "-p", KIT_PASSWORD, "127.0.0.1:5002")[:2] == (0, "Login Succeeded\n")
    assert json.loads((tmp_path / "docker" / "config.json").read_text())["auths"].keys() == {
        "127.0.0.1:5001", "127.0.0.1:5002"}  # fmt: skip
    code, out, err = cli(env, "pull", "127.0.0.1:5002/private/busybox")
    assert (code, err) == (0, "") and out.endswith("127.0.0.1:5002/private/busybox:latest\n")
    assert read_in(env, "127.0.0.1:5002/private/busybox", "/bin/busybox") is not None
    assert cli(env, "logout", "127.0.0.1:5002")[:3] == (0, "Removing login credentials for 127.0.0.1:5002\n", "")
    assert cli(env, "login", "-u", KIT_USER, stdin=b"")[:3] == (
        1, "", "Error: Cannot perform an interactive login from a non TTY device\n")


def test_errors_in_dockers_words_and_nothing_stored(images_env: dict[str, str], kit_env: dict[str, str]) -> None:
    from tests import golden

    env = images_env
    for case in ("pull-missing-local-registry", "pull-missing-tag"):
        exp = golden.expected(case)
        assert cli(env, *exp["argv"][1:]) == (exp["exit_code"], exp["stdout"], exp["stderr"])
    assert cli(env, "pull", "127.0.0.1:5999/library/busybox")[1:] == ("Using default tag: latest\n", (
        'Error response from daemon: Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection '
        "refused\n"))  # fmt: skip
    assert cli(env, "pull", "--platform", "linux/s390x", "hello-world")[2] == (
        "Error response from daemon: no matching manifest for linux/s390x in the manifest list entries\n")
    assert cli(env, "pull", "Bad::Ref")[:3] == (1, "", "invalid reference format: repository name must be lowercase\n")
    with FaultProxy(("127.0.0.1", 5000), host=non_loopback_address()) as proxy:  # not loopback: TLS is expected
        assert cli(env, "pull", f"{proxy.address}/library/busybox")[2] == (
            f'Error response from daemon: Get "https://{proxy.address}/v2/": http: server gave HTTP response to HTTPS '
            "client\n")  # fmt: skip
    with plain_registry() as host:
        layer = _layer({"hello": b"hi\n"})
        good = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            _digest(layer)]}}).encode()
        bad = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            _digest(layer), _digest(b"other")]}}).encode()  # two diff_ids for one layer: a malformed image
        put(host, f"odd/blobs/{_digest(layer)}", layer)
        for config in (good, bad):
            put(host, f"odd/blobs/{_digest(config)}", config)

        def manifest(layer_type: str, config: bytes = good) -> bytes:
            return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": _digest(config), "size": len(config)},
                               "layers": [{"mediaType": layer_type, "digest": _digest(layer), "size": len(layer)}]
                               }).encode()  # fmt: skip

        put(host, "odd/manifests/mismatch", manifest("application/vnd.oci.image.layer.v1.tar", bad),
            "application/vnd.oci.image.manifest.v1+json")
        put(host, "odd/manifests/foreign", manifest("application/vnd.example.layer.v1+weird"),
            "application/vnd.oci.image.manifest.v1+json")
        assert cli(env, "pull", f"{host}/odd:mismatch")[2] == (
            "Error response from daemon: layers from manifest don't match image configuration\n")
        assert cli(env, "pull", f"{host}/odd:foreign")[2] == (
            "Error response from daemon: unsupported layer media type: application/vnd.example.layer.v1+weird\n")
    images = engine(env).images
    assert {t for i in images.list() for t in i.tags} == {"busybox:latest", "debian:bookworm"}
    assert images.content.list_statuses() == [] and list(images.snapshotter.walk()) == []


def test_dropped_connections_resume_and_garbage_is_refused(images_env: dict[str, str]) -> None:
    env = {**images_env, "DOCKERNB_IMAGE_STORES": ""}  # all bytes from the proxy
    with proxy_process([("garble_at", 300_000, 1)]) as address:
        code, out, err = cli(env, "pull", f"{address}/library/busybox")
        assert code == 1 and "filesystem layer verification failed for digest sha256:" in err
    images = engine(env).images
    assert images.list() == [] and images.content.list_statuses() == [] and list(images.content.walk()) == []
    assert [i.name for i in images.snapshotter.walk()] == []
    with proxy_process([("drop_after", 500_000, 2)]) as address:
        code, out, err = cli(env, "pull", f"{address}/library/busybox")
        assert (code, err) == (0, "")
        assert read_in(env, f"{address}/library/busybox", "/bin/sh") == "-> /bin/busybox"


def test_push_to_a_private_registry_and_pull_back(images_env: dict[str, str]) -> None:
    env = images_env
    with plain_registry() as host:
        assert cli(env, "tag", "busybox", f"{host}/team/bb:1")[0] == 0
        code, out, err = cli(env, "push", f"{host}/team/bb:1")
        assert (code, err) == (0, ""), err
        lines = out.splitlines()
        assert lines[0] == f"The push refers to repository [{host}/team/bb]"
        assert lines[-1].startswith("1: digest: sha256:") and " size: " in lines[-1]
        assert any(x.endswith(": Pushed") for x in lines)
        digest = lines[-1].split()[2]
        assert f"{host}/team/bb@{digest}" in engine(env).images.get(f"{host}/team/bb:1").digests
        code, out, _ = cli(env, "push", f"{host}/team/bb:1")  # again: every blob is there
        assert code == 0 and ": Layer already exists" in out
        # an image made here (import) gets a fresh manifest with gzip layers
        tar = _layer({"etc/hostname": b"made-here\n"})
        code, out, _ = cli(env, "import", "-", f"{host}/team/made:1", stdin=tar)
        assert code == 0
        assert cli(env, "push", f"{host}/team/made:1")[0] == 0
        other = {**env, "DOCKERNB_ROOT": env["DOCKERNB_ROOT"] + "-other", "DOCKERNB_IMAGE_STORES": ""}
        try:
            assert cli(other, "pull", "-q", f"{host}/team/made:1")[:2] == (0, f"{host}/team/made:1\n")
            assert read_in(other, f"{host}/team/made:1", "/etc/hostname") == "made-here\n"
            assert engine(other).images.get(f"{host}/team/made:1").id == engine(env).images.get(
                f"{host}/team/made:1").id  # fmt: skip
        finally:
            from dockernb.testing.roots import wipe_root

            wipe_root(Path(other["DOCKERNB_ROOT"]))
        assert cli(env, "push", f"{host}/team/nosuch")[1:] == (
            "Using default tag: latest\n",
            f"Error response from daemon: An image does not exist locally with the tag: {host}/team/nosuch\n")


def test_no_mounts_or_processes_left(images_env: dict[str, str]) -> None:
    """What the tests above leave behind on the machine: no dockernb mounts (the roots are removed by fixtures)."""
    with open("/proc/self/mountinfo") as f:
        assert "dockernb" not in f.read()
    assert os.path.isdir(images_env["DOCKERNB_ROOT"])
