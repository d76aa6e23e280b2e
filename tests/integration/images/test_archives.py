"""save/load/import/export against independent tools: skopeo's docker-archive reader and writer, and the real
`docker load`/`docker save` of a private dockerd 20.10 (root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.images.support import cli, engine

pytestmark = [pytest.mark.kit]

DOCKER = "/usr/bin/docker"  # the Debian CLI (API 1.41), matching dockerd 20.10


def _names(tar_path: Path) -> set[str]:
    with tarfile.open(tar_path) as tf:
        return {os.path.normpath(m.name).lstrip("./") for m in tf if os.path.normpath(m.name) not in (".", "")}


@pytest.mark.rootless
def test_save_is_read_by_skopeo_and_skopeos_archive_loads(images_env: dict[str, str], tmp_path: Path) -> None:
    env = images_env
    image = engine(env).images.get("busybox")
    out = tmp_path / "bb.tar"
    assert cli(env, "save", "-o", str(out), "busybox")[:3] == (0, "", "")
    info = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{out}"], capture_output=True, text=True,
                                     check=True).stdout)  # fmt: skip
    assert info["Layers"] == list(image.diff_ids) and info["Architecture"] == image.config.architecture
    assert info["Env"] == list(image.config.config.env)
    # an archive written by another tool loads here, as the same image
    theirs = tmp_path / "skopeo.tar"
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", "docker://127.0.0.1:5000/library/busybox:latest",
                    f"docker-archive:{theirs}:mine/bb:copied"], check=True)  # fmt: skip
    other = {**env, "DOCKERNB_IMAGE_STORES": ""}
    assert cli(other, "load", "-i", str(theirs)) == (0, "Loaded image: mine/bb:copied\n", "")
    loaded = engine(other).images.get("mine/bb:copied")
    assert loaded.id == image.id and loaded.size == image.size
    assert cli(other, "load", "-i", str(tmp_path / "nosuch.tar"))[:3] == (
        1, "", f"open {tmp_path}/nosuch.tar: no such file or directory\n")
    # a save into a missing directory: Go's words for the temp file, nothing written, no traceback
    code, stdout, err = cli(env, "save", "-o", str(tmp_path / "missing" / "x.tar"), "busybox")[:3]
    assert (code, stdout) == (1, "") and err.startswith(f"open {tmp_path}/missing/.docker_temp_")
    assert err.endswith(": no such file or directory\n") and not (tmp_path / "missing").exists()


@pytest.mark.rootless
def test_export_and_import_a_filesystem(images_env: dict[str, str], tmp_path: Path) -> None:
    env = images_env
    images = engine(env).images
    image = images.get("busybox")
    chain = images.ensure_unpacked(image.id)
    images.snapshotter.view("export-test", chain)
    out = tmp_path / "rootfs.tar"
    try:
        with open(out, "wb") as f:
            images.export("export-test", f)
    finally:
        images.snapshotter.remove("export-test")
    kit = Path(os.environ.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit")) / "rootfs"
    expected = next(p for p in kit.iterdir() if p.name.startswith("busybox-") and "arm64" not in p.name)
    assert _names(out) == _names(expected)
    with open(out, "rb") as f:
        code, new_id, _ = cli(env, "import", "-", "exported:1", stdin=f.read())
    assert code == 0
    assert engine(env).images.get("exported:1").size == image.size  # a layer of its own, the same files
    assert json.loads(cli(env, "image", "inspect", "exported:1")[1])[0]["Id"] == new_id.strip()


@contextmanager
def private_dockerd() -> Iterator[dict[str, str]]:
    """A dockerd 20.10 of our own (own data root, exec root and socket; no networking), stopped afterwards."""
    base = Path(tempfile.mkdtemp(prefix="dockernb-test-dockerd-", dir="/var/tmp"))
    (base / "daemon.json").write_text("{}")
    log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "-H",
         f"unix://{base}/docker.sock", "--pidfile", str(base / "docker.pid"), "--bridge=none", "--iptables=false",
         "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--storage-driver=overlay2", "--config-file",
         str(base / "daemon.json")],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{base}/docker.sock", "DOCKER_CONFIG": str(base / "client")}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([DOCKER, "version"], env=env, capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((base / "dockerd.log").read_text())
            time.sleep(0.2)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.requires_root
def test_docker_loads_our_archive_and_we_load_dockers(images_env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd (Debian's docker.io) is needed: `make setup` installs it")
    env = images_env
    ours = tmp_path / "ours.tar"
    assert cli(env, "tag", "debian:bookworm", "mine/deb:1")[0] == 0
    assert cli(env, "save", "-o", str(ours), "busybox", "mine/deb:1")[0] == 0
    busybox, debian = engine(env).images.get("busybox"), engine(env).images.get("mine/deb:1")
    with private_dockerd() as denv:
        r = subprocess.run([DOCKER, "load", "-i", str(ours)], env=denv, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[-2:] == ["Loaded image: busybox:latest", "Loaded image: mine/deb:1"]
        for name, image in (("busybox:latest", busybox), ("mine/deb:1", debian)):
            got = json.loads(subprocess.run([DOCKER, "image", "inspect", name], env=denv, capture_output=True,
                                            check=True).stdout)[0]  # fmt: skip
            assert got["Id"] == image.id and got["RootFS"]["Layers"] == list(image.diff_ids)
            assert got["Size"] == image.size  # overlay2's size rule (file bytes and link targets) is ours
        # and the other way round: the real `docker save` loads here
        theirs = tmp_path / "theirs.tar"
        subprocess.run([DOCKER, "tag", "busybox:latest", "from-docker:2"], env=denv, check=True)
        subprocess.run([DOCKER, "save", "-o", str(theirs), "from-docker:2"], env=denv, check=True)
    other = {**env, "DOCKERNB_IMAGE_STORES": ""}
    assert cli(other, "load", "-q", "-i", str(theirs)) == (0, "Loaded image: from-docker:2\n", "")
    assert engine(other).images.get("from-docker:2").id == busybox.id
