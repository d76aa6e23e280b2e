"""``commit`` of a container and builds share one layer path (``ImageService.layer_from_snapshot``): root and
rootless, the layer holds what the container changed (files and whiteouts), not the runtime's mount points
(they are in the container's init layer), and a container that changed nothing adds no layer."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

import pytest

from tests.integration.builds.conftest import BuildCli

pytestmark = pytest.mark.rootless


def _top_layer_names(bcli: BuildCli, image: str) -> list[str]:
    """The names in the image's top layer, read from ``save``'s archive as docker would load it."""
    tar = subprocess.run(bcli.argv("save", image), env=bcli.env, capture_output=True, check=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer = archive.extractfile(manifest[0]["Layers"][-1])
        assert layer is not None
        with tarfile.open(fileobj=io.BytesIO(layer.read())) as inner:
            return sorted(m.name.rstrip("/") for m in inner.getmembers())


def test_commit_takes_the_build_layer_path(bcli: BuildCli) -> None:
    base = json.loads(bcli.ok("inspect", "busybox"))[0]
    bcli.ok("run", "--name", "changed", "busybox", "sh", "-c", "echo hi > /new && rm /etc/group")
    bcli.ok("commit", "-m", "changed", "changed", "committed:changed")
    made = json.loads(bcli.ok("inspect", "committed:changed"))[0]
    assert made["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert _top_layer_names(bcli, "committed:changed") == ["etc", "etc/.wh.group", "new"]
    assert bcli.ok("run", "--rm", "committed:changed", "sh", "-c", "cat /new; test -e /etc/group || echo gone") == (
        "hi\ngone\n")

    bcli.ok("create", "--name", "unchanged", "busybox", "true")
    bcli.ok("commit", "unchanged", "committed:unchanged")
    same = json.loads(bcli.ok("inspect", "committed:unchanged"))[0]
    assert same["RootFS"]["Layers"] == base["RootFS"]["Layers"]
    top = bcli.ok("history", "--format", "{{.Size}}", "committed:unchanged").splitlines()[0]
    assert top == "0B"
    bcli.ok("rm", "changed", "unchanged")
