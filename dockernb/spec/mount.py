"""A mount as plain data: what snapshotters return and the runtime applies (OCI runtime-spec shape)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mount"]


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount(2) to perform, in the OCI runtime spec's terms.

    ``type`` is the filesystem type ("overlay", "bind", "tmpfs", "fuse.fuse-overlayfs"...),
    ``source`` what to mount, ``target`` where (relative to the container root when used
    in a bundle; empty for a snapshot's root mount), ``options`` the mount options.
    """

    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()
