"""The engine's event log: what happened to containers, images, volumes and networks (layer L1).

docker keeps its events in the daemon's memory; dockernb has no daemon, so every process that
changes state (a CLI, a kernel, the API server, a container's post-exit handler) appends to one
log under the root, and ``docker events`` readers follow the file::

    <root>/events/events.log      JSON lines, oldest first
    <root>/events/events.log.1    the previous generation (one is kept)
    <root>/events/.lock           the writers' flock

A line is ``{"t": time_nano, "type": ..., "action": ..., "id": ..., "attrs": {...}, "scope": ...}``.
Writers append under the flock and give each event ``max(now, last + 1)`` ns, so ``time_nano``
is unique and increasing across every process of the root (readers rely on it to drop the
duplicates a rotation can show them). Past :data:`MAX_BYTES` the file is renamed to ``.1``.
Readers take no lock: :class:`EventReader` consumes whole lines only (a line being written is
left for the next read), and notices a rotation by the inode behind the path changing.
Appending is best effort for the callers that report: an event that cannot be written never
fails the operation it describes (:meth:`EventLog.emit` logs and returns None).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from dockernb.spec.container import ContainerRecord
from dockernb.spec.events import Event
from dockernb.store.layout import Layout

__all__ = ["MAX_BYTES", "EventLog", "EventReader", "container_attributes", "decode_line", "encode_event"]

log = logging.getLogger(__name__)

#: a log file is rotated once it grows past this (two generations are kept)
MAX_BYTES = 4 * 1024 * 1024
_TAIL = 4096


def container_attributes(record: ContainerRecord, **extra: str) -> dict[str, str]:
    """A container event's attributes as dockerd logs them: its labels, ``image``, ``name``, then ``extra``."""
    return {**record.config.labels, "image": record.config.image, "name": record.name, **extra}


