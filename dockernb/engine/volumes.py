"""VolumeService: ``docker volume create/ls/inspect/rm/prune`` (layer L6).

Volumes live in :class:`dockernb.volumes.store.VolumeStore`; which containers use one is known
from the container records (``users``), so ``rm`` refuses a volume in use with docker's
sentence (``remove v: volume is in use - [<id>]``) and ``prune`` skips it. docker 20.10's prune
removes every unused local volume (named ones too).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dockernb.config import Config
from dockernb.errors import Conflict, InvalidFilter
from dockernb.store.events import EventLog
from dockernb.store.layout import Layout
from dockernb.volumes.store import VolumeRecord, VolumeStore

__all__ = ["VolumePrune", "VolumeService", "volume_inspect"]

VOLUME_FILTERS = ("dangling", "driver", "label", "name")


@dataclass(frozen=True, slots=True)
class VolumePrune:
    deleted: tuple[str, ...]
    space_reclaimed: int


def volume_inspect(rec: VolumeRecord) -> dict[str, Any]:
    """docker's Volume JSON (``volume inspect``, ``GET /volumes/{name}``)."""
    created = rec.created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "CreatedAt": created,
        "Driver": rec.driver,
        "Labels": dict(rec.labels) or None,
        "Mountpoint": str(rec.mountpoint),
        "Name": rec.name,
        "Options": dict(rec.options) or None,
        "Scope": "local",
    }


class VolumeService:
    """Like docker's volume API: ``engine.volumes.create("data")``, ``.list()``, ``.remove("data")``."""

    def __init__(self, config: Config, *, users: Callable[[], Mapping[str, Sequence[str]]] | None = None) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self._users = users or (dict)

    @cached_property
    def store(self) -> VolumeStore:
        return VolumeStore(self.layout)

    @cached_property
    def event_log(self) -> EventLog:
        return EventLog(self.layout)

    def create(self, name: str = "", *, driver: str = "local", labels: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None) -> VolumeRecord:
        """Like ``docker volume create`` (idempotent for an existing name). Raises InvalidArgument, NotSupported."""
        rec = self.store.create(name, driver=driver, labels=labels, options=options)
        self.event_log.emit("volume", "create", rec.name, {"driver": rec.driver})
        return rec

    def get(self, name: str) -> VolumeRecord:
        """Raises NoSuchVolume."""
        return self.store.get(name)

    def inspect(self, name: str) -> dict[str, Any]:
        """The Volume JSON of ``volume inspect``. Raises NoSuchVolume."""
        return volume_inspect(self.store.get(name))

    def list(  # noqa: A003
        self, *, filters: Mapping[str, Sequence[str]] | None = None
    ) -> builtins.list[VolumeRecord]:
        """Like ``docker volume ls`` (by name). Filters: dangling, driver, label, name. Raises InvalidFilter."""
        filters = filters or {}
        for key in filters:
            if key not in VOLUME_FILTERS:
                raise InvalidFilter(key)
        used = self._users() if "dangling" in filters else {}
        out = []
        for rec in self.store.list():
            if "name" in filters and not any(v in rec.name for v in filters["name"]):
                continue
            if "driver" in filters and rec.driver not in filters["driver"]:
                continue
            if "label" in filters and not all(_label(v, rec.labels) for v in filters["label"]):
                continue
            if "dangling" in filters:
                want = filters["dangling"][-1].lower() in ("1", "true")
                if (rec.name not in used) != want:
                    continue
            out.append(rec)
        return out

    def remove(self, name: str, *, force: bool = False) -> None:
        """Like ``docker volume rm``. Raises NoSuchVolume, Conflict (in use)."""
        self.store.get(name)
        users = self._users().get(name, [])
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.store.remove(name)
        self.event_log.emit("volume", "destroy", name, {"driver": "local"})

    def prune(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> VolumePrune:
        """Like ``docker volume prune`` (20.10: every unused local volume)."""
        used = self._users()
        deleted, space = [], 0
        for rec in self.list(filters={k: v for k, v in (filters or {}).items() if k == "label"}):
            if rec.name in used:
                continue
            size = max(self.store.size(rec.name), 0)
            try:
                self.store.remove(rec.name)
            except Exception:  # noqa: BLE001 - removed meanwhile
                continue
            deleted.append(rec.name)
            space += size
            self.event_log.emit("volume", "destroy", rec.name, {"driver": rec.driver})
        return VolumePrune(tuple(deleted), space)


def _label(wanted: str, labels: Mapping[str, str]) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)
