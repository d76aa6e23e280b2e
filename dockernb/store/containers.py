"""Container records and state on disk, shared safely by every process using one root (layer L1).

One directory per container, ``<root>/containers/<id>/``::

    config.json      the ContainerRecord (intent; only rename rewrites it)
    state.json       the ContainerState (status, pids, exit code...), written under the lock
    exit.json        the monitor's ExitRecord of the last run (written once per run, atomically)
    <id>-json.log    the json-file log (and .1, .2 ... when rotated), docker's file name
    attach.sock      the monitor's attach socket while the container runs
    spawn.json       how to start the container again (read by the post-exit handler)
    monitor.<n>.json the monitor of run n (so a run the engine never recorded is still found)
    .lock            the container's flock lock (inside the directory: it goes away with it)

Names are reserved as symlinks ``<root>/containers/.names/<name> -> <id>``, created under one
root-wide lock, so two processes asking for the same name get one success and one NameInUse.
A container directory appears by ``rename(2)`` from a scratch directory, fully written, and
disappears the same way (renamed into scratch, then deleted), so readers never see half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockernb.errors import (
    AmbiguousPrefix,
    ContainerStateConflict,
    InternalError,
    InvalidArgument,
    InvalidContainerName,
    NameInUse,
    NoSuchContainer,
)
from dockernb.spec.container import ContainerRecord
from dockernb.spec.names import generate_id, random_name, validate_name
from dockernb.spec.status import ContainerState, Event, ExitRecord, conflict_message, next_status
from dockernb.store.atomic import write_bytes, write_json
from dockernb.store.codec import decode, encode
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["ContainerPaths", "ContainerStore"]

_ID = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class ContainerPaths:
    """The files of one container directory (the only place that names them)."""

    dir: Path
    id: str

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def state(self) -> Path:
        return self.dir / "state.json"

    @property
    def exit(self) -> Path:
        return self.dir / "exit.json"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.id}-json.log"

    @property
    def attach(self) -> Path:
        return self.dir / "attach.sock"

    @property
    def spawn(self) -> Path:
        return self.dir / "spawn.json"

    def monitor(self, generation: int) -> Path:
        """Who monitors run ``generation`` (pid, start time, init pid), written by the monitor."""
        return self.dir / f"monitor.{generation}.json"

    @property
    def lock(self) -> Path:
        return self.dir / ".lock"


class _ContainerLock:
    """flock on ``<dir>/.lock`` without creating the directory (a removed container stays removed)."""

    def __init__(self, paths: ContainerPaths) -> None:
        self.paths = paths
        self._fd: int | None = None

    def __enter__(self) -> _ContainerLock:
        try:
            fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise NoSuchContainer(self.paths.id) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not self.paths.config.exists():  # removed while we waited
            os.close(fd)
            raise NoSuchContainer(self.paths.id)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ContainerStore:
    """CRUD of container records and their state under one root; safe across processes.

    Raises NoSuchContainer, NameInUse, AmbiguousPrefix, InvalidContainerName as docker would;
    a transition outside the table raises ContainerStateConflict with docker's sentence.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.dir = layout.containers
        self.names_dir = layout.containers / ".names"
        self._dir_str = str(layout.containers)

    # --- paths and locks ------------------------------------------------------------

    def paths(self, container_id: str) -> ContainerPaths:
        return ContainerPaths(self.layout.container(container_id), container_id)

    def lock(self, container_id: str) -> _ContainerLock:
        """The container's exclusive lock: hold it to read-modify-write its state."""
        return _ContainerLock(self.paths(container_id))

    def _names_lock(self) -> FileLock:
        return FileLock(self.layout.lock("container-names"))

    # --- create / resolve / list ------------------------------------------------------

    def new_id(self) -> str:
        return generate_id()

    def create(self, record: ContainerRecord, state: ContainerState | None = None) -> ContainerRecord:
        """Persist a new container; an empty ``record.name`` gets a generated one.

        Returns the record as stored (with its name). The directory appears whole or not at all.
        """
        name = validate_name(record.name) if record.name else ""
        state = state or ContainerState()
        self.layout.ensure()
        self.names_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = Path(tempfile.mkdtemp(prefix=f"create-{record.id[:12]}-", dir=self.layout.tmp))
        try:
            os.chmod(scratch, 0o711)
            with self._names_lock():
                if name:
                    self._reserve(name, record.id)
                else:
                    name = self._reserve_generated(record.id)
                try:
                    record = _replace_name(record, name)
                    write_json(scratch / "config.json", encode(record), sync=False)
                    write_json(scratch / "state.json", encode(state), sync=False)
                    os.rename(scratch, self.layout.container(record.id))
                except BaseException:
                    self._release(name, record.id)
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return record

    def _reserve(self, name: str, container_id: str) -> None:
        link = self.names_dir / name
        for _ in range(2):
            try:
                os.symlink(container_id, link)
                return
            except FileExistsError:
                owner = os.readlink(link)
                if (self.layout.container(owner) / "config.json").exists():
                    raise NameInUse(name, owner) from None
                os.unlink(link)  # stale: its container is gone (a crash between the two removals)
            except OSError as err:
                if err.errno == errno.ENAMETOOLONG:
                    raise InvalidContainerName(name) from None
                raise
        raise NameInUse(name, os.readlink(link))

    def _reserve_generated(self, container_id: str) -> str:
        for retry in range(6):  # docker tries six random names, then falls back to the short id
            name = random_name(retry)
            try:
                self._reserve(name, container_id)
                return name
            except NameInUse:
                continue
        name = container_id[:12]
        self._reserve(name, container_id)
        return name

    def _release(self, name: str, container_id: str) -> None:
        link = self.names_dir / name
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(link) == container_id:
                os.unlink(link)

    def ids(self) -> list[str]:
        """Every container id under the root (unordered)."""
        try:
            return [n for n in os.listdir(self.dir) if _ID.match(n)]
        except FileNotFoundError:
            return []

    def resolve(self, ref: str) -> str:
        """docker's lookup order: full id, then name, then unique id prefix."""
        if not ref:
            raise NoSuchContainer(ref)
        if _ID.match(ref) and self.paths(ref).config.exists():
            return ref
        name = ref.removeprefix("/")
        if name and "/" not in name and not name.startswith("."):
            try:
                owner = os.readlink(self.names_dir / name)
            except OSError:
                owner = ""
            if owner and self.paths(owner).config.exists():
                return owner
        if _HEX.match(ref):
            found = [i for i in self.ids() if i.startswith(ref)]
            if len(found) > 1:
                raise AmbiguousPrefix(ref)
            if found:
                return found[0]
        raise NoSuchContainer(ref)

    def _file(self, container_id: str, name: str) -> str:
        # plain strings: ps reads two files per container and pathlib's joins showed in its profile
        return f"{self._dir_str}/{container_id}/{name}"

    def record(self, container_id: str) -> ContainerRecord:
        try:
            data = _read(self._file(container_id, "config.json"))
        except FileNotFoundError:
            raise NoSuchContainer(container_id) from None
        return decode(ContainerRecord, data)

    def state(self, container_id: str) -> ContainerState:
        """The persisted state (without the monitor's exit record folded in; see dockernb.monitor.reconcile)."""
        try:
            data = _read(self._file(container_id, "state.json"))
        except FileNotFoundError:
            raise NoSuchContainer(container_id) from None
        return decode(ContainerState, data)

    def exit_record(self, container_id: str) -> ExitRecord | None:
        """The last run's exit record, or None (absent, or unreadable: it is written atomically)."""
        try:
            return decode(ExitRecord, _read(self._file(container_id, "exit.json")))
        except (OSError, ValueError, TypeError):
            return None

    def load(self, container_id: str) -> tuple[ContainerRecord, ContainerState]:
        return self.record(container_id), self.state(container_id)

    def list(self) -> Iterator[tuple[ContainerRecord, ContainerState]]:
        """Every container with its persisted state; one removed meanwhile is skipped."""
        for cid in self.ids():
            try:
                yield self.load(cid)
            except NoSuchContainer:
                continue

    # --- change -------------------------------------------------------------------------

    def save_state(self, container_id: str, state: ContainerState) -> None:
        """Write ``state`` as is; the caller holds the lock and has checked the transition."""
        write_json(self.paths(container_id).state, encode(state), sync=False)

    def transition(
        self,
        container_id: str,
        event: Event,
        update: Callable[[ContainerState], None] | None = None,
        *,
        verb: str = "",
        ref: str = "",
    ) -> ContainerState:
        """Apply ``event`` under the lock: check the table, set the new status, run ``update``, save.

        Raises ContainerStateConflict (docker's sentence for ``verb``) when the table forbids it.
        """
        with self.lock(container_id):
            state = self.state(container_id)
            target = next_status(state.status, event)
            if target is None:
                raise ContainerStateConflict(conflict_message(verb or str(event), state.status, container_id, ref))
            state.status = target
            if update is not None:
                update(state)
            self.save_state(container_id, state)
            return state

    def write_file(self, container_id: str, name: str, data: bytes) -> None:
        """Write one more file into the container's directory, atomically (spawn.json...)."""
        write_bytes(self.paths(container_id).dir / name, data, sync=False)

    def save_record(self, record: ContainerRecord) -> None:
        """Rewrite a container's record (``update`` changes its resources); the caller holds its lock."""
        write_json(self.paths(record.id).config, encode(record), sync=False)

    def rename(self, container_id: str, new_name: str) -> ContainerRecord:
        """Give the container a new name (NameInUse if taken; the old name is freed)."""
        new_name = validate_name(new_name)
        with self._names_lock(), self.lock(container_id):
            record = self.record(container_id)
            if record.name == new_name:
                raise InvalidArgument("Renaming a container with the same name as its current name")
            self._reserve(new_name, container_id)
            try:
                renamed = _replace_name(record, new_name)
                write_json(self.paths(container_id).config, encode(renamed), sync=False)
            except BaseException:
                self._release(new_name, container_id)
                raise
            self._release(record.name, container_id)
            return renamed

    def delete(self, container_id: str) -> None:
        """Remove the container's directory and name (idempotent for a missing container).

        The caller has already stopped it; mounts and cgroups are the runtime's to clean.
        """
        paths = self.paths(container_id)
        try:
            record = self.record(container_id)
        except (NoSuchContainer, ValueError, TypeError):
            record = None
        trash = self.layout.tmp / f"removed-{container_id}-{os.getpid()}"
        with self._names_lock():
            try:
                os.rename(paths.dir, trash)
            except FileNotFoundError:
                return
            if record is not None:
                self._release(record.name, container_id)
        shutil.rmtree(trash, ignore_errors=True)


def _read(path: Path | str) -> dict[str, object]:
    with open(path, "rb") as f:
        data = json.loads(f.read())
    if not isinstance(data, dict):
        raise InternalError(f"corrupt container file {path}: not an object")
    return data


def _replace_name(record: ContainerRecord, name: str) -> ContainerRecord:
    return dataclasses.replace(record, name=name)
