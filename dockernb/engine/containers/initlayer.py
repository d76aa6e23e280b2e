"""A container's init layer: its mount points, between the image and its writable layer (layer L6).

docker keeps the files it mounts over (``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``,
``/proc``, ``/sys``, ``/dev``, ``/.dockerenv``) in a layer of their own, ``<id>-init``, committed on
the image's top layer; the container's writable layer sits on it. So ``diff`` and ``commit`` show
only what the container itself changed, never an empty ``/etc/hostname`` the runtime had to create
as a mount target. Only the targets the image lacks are created, as container root (the caller's
own id when rootless, which the user namespace maps to 0), their parent directories copied with
the image's mode and owner.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dockernb.snapshots.base import Snapshotter
from dockernb.spec.mount import Mount

__all__ = ["INIT_TARGETS", "init_name", "prepare_layers", "writable_dir"]

#: path -> "file" or "dir"
INIT_TARGETS: dict[str, str] = {
    "/etc/hostname": "file",
    "/etc/hosts": "file",
    "/etc/resolv.conf": "file",
    "/proc": "dir",
    "/sys": "dir",
    "/dev": "dir",
    "/.dockerenv": "file",
}


def init_name(container_id: str) -> str:
    return f"{container_id}-init"


def writable_dir(mounts: Sequence[Mount]) -> str:
    """The directory an active snapshot writes to (overlay's upperdir, else the bound directory)."""
    for m in mounts:
        for opt in m.options:
            if opt.startswith("upperdir="):
                return opt[len("upperdir=") :]
    return mounts[0].source if mounts else ""


def _lowers(mounts: Sequence[Mount]) -> list[str]:
    for m in mounts:
        for opt in m.options:
            if opt.startswith("lowerdir="):
                return opt[len("lowerdir=") :].split(":")
    return []


def _in_image(lowers: list[str], rel: str) -> str | None:
    """The first (topmost) layer holding ``rel``, or None."""
    for lower in lowers:
        if os.path.lexists(os.path.join(lower, rel)):
            return os.path.join(lower, rel)
    return None


def _make_parents(upper: str, lowers: list[str], rel: str) -> None:
    parts = Path(rel).parts[:-1]
    for i in range(1, len(parts) + 1):
        sub = os.path.join(*parts[:i])
        target = os.path.join(upper, sub)
        if os.path.isdir(target):
            continue
        os.mkdir(target, 0o755)
        source = _in_image(lowers, sub)
        if source is not None and os.path.isdir(source):
            st = os.stat(source)
            os.chmod(target, st.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(target, st.st_uid, st.st_gid)


def _populate(upper: str, lowers: list[str]) -> None:
    for path, kind in INIT_TARGETS.items():
        rel = path.lstrip("/")
        if _in_image(lowers, rel) is not None or os.path.lexists(os.path.join(upper, rel)):
            continue
        _make_parents(upper, lowers, rel)
        target = os.path.join(upper, rel)
        if kind == "dir":
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def prepare_layers(snapshotter: Snapshotter, container_id: str, chain: str) -> list[Mount]:
    """Make ``<id>-init`` on the image's ``chain`` and the container's writable snapshot on it."""
    key = f"{container_id}-init-key"
    mounts = snapshotter.prepare(key, chain, labels={"dockernb.container": container_id})
    try:
        upper = writable_dir(mounts)
        # overlay: the image is the lowerdirs; native (a full copy) or a first layer: the snapshot itself
        _populate(upper, _lowers(mounts) or [upper])
        snapshotter.commit(init_name(container_id), key)
    except BaseException:
        snapshotter.remove(key)
        raise
    try:
        return snapshotter.prepare(container_id, init_name(container_id), labels={"dockernb.container": container_id})
    except BaseException:
        snapshotter.remove(init_name(container_id))
        raise
