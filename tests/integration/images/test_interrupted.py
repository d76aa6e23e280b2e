"""Pulls that die: kill -9 in the middle (the next pull resumes), and a disk that fills up (nothing is left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockernb.config import load_config
from dockernb.engine.images import ImageService
from dockernb.errors import NoSpaceLeft
from dockernb.registry import RegistryClient
from tests.integration.images.support import engine, proxy_process, read_in
from tests.integration.registry_support import CountingTransport

pytestmark = [pytest.mark.kit]

NGINX_TOP = "sha256:6a101261aa28"  # the kit's nginx: debian's 63 MB layer, then its own 7 MB


def _ingest_sizes(root: Path) -> list[int]:
    out = []
    for d in (root / "content" / "ingest").glob("*"):
        try:
            out.append((d / "data").stat().st_size)
        except OSError:
            pass
    return out


@pytest.mark.rootless
def test_kill_9_mid_pull_then_the_next_pull_resumes(images_env: dict[str, str]) -> None:
    env = {**images_env, "DOCKERNB_IMAGE_STORES": ""}  # every byte from the registry
    root = Path(env["DOCKERNB_ROOT"])
    with proxy_process([("throttle", 12_000_000, 0)]) as address:  # 12 MB/s per connection: a pull of ~6 s
        proc = subprocess.Popen([sys.executable, "-m", "dockernb", "pull", f"{address}/library/nginx"],
                                env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 60
        try:
            while True:  # the small top layer is stored, the big base layer is on its way
                blobs = {p.name for p in (root / "content" / "blobs" / "sha256").glob("*")}
                if any(b.startswith(NGINX_TOP[7:]) for b in blobs) and any(s > 8 << 20 for s in _ingest_sizes(root)):
                    break
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the pull did not get far enough"
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
    partial = max(_ingest_sizes(root))
    killed = engine(env).images
    assert killed.list() == []  # nothing registered
    extracting = [i.name for i in killed.snapshotter.walk() if not i.name.startswith("sha256:")]
    assert len(extracting) <= 1  # the killed extraction's snapshot, swept by the next unpack
    # the next pull (straight from the registry: the blobs are the same) asks only for the missing bytes
    config = load_config(env)
    transport = CountingTransport()
    service = ImageService(config, registry=RegistryClient.from_config(config, transport=transport))
    try:
        messages = [m.status for m in service.pull("127.0.0.1:5000/library/nginx")]
    finally:
        transport.close()
    assert messages[-1] == "Status: Downloaded newer image for 127.0.0.1:5000/library/nginx:latest"
    blob_gets = [r for r in transport.requests if r.method == "GET" and "/blobs/sha256:" in r.url]
    assert not [r for r in blob_gets if NGINX_TOP in r.url], "the finished top layer was downloaded again"
    ranged = [r.headers.get("Range") for r in blob_gets if r.headers.get("Range")]
    assert ranged == [f"bytes={partial}-"]
    assert _ingest_sizes(root) == []
    assert [i.name for i in service.snapshotter.walk() if not i.name.startswith("sha256:")] == []
    assert "nginx" in read_in(env, "127.0.0.1:5000/library/nginx", "/etc/nginx/nginx.conf")


@pytest.mark.requires_root
def test_disk_full_during_extraction_leaves_nothing(images_env: dict[str, str], tmp_path: Path) -> None:
    """A 2 MiB tmpfs as the state root (in a private mount namespace) cannot hold busybox unpacked.

    The layer's blob comes from the session's read-only image store, so extracting is all the pull
    writes: it is the extraction that meets the full disk."""
    from dockernb.linux.mount import mount, run_in_userns

    def child() -> dict[str, object]:
        mount("tmpfs", str(tmp_path), "tmpfs", 0, "size=2m")
        env = {**images_env, "DOCKERNB_ROOT": str(tmp_path / "root")}
        svc = engine(env).images
        try:
            for _ in svc.pull("127.0.0.1:5000/library/busybox"):
                pass
            return {"error": ""}
        except NoSpaceLeft as err:
            used = sum(f.stat().st_size for f in (tmp_path / "root").rglob("*") if f.is_file())
            return {"error": str(err), "images": len(svc.list()), "ingests": len(svc.content.list_statuses()),
                    "blobs": len(list(svc.content.walk())), "snapshots": [i.name for i in svc.snapshotter.walk()],
                    "used": used}  # fmt: skip
        finally:
            svc.close()

    got = run_in_userns(child, None, mount_ns=True)
    assert str(got["error"]).endswith("no space left on device") and "/snapshots/" in str(got["error"]), got
    assert (got["images"], got["ingests"], got["snapshots"]) == (2, 0, [])  # the shared store's two
    assert int(str(got["used"])) < 64 << 10  # what is left is the (tiny) metadata: the bytes are gone
