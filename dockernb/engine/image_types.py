"""What the image service returns: images, history rows, deletions, disk usage (layer L6, plain data).

Front ends render these (``present/images.py``); the Engine API's JSON shapes are built from them
in ``engine/inspect.py`` and the API routes. Ids are ``sha256:<hex>``; names are docker's familiar
forms (``busybox:latest``, ``127.0.0.1:5000/busybox@sha256:...``); times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockernb.spec.oci import ImageConfig

__all__ = [
    "DeleteItem",
    "DiskUsage",
    "DiskUsageRow",
    "HistoryItem",
    "Image",
    "ImageUse",
    "ImageUsers",
    "PruneReport",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """A stored image, like docker-py's ``Image``: its id, names, config and sizes.

    ``tags`` and ``digests`` are familiar names; ``read_only`` says it lives in an extra
    read-only image store (``DOCKERNB_IMAGE_STORES``); ``top_chain`` names the snapshot of its
    whole filesystem (empty for an image without layers).
    """

    id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    created: datetime | None
    size: int
    parent: str
    labels: Mapping[str, str]
    config: ImageConfig
    diff_ids: tuple[str, ...]
    top_chain: str
    added: datetime | None = None
    last_tag_time: datetime | None = None
    read_only: bool = False
    #: canonical names (``docker.io/library/busybox:latest``), for API clients
    canonical: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    @property
    def dangling(self) -> bool:
        return not self.tags and not self.digests


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    """One row of ``docker history``: ``id`` is an image id or ``<missing>``."""

    id: str
    created: datetime | None
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """One line of ``docker rmi``: ``Untagged: busybox:latest`` or ``Deleted: sha256:...``."""

    untagged: str = ""
    deleted: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    deleted: tuple[DeleteItem, ...] = ()
    space_reclaimed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskUsageRow:
    """One row of ``docker system df``: how many, how many in use, bytes, bytes reclaimable."""

    kind: str
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskUsage:
    """``docker system df``: the rows in docker's order (Images, Containers, Local Volumes, Build Cache)."""

    rows: tuple[DiskUsageRow, ...]
    images: tuple[Image, ...] = ()
    layers_size: int = 0


@dataclass(frozen=True, slots=True)
class ImageUse:
    """A container that uses an image (what ``rmi`` and ``prune`` must respect)."""

    container_id: str
    image_id: str
    running: bool
    #: bytes its writable layer holds (for ``system df``; 0 when unknown)
    size: int = 0


#: where the image service learns which containers use which images (the container service
#: registers one; without it, no container uses any image)
ImageUsers = Callable[[], Iterable[ImageUse]]

