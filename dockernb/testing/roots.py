"""Removing a test's state root, whoever owns its files (shipped test helper).

First what the root holds outside its directory is released (containers' processes and mounts, the
bridges, nftables tables and, rootless, the hub's namespaces and its pasta/slirp4netns): removing the
directory alone would orphan them.

Rootless, a root's snapshots hold files owned by the user's subordinate ids (the image's root,
daemon users...), which the user cannot delete from outside; inside a user namespace mapped like
the engine's they are the user's own. So the root is removed from inside one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["release_root", "wipe_root"]


def release_root(root: Path) -> None:
    """Remove the root's containers (forced) and destroy its networks (best effort, never raises)."""
    if not ((root / "containers").exists() or (root / "networks").exists()):
        return
    try:
        from dockernb.engine import Engine

        engine = Engine.from_env({**os.environ, "DOCKERNB_ROOT": str(root)})
        try:
            for cid in engine.containers.store.ids():
                with contextlib.suppress(Exception):
                    engine.containers.remove(cid, force=True, volumes=True)
            if (root / "networks").exists():
                engine.containers.networks.destroy()
        finally:
            engine.close()
    except Exception:  # noqa: BLE001 - best effort: a test's own leak checks report what stays
        pass


def wipe_root(root: Path) -> None:
    """Release and remove ``root`` and everything under it (best effort, never raises)."""
    if not root.exists():
        return
    release_root(root)
    if os.geteuid() != 0 and (root / "snapshots").exists():
        from dockernb.linux.mount import rootless_idmap, run_in_userns

        path = str(root)

        def remove() -> int:
            shutil.rmtree(path, ignore_errors=True)
            return 0

        try:
            run_in_userns(remove, rootless_idmap())
        except Exception:  # noqa: BLE001 - best effort; the plain rmtree below reports nothing either
            pass
    shutil.rmtree(root, ignore_errors=True)
