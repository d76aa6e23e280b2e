"""``python -m dockernb.runtime``: runc's verbs over a bundle, as a separate process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockernb import runtime as rt

pytestmark = pytest.mark.rootless


def _cli(root: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockernb.runtime", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def test_spec_run_and_the_create_start_delete_split(root_dir: Path, busybox_lower: Path) -> None:
    bundle = root_dir / "bundle"
    bundle.mkdir()
    (bundle / "rootfs").symlink_to(busybox_lower)
    state = root_dir / "state"
    spec = subprocess.run([sys.executable, "-m", "dockernb.runtime", "spec", "-b", str(bundle), "--read-only",
                           "--", "sh", "-c", "echo out; echo err >&2; exit 7"], capture_output=True, text=True)
    assert spec.returncode == 0, spec.stderr
    config = json.loads((bundle / "config.json").read_text())
    assert config["root"] == {"path": "rootfs", "readonly": True}
    run = _cli(state, "run", "-b", str(bundle), "c1")
    assert (run.returncode, run.stdout, run.stderr) == (7, "out\n", "err\n")
    assert not (state / "c1").exists()
    # the created init keeps the CLI's stdio (as runc's does): give it files, not pipes to wait on
    with open(root_dir / "c2.out", "w+") as out:
        created = subprocess.run([sys.executable, "-m", "dockernb.runtime", "--root", str(state), "create", "-b",
                                  str(bundle), "c2"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, timeout=60)
    try:
        assert created.returncode == 0, (root_dir / "c2.out").read_text()
        assert json.loads(_cli(state, "state", "c2").stdout)["status"] == "created"
        assert _cli(state, "start", "c2").returncode == 0
        deadline = time.monotonic() + 10
        while rt.state(state / "c2").status != "stopped" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _cli(state, "delete", "c2").returncode == 0
    finally:
        rt.delete(state / "c2", force=True)  # whatever happened above, no init is left behind
    assert (root_dir / "c2.out").read_text() == "out\nerr\n"
    missing = _cli(state, "state", "c2")
    assert missing.returncode == 1 and "No such container: c2" in missing.stderr
    bad = _cli(state, "run", "-b", str(root_dir / "nowhere"), "c3")
    assert bad.returncode == 125 and "config.json" in bad.stderr
    shutil.rmtree(state, ignore_errors=True)
