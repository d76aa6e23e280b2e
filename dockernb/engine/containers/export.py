"""``docker export``: a container's filesystem as a tar, without its volumes (layer L6).

The tar is the container's root filesystem as its snapshot holds it: for a running container,
its mount namespace's root read through ``/proc/<pid>/root`` with every mount on it (volumes,
binds, /proc, /sys, /dev) archived as the empty mount point below it; for a stopped one, a
private mount of its snapshot. Names are relative (``bin/sh``), as docker's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dockernb.layers.copy import write_tree

if TYPE_CHECKING:
    from dockernb.engine.containers.rootfs import RootfsInfo
    from dockernb.engine.containers.service import ContainerService

__all__ = ["export_container"]


def export_container(svc: ContainerService, container_id: str) -> Iterator[bytes]:
    """The tar's bytes as they are produced; see :meth:`ContainerService.export`."""
    from dockernb.engine.containers.rootfs import ChildStream, on_rootfs

    def start(w: int, after_fork: Any, read_fd: int) -> Any:  # noqa: ANN401
        def child(root: int, info: RootfsInfo) -> dict[str, Any]:
            os.close(read_fd)
            with os.fdopen(w, "wb") as out:
                write_tree(root, out, only_dev=info.rootfs_dev)
            return {}

        return on_rootfs(svc, container_id, child, volumes=False, after_fork=after_fork)

    stream = ChildStream(start)
    try:
        while chunk := stream.read(1 << 20):
            yield chunk
    finally:
        stream.close()
    svc.record_event(container_id, "export")
