"""Every case of the golden `images` group, in the order docker 20.10 was recorded, on the same images.

The reference images are the anchors' ``127.0.0.1:5000/busybox`` and ``127.0.0.1:5000/debian:bookworm``
(also tagged ``busybox`` and ``debian:bookworm``). ``golden-inuse:1`` is an image of its own that a
container uses: the container is a writable snapshot on the image's filesystem (what the container
service makes), reported to the image service through ``register_users``, running then stopped.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.engine import Engine
from dockernb.engine.image_types import ImageUse
from tests import golden
from tests.integration.images.support import cli, engine

pytestmark = [pytest.mark.kit, pytest.mark.rootless]

LISTINGS = {"images", "images-q", "images-digests", "images-no-trunc", "images-repo-filter", "images-after-tag"}
CONTAINER = "1b" * 32


def _rows_match(regex: str, text: str, *, any_order: bool) -> bool:
    """``text`` matches ``regex`` line by line; with ``any_order`` the rows after the header may come in any
    order (docker's own order among images created at the same time is not stable)."""
    patterns = regex.split("\\n")
    lines = text.split("\n")
    if len(patterns) != len(lines):
        return False
    if not any_order:
        return re.fullmatch(regex, text) is not None
    header = 0 if regex.startswith("[") else 1
    if header and not re.fullmatch(patterns[0], lines[0]):
        return False
    left = patterns[header:]
    for line in lines[header:]:
        hit = next((p for p in left if re.fullmatch(p, line)), None)
        if hit is None:
            return False
        left.remove(hit)
    return True


class _Container:
    """A container's footprint on the image service: a writable snapshot on the image and a use record."""

    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        self.image_id = ""
        self.running = False

    def __call__(self) -> list[ImageUse]:
        return [ImageUse(CONTAINER, self.image_id, self.running)] if self.image_id else []

    def create(self, image_id: str) -> None:
        self.eng.images.prepare_rootfs(image_id, CONTAINER)
        self.image_id = image_id

    def remove(self) -> None:
        if self.image_id:
            self.eng.images.snapshotter.remove(CONTAINER)
            self.eng.images.release_unused_layers()
            self.image_id = ""


@pytest.fixture
def golden_env(root_dir: Path, kit_env: dict[str, str]) -> Iterator[dict[str, str]]:
    env = {"HOME": "/nonexistent", **kit_env, "DOCKERNB_ROOT": str(root_dir)}
    for ref in ("127.0.0.1:5000/busybox", "127.0.0.1:5000/debian:bookworm"):
        assert cli(env, "pull", "-q", ref)[0] == 0
    assert cli(env, "tag", "127.0.0.1:5000/busybox", "busybox")[0] == 0
    assert cli(env, "tag", "127.0.0.1:5000/debian:bookworm", "debian:bookworm")[0] == 0
    yield env


def _inuse_image(env: dict[str, str], eng: Engine) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"in use\n"
        ti = tarfile.TarInfo("inuse.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    code, out, _ = cli(env, "import", "-", "golden-inuse:1", stdin=buf.getvalue(), eng=eng)
    assert code == 0
    return out.strip()


def test_the_images_group(golden_env: dict[str, str]) -> None:
    env = golden_env
    eng = engine(env)
    container = _Container(eng)
    eng.images.register_users(container)
    busybox = eng.images.get("busybox").short_id
    inuse = ""
    done = []
    try:
        for case_id in [c for c in golden._cases() if golden._cases()[c]["group"] == "images"]:
            case = golden.expected(case_id)
            if case_id == "rmi-in-use-running-by-ref":  # the recording's setup: an image a running container uses
                inuse = _inuse_image(env, eng)
                container.create(inuse)
                container.running = True
            if case_id == "rmi-in-use-stopped-by-id":
                container.running = False
            if case_id == "history":  # the recording tagged busybox again after the rmi cases
                assert cli(env, "tag", "127.0.0.1:5000/busybox", "busybox", eng=eng)[0] == 0
            short = inuse[7:19] if case_id.startswith(("rmi-in-use", "rmi-f-in-use", "rmi-deleted")) else busybox
            argv = [a.replace("<IMGID>", short) for a in case["argv"][1:]]
            code, out, err = cli(env, *argv, eng=eng)
            assert code == case["exit_code"], (case_id, out, err)
            any_order = case_id in LISTINGS
            if "stdout_regex" in case:
                assert _rows_match(case["stdout_regex"], out, any_order=any_order), (case_id, out)
            else:
                assert out == case["stdout"], case_id
            if "stderr_regex" in case:
                assert re.fullmatch(case["stderr_regex"], err), (case_id, err)
                if "<SHORTID>" in case["stderr"]:
                    assert CONTAINER[:12] in err and short in err
            else:
                assert err == case["stderr"], case_id
            done.append(case_id)
    finally:
        container.remove()
        eng.close()
    assert len(done) == 34
