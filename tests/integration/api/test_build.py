"""``POST /build`` through clients we did not write: the docker 20.10 CLI's classic builder
(``DOCKER_BUILDKIT=0``) compared with the golden ``build-classic-*`` recordings, and docker-py's
``images.build`` (its JSON stream, build args, labels, target, a failed RUN's error)."""

from __future__ import annotations

import gc
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, BuildError

from dockernb.testing.apiserver import ServedApi
from tests import golden
from tests.integration.api.conftest import DockerCli
from tests.integration.builds.conftest import write_context

pytestmark = [
    pytest.mark.kit,
    pytest.mark.rootless,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _check(cli: DockerCli, where: Path, case_id: str) -> tuple[str, str]:
    """The case's argv through docker's CLI in ``where``; exit code, stdout and stderr as recorded."""
    case = golden.expected(case_id)
    env = {**cli.env, **(case.get("env") or {})}
    p = subprocess.run([*cli.argv(*case["argv"][1:])], cwd=where, env=env, capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    out, err = p.stdout.decode(), p.stderr.decode()
    log = cli.api.log()[-2000:]
    assert p.returncode == case["exit_code"], (case_id, p.returncode, out, err, log)
    if "stdout_regex" in case:
        assert re.fullmatch(case["stdout_regex"], out), (case_id, out)
    else:
        assert out == case["stdout"], (case_id, out)
    assert err == case["stderr"], (case_id, err, log)
    return out, err


def test_docker_cli_classic_build_as_recorded(docker_cli: DockerCli, tmp_path: Path) -> None:
    ok = write_context(tmp_path / "ok", golden.expected("build-classic-ok")["files"])
    _check(docker_cli, ok, "build-classic-ok")
    assert docker_cli.ok("run", "--rm", "golden-ok") == "hello from golden\n"
    assert docker_cli.ok("run", "--rm", "golden-ok", "sh", "-c", "cat /built.txt; echo $GREETING") == "built\nhi\n"
    cached, _ = _check(docker_cli, ok, "build-classic-cached")
    quiet, _ = _check(docker_cli, ok, "build-classic-q")
    assert quiet.strip()[7:19] in cached
    for case_id in ("build-classic-unknown-instruction", "build-classic-run-fails", "build-classic-copy-missing",
                    "build-classic-from-missing", "build-classic-unused-build-arg"):
        _check(docker_cli, write_context(tmp_path / case_id, golden.expected(case_id)["files"]), case_id)
    ign = write_context(tmp_path / "ign", golden.expected("build-classic-dockerignore")["files"])
    _check(docker_cli, ign, "build-classic-dockerignore")
    _check(docker_cli, ign, "build-classic-copy-ignored")
    # several tags; -q on a failure shows what it held back, then the error
    env = {**docker_cli.env, "DOCKER_BUILDKIT": "0"}
    p = subprocess.run(docker_cli.argv("build", "-q", "-t", "multi-a", "-t", "multi-b:v2", "."), cwd=ok, env=env,
                       capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p
    image = p.stdout.decode().strip()
    assert docker_cli.ok("inspect", "--format", "{{.Id}}", "multi-a", "multi-b:v2").split() == [image, image]
    fails = tmp_path / "case_id_fail"
    write_context(fails, {"Dockerfile": "FROM busybox\nRUN echo to-out; exit 4\n"})
    p = subprocess.run(docker_cli.argv("build", "-q", "."), cwd=fails, env=env, capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 4 and p.stdout == b"", p
    assert b"Step 2/2 : RUN echo to-out; exit 4" in p.stderr and b"to-out" in p.stderr, p
    assert p.stderr.endswith(b"The command '/bin/sh -c echo to-out; exit 4' returned a non-zero code: 4\n"), p
    assert docker_cli.ok("ps", "-aq") == ""
    docker_cli.ok("rmi", "golden-ok", "golden-ign", "golden-arg", "multi-a", "multi-b:v2")


@pytest.fixture
def client(served: ServedApi) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=served.docker_host, version="1.41", timeout=300)
    yield c
    c.close()
    gc.collect()


def test_docker_py_images_build(client: docker.DockerClient, tmp_path: Path) -> None:
    write_context(tmp_path / "ctx", {
        "build/Dockerfile.app": "FROM busybox AS base\nARG GREETING=none\nRUN echo $GREETING > /g\n"
                                "FROM base AS final\nRUN echo final > /f\n",
        "data.txt": "x\n",
    })  # fmt: skip
    image, stream = client.images.build(path=str(tmp_path / "ctx"), dockerfile="build/Dockerfile.app", tag="pyb:1",
                                      buildargs={"GREETING": "hey"}, target="base", labels={"made.by": "pytest"},
                                      rm=True)
    logs = list(stream)
    lines = [entry.get("stream", "") for entry in logs]
    # the target's stage only, and --label as one more LABEL step at its end, as dockerd does
    assert "Step 1/4 : FROM busybox AS base\n" in lines and "Step 4/4 : LABEL made.by=pytest\n" in lines, lines
    assert not any("final" in ln for ln in lines), lines
    assert any(entry.get("aux", {}).get("ID") == image.id for entry in logs), logs
    assert image.id.startswith("sha256:") and "pyb:1" in image.tags and image.labels["made.by"] == "pytest"
    assert client.containers.run("pyb:1", ["cat", "/g"], remove=True) == b"hey\n"

    # a file object holding a Dockerfile (docker-py wraps it in a tar), with nocache
    image2, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nCMD [\"echo\", \"from-fileobj\"]\n"),
                                    tag="pyb:2", nocache=True)
    assert client.containers.run(image2.id, remove=True) == b"from-fileobj\n"

    with pytest.raises(BuildError) as failed:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 5\n"))
    assert "returned a non-zero code: 5" in str(failed.value)
    with pytest.raises(APIError) as bad:  # before the first step: the HTTP status, dockerd's 400
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nFOO bar\n"))
    assert bad.value.status_code == 400 and "unknown instruction: FOO" in str(bad.value)
    with pytest.raises(APIError) as bad:
        client.api.build(fileobj=io.BytesIO(b"FROM busybox\n"), buildargs={"A": 1}, decode=True).__next__()
    assert bad.value.status_code == 400
    with pytest.raises(APIError) as bad:
        next(client.api.build(fileobj=io.BytesIO(b"FROM busybox\n"), target="nosuch", decode=True))
    assert bad.value.status_code == 400 and "failed to reach build target nosuch" in str(bad.value)
    client.images.remove("pyb:1")
    client.images.remove("pyb:2")
