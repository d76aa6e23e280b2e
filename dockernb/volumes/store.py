"""Named volumes on disk: docker's ``local`` driver, one directory per volume (layer L3).

``<root>/volumes/<name>/_data`` is what containers mount; ``<root>/volumes/<name>/volume.json``
holds the record (created time, labels, options). A volume appears by ``rename(2)`` of a fully
written scratch directory, so two processes creating the same name both succeed with one volume
(docker's ``volume create`` is idempotent) and readers never see half of one. Which containers
use a volume is the engine's knowledge (container records), not the store's.

Options of the ``local`` driver: ``type``/``device``/``o`` (a mount, as ``mount -t type -o o
device``) are accepted only as root; ``tmpfs`` is the common case. Without options the volume is
a plain directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dockernb.errors import InvalidArgument, NoSuchVolume, NotSupported
from dockernb.spec.names import generate_id
from dockernb.store.atomic import write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["VolumeRecord", "VolumeStore", "validate_volume_name"]

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_LOCAL_OPTS = {"type", "device", "o"}


def validate_volume_name(name: str) -> str:
    """docker's rule for local volume names, with its sentence (``-v ./x:/y`` lands here too)."""
    if not _NAME.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )
    return name


@dataclass(slots=True, kw_only=True)
class VolumeRecord:
    """One volume (``volume inspect``'s facts); ``mountpoint`` is the ``_data`` directory."""

    name: str
    mountpoint: Path
    created: datetime
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    #: made for one container (``-v /data`` or an image's VOLUME): ``rm -v`` and ``--rm`` remove it
    anonymous: bool = False


class VolumeStore:
    """CRUD of named volumes under one root; safe across processes."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.dir = layout.volumes

    def _lock(self) -> FileLock:
        return FileLock(self.layout.lock("volumes"))

    def path(self, name: str) -> Path:
        return self.dir / name

    def create(
        self,
        name: str = "",
        *,
        driver: str = "local",
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        anonymous: bool = False,
    ) -> VolumeRecord:
        """Like ``docker volume create`` (an existing name is returned as it is; "" makes a 64-hex name).

        Raises InvalidArgument (bad name, unknown option), NotSupported (another driver).
        """
        if driver != "local":
            raise NotSupported(f"error looking up volume plugin {driver}: plugin {driver!r} not found")
        name = validate_volume_name(name) if name else generate_id()
        opts = dict(options or {})
        bad = sorted(set(opts) - _LOCAL_OPTS)
        if bad:
            raise InvalidArgument(f"invalid option key: {bad[0]!r}")
        if opts and os.geteuid() != 0:
            raise InvalidArgument("volume options (type, device, o) need root here")
        if self.path(name).is_dir():
            return self.get(name)
        self.layout.ensure()
        with self._lock():
            if self.path(name).is_dir():
                return self.get(name)
            scratch = Path(tempfile.mkdtemp(prefix=f"volume-{name[:12]}-", dir=self.layout.tmp))
            try:
                os.chmod(scratch, 0o711)
                (scratch / "_data").mkdir(mode=0o755)
                rec = VolumeRecord(name=name, mountpoint=self.path(name) / "_data", created=datetime.now(UTC),
                                   labels=dict(labels or {}), options=opts, anonymous=anonymous)
                write_json(scratch / "volume.json", _encode(rec), sync=False)
                os.rename(scratch, self.path(name))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return rec

    def get(self, name: str) -> VolumeRecord:
        """Raises NoSuchVolume."""
        if not name or "/" in name or name.startswith("."):
            raise NoSuchVolume(name)
        try:
            data = json.loads((self.path(name) / "volume.json").read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchVolume(name) from None
        return _decode(data, self.path(name) / "_data")

    def list(self) -> list[VolumeRecord]:  # noqa: A003 - docker's verb
        """Every volume, by name."""
        out = []
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            return []
        for name in names:
            try:
                out.append(self.get(name))
            except (NoSuchVolume, ValueError, KeyError):
                continue
        return out

    def remove(self, name: str) -> None:
        """Delete the volume and its data (the caller checked it is unused). Raises NoSuchVolume."""
        self.get(name)
        trash = self.layout.tmp / f"removed-volume-{name}-{os.getpid()}"
        with self._lock():
            try:
                os.rename(self.path(name), trash)
            except FileNotFoundError:
                raise NoSuchVolume(name) from None
        _rmtree(trash)

    def size(self, name: str) -> int:
        """Bytes under the volume's data (``system df -v``); -1 when unreadable."""
        total = 0
        try:
            for base, _dirs, files in os.walk(self.path(name) / "_data"):
                for f in files:
                    try:
                        total += os.lstat(os.path.join(base, f)).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            return -1
        return total


def _rmtree(path: Path) -> None:
    """Remove a volume's tree; rootless, from inside the user namespace, where files of the
    container's users (subordinate ids on the host) are the caller's own."""
    if os.geteuid() != 0:
        from dockernb.linux.mount import rootless_idmap, run_in_userns

        target = str(path)

        def remove() -> int:
            shutil.rmtree(target, ignore_errors=True)
            return 0

        try:
            run_in_userns(remove, rootless_idmap())
        except Exception:  # noqa: BLE001 - the plain removal below says nothing either
            pass
    shutil.rmtree(path, ignore_errors=True)


def _encode(rec: VolumeRecord) -> dict[str, object]:
    return {"name": rec.name, "created": rec.created.isoformat(), "driver": rec.driver, "labels": rec.labels,
            "options": rec.options, "anonymous": rec.anonymous, "schema_version": 1}


def _decode(data: dict[str, object], mountpoint: Path) -> VolumeRecord:
    labels = data.get("labels") or {}
    options = data.get("options") or {}
    if not isinstance(labels, dict) or not isinstance(options, dict):
        raise ValueError("corrupt volume record")
    return VolumeRecord(
        name=str(data["name"]), mountpoint=mountpoint, created=datetime.fromisoformat(str(data["created"])),
        driver=str(data.get("driver", "local")), labels={str(k): str(v) for k, v in labels.items()},
        options={str(k): str(v) for k, v in options.items()}, anonymous=bool(data.get("anonymous", False)),
    )

