"""Teardown of the labs' state roots: every container removed, its post-exit handlers finished, the
root's networks destroyed (bridges, firewall rules, netd), no process naming the root left, then the
root wiped. A post-exit handler still running would otherwise recreate parts of a wiped root."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _processes_naming(root: Path) -> list[int]:
    needle = str(root).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry))
    return found


def _is_netd(pid: int) -> bool:
    try:
        return b"netd" in Path("/proc", str(pid), "cmdline").read_bytes()
    except OSError:
        return False


def remove_root(root: Path, timeout: float = 60.0) -> None:
    from dockernb.engine import Engine
    from dockernb.testing.roots import wipe_root

    if root.exists():
        engine = Engine.from_env({**os.environ, "DOCKERNB_ROOT": str(root), "DOCKERNB_IMAGE_STORES": ""})
        try:
            for cid in engine.containers.store.ids():  # a failed lab or grading may leave its containers
                engine.containers.remove(cid, force=True, volumes=True)
            deadline = time.monotonic() + timeout
            # the post-exit handlers finish (netd stays until destroy() below stops it)
            while time.monotonic() < deadline and any(not _is_netd(pid) for pid in _processes_naming(root)):
                time.sleep(0.2)
            if (root / "networks").exists():
                engine.containers.networks.destroy()  # bridges, firewall rules and netd of this root
        finally:
            engine.close()
    deadline = time.monotonic() + timeout
    while _processes_naming(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    wipe_root(root)
    assert not _processes_naming(root), f"processes of {root} outlived the test"
    assert not root.exists(), f"{root} came back after it was wiped"
