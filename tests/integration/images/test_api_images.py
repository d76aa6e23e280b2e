"""The image routes of `dockernb serve` as clients we did not write use them: the docker CLI and docker-py."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import docker
import pytest

from dockernb.testing.apiserver import ServedApi
from tests import golden

pytestmark = [pytest.mark.kit]

DOCKER = "/usr/bin/docker"  # Debian's 20.10 client (API 1.41)


@pytest.mark.rootless
def test_docker_cli_and_docker_py_drive_the_image_routes(images_env: dict[str, str], tmp_path: Path) -> None:
    with ServedApi(root=Path(images_env["DOCKERNB_ROOT"]), env=images_env) as api:
        env = {**os.environ, "DOCKER_HOST": api.docker_host, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
        env.pop("DOCKER_CONTEXT", None)

        def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([DOCKER, *args], env=env, capture_output=True, input=stdin, timeout=120)

        # docker's own CLI renders our progress stream exactly as it renders dockerd's
        pulled = cli("pull", "127.0.0.1:5000/busybox")
        assert pulled.returncode == 0, pulled.stderr
        assert re.fullmatch(golden.expected("pull-fresh")["stdout_regex"], pulled.stdout.decode())
        again = cli("pull", "127.0.0.1:5000/busybox")
        assert re.fullmatch(golden.expected("pull-up-to-date")["stdout_regex"], again.stdout.decode())
        missing = cli("pull", "127.0.0.1:5000/nosuch")
        assert (missing.returncode, missing.stderr.decode()) == (1, golden.expected(
            "pull-missing-local-registry")["stderr"])  # fmt: skip
        assert cli("tag", "127.0.0.1:5000/busybox", "mine:1").returncode == 0
        listed = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}").stdout.decode().splitlines()
        assert "mine:1 1.99MB" in listed and "busybox:latest 2.21MB" in listed and "debian:bookworm 164MB" in listed
        image_id = cli("image", "inspect", "-f", "{{.Id}}", "mine:1").stdout.decode().strip()
        assert image_id.startswith("sha256:")
        history = cli("history", "mine:1").stdout.decode()
        assert re.fullmatch(golden.expected("history")["stdout_regex"], history), history
        saved = cli("save", "mine:1")
        assert saved.returncode == 0 and len(saved.stdout) > 1_000_000
        assert cli("rmi", "mine:1").stdout.decode() == "Untagged: mine:1\n"
        loaded = cli("load", stdin=saved.stdout)
        assert (loaded.returncode, loaded.stdout.decode().splitlines()[-1]) == (0, "Loaded image: mine:1")
        df = cli("system", "df").stdout.decode()
        assert df.startswith("TYPE ") and "Images" in df
        # docker-py, the Python client
        client = docker.DockerClient(base_url=api.docker_host, version="1.41")
        try:
            image = client.images.pull("127.0.0.1:5000/library/hello-world", tag="latest")
            assert image.tags == ["127.0.0.1:5000/library/hello-world:latest"]
            assert client.images.get("mine:1").id == image_id
            assert {t for i in client.images.list() for t in i.tags} >= {"busybox:latest", "mine:1"}
            client.images.remove("127.0.0.1:5000/library/hello-world")
            with pytest.raises(docker.errors.ImageNotFound):
                client.images.get("127.0.0.1:5000/library/hello-world")
            assert client.images.prune()["SpaceReclaimed"] >= 0
        finally:
            client.close()


def test_image_operations_answer_in_the_specs_shapes(images_env: dict[str, str]) -> None:
    """schemathesis against the read-only image operations: no 5xx, no response outside the v1.41 schemas
    (root pass only: the spec file lives beside the project, which the rootless copy does not carry).

    dockerd itself answers a malformed image name with an undocumented 400 and accepts any boolean
    spelling, so those findings are docker's behaviour, not deviations."""
    from tests.integration.spec_check import check

    with ServedApi(root=Path(images_env["DOCKERNB_ROOT"]), env=images_env, tcp=True) as api:
        found = check(f"http://{api.tcp_address}/v1.41",
                      ["ImageList", "ImageInspect", "ImageHistory", "SystemDataUsage", "ImagePrune"],
                      max_examples=10)  # fmt: skip
    dockerd_too = ("Undocumented status code: Received: 400", "Schema-valid request rejected",
                   "Schema-violating request accepted")  # fmt: skip
    left = {op: {f for f in fs if not f.startswith(dockerd_too)} for op, fs in found.items()}
    assert {op: fs for op, fs in left.items() if fs} == {}