def encode_event(ev: Event) -> bytes:
    """One log line (with its newline)."""
    data = {"t": ev.time_nano, "type": ev.type, "action": ev.action, "id": ev.actor_id,
            "attrs": dict(ev.attributes), "scope": ev.scope}  # fmt: skip
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode_line(line: bytes) -> Event | None:
    """The event of one log line; None for a line that is not one (never raises)."""
    try:
        data = json.loads(line)
        attrs = data.get("attrs") or {}
        return Event(type=str(data["type"]), action=str(data["action"]), actor_id=str(data.get("id", "")),
                     time_nano=int(data["t"]), attributes={str(k): str(v) for k, v in attrs.items()},
                     scope=str(data.get("scope", "local")))  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _last_time(path: Path) -> int:
    """The time of the last complete line of ``path`` (0 when none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        return _last_time_fd(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _last_time_fd(fd: int, size: int) -> int:
    """The time of the last complete line in the first ``size`` bytes of ``fd`` (0 when none)."""
    span = _TAIL
    while True:
        start = max(0, size - span)
        lines = os.pread(fd, size - start, start).split(b"\n")
        # the first piece may be cut (unless we read from 0); the last is "" after a newline
        candidates = lines[1:-1] if start > 0 else lines[:-1]
        for line in reversed(candidates):
            ev = decode_line(line)
            if ev is not None:
                return ev.time_nano
        if start == 0:
            return 0
        span *= 4


class EventLog:
    """The root's event log: :meth:`append` (or :meth:`emit`), :meth:`history`, :meth:`reader`."""

    def __init__(self, layout: Layout) -> None:
        self.dir = layout.events

    @property
    def path(self) -> Path:
        return self.dir / "events.log"

    @property
    def rotated(self) -> Path:
        return self.dir / "events.log.1"

    def append(self, type: str, action: str, actor_id: str,  # noqa: A002 - docker's word
               attributes: Mapping[str, str] | None = None, *, scope: str = "local") -> Event:
        """Record one event now; returns it with its time. Raises OSError."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            last = _last_time(self.path) or _last_time(self.rotated)
            ev = Event(type=type, action=action, actor_id=actor_id, time_nano=max(time.time_ns(), last + 1),
                       attributes=dict(attributes or {}), scope=scope)  # fmt: skip
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, encode_event(ev))
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > MAX_BYTES:
                os.replace(self.path, self.rotated)
            return ev
        finally:
            os.close(lock)  # drops the flock

    def emit(self, type: str, action: str, actor_id: str,  # noqa: A002
             attributes: Mapping[str, str] | None = None, *, scope: str = "local") -> Event | None:
        """:meth:`append` for callers reporting what they did: a failure is logged, never raised."""
        try:
            return self.append(type, action, actor_id, attributes, scope=scope)
        except OSError as err:
            log.warning("dockernb: could not record the %s %s event of %s: %s", type, action, actor_id[:12], err)
            return None

    def history(self, since: int | None = None, until: int | None = None) -> list[Event]:
        """The recorded events with ``since <= time_nano <= until`` (ns; None: unbounded), oldest first."""
        reader = self.reader(since=since if since is not None else 0)
        try:
            return [ev for ev in reader.read() if until is None or ev.time_nano <= until]
        finally:
            reader.close()

    def reader(self, since: int | None = None) -> EventReader:
        """A reader positioned at ``since`` (ns; the recorded events from then on) or, with None, at the end."""
        return EventReader(self, since)


class EventReader:
    """Reads a log as it grows: :meth:`read` returns the complete lines written since the last call.

    It keeps the current file open, so a rotation between two reads loses nothing: the rest of the
    old generation is read through the open descriptor before the new file is opened.
    """

    def __init__(self, events: EventLog, since: int | None) -> None:
        self.events = events
        self.last = -1 if since is None else since - 1
        self._fd: int | None = None
        self._ino = 0
        self._buf = b""
        self._pending: list[Event] = []
        self._open(at_end=since is None)
        if since is not None:
            self._pending = self._rotated_since()

    def _open(self, *, at_end: bool) -> None:
        try:
            fd = os.open(self.events.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._fd, self._ino, self._buf = None, 0, b""
            return
        st = os.fstat(fd)
        self._fd, self._ino, self._buf = fd, st.st_ino, b""
        if at_end:
            # from what the file held when opened: a line appended meanwhile is read, not skipped
            os.lseek(fd, st.st_size, os.SEEK_SET)
            self.last = max(self.last, _last_time_fd(fd, st.st_size))

    def _rotated_since(self) -> list[Event]:
        """The previous generation's events newer than the last one read (the one we hold is skipped)."""
        try:
            with open(self.events.rotated, "rb") as f:
                if os.fstat(f.fileno()).st_ino == self._ino:
                    return []  # rotated after we opened it: our descriptor reads it
                data = f.read()
        except FileNotFoundError:
            return []
        return self._take(data.split(b"\n")[:-1])

    def _take(self, lines: list[bytes]) -> list[Event]:
        out = []
        for line in lines:
            ev = decode_line(line)
            if ev is not None and ev.time_nano > self.last:
                self.last = ev.time_nano
                out.append(ev)
        return out

    def _drain(self) -> list[Event]:
        if self._fd is None:
            return []
        chunks = [self._buf]
        while data := os.read(self._fd, 1 << 16):
            chunks.append(data)
        data = b"".join(chunks)
        cut = data.rfind(b"\n") + 1
        self._buf = data[cut:]
        return self._take(data[:cut].split(b"\n")[:-1])

    def read(self) -> list[Event]:
        """The events recorded since the last read (a line still being written waits for the next)."""
        out, self._pending = self._pending, []
        out += self._drain()
        try:
            ino = os.stat(self.events.path).st_ino
        except FileNotFoundError:
            ino = 0
        if ino and ino != self._ino:
            out += self._drain()  # the rest of the generation that was rotated away
            if self._fd is not None:
                os.close(self._fd)
            # a reader slower than two rotations finds the generation in between as ``.1``
            out += self._rotated_since()
            self._open(at_end=False)
            out += self._drain()
        return out

    def __iter__(self) -> Iterator[Event]:
        return iter(self.read())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
