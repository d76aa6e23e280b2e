"""Removing a test's state root, whoever owns its files (shipped test helper).

Rootless, a root's snapshots hold files owned by the user's subordinate ids (the image's root,
daemon users...), which the user cannot delete from outside; inside a user namespace mapped like
the engine's they are the user's own. So the root is removed from inside one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["wipe_root"]


def wipe_root(root: Path) -> None:
    """Remove ``root`` and everything under it (best effort, never raises)."""
    if not root.exists():
        return
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
