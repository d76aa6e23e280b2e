"""What the sidebar's API sends: engine records as JSON, and the engine services it looks for (layer L8).

The sidebar speaks the engine's own vocabulary, not the Docker Engine API's wire shapes: a record
(a dataclass of the engine or of ``dockernb.spec``) becomes a JSON object with the same field
names. Long operations stream one record per line, tagged with its class name in ``kind``.
Containers are the exception: :func:`container_row` flattens a ``ps`` summary into the row the
sidebar draws (name, image, state, status, ports).

An engine without one of the services (a configured ``engine_factory`` may lack some) gets an
honest 501 that names what is missing, and the sidebar shows that sentence.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, cast

from dockernb.errors import NotSupported
from dockernb.present.containers import status_text
from dockernb.spec.container import ContainerSummary
from dockernb.spec.events import Event

__all__ = [
    "ContainerService",
    "EventSource",
    "ImageService",
    "container_row",
    "containers",
    "events_source",
    "images",
    "stream_record",
    "to_json",
]


def to_json(value: object) -> Any:
    """``value`` as plain JSON data: dataclasses by field, enums by value, paths and times as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Iterable):
        return [to_json(v) for v in value]
    return str(value)


def container_row(item: object) -> Any:
    """One row of the sidebar's containers list: docker ps's columns in the engine's field names.

    A :class:`ContainerSummary` (the container service's ``list``) becomes ``{id, name, image,
    state, status, started_at, finished_at, exit_code, created, ports}``, ``status`` as ps words
    it ("Up 3 minutes") and each port
    ``{container_port, protocol, host_ip, host_port}`` (``host_port`` null when only exposed);
    another record (an engine that already speaks rows) passes through :func:`to_json`.
    """
    if not isinstance(item, ContainerSummary):
        return to_json(item)
    record, state = item.record, item.state
    ports: list[dict[str, Any]] = [
        {"container_port": b.container_port, "protocol": b.proto, "host_ip": b.host_ip, "host_port": b.host_port}
        for b in item.bindings
    ]
    bound = {(b.container_port, b.proto) for b in item.bindings}
    ports += [
        {"container_port": port, "protocol": proto, "host_ip": "", "host_port": None}
        for port, proto in item.exposed
        if (port, proto) not in bound
    ]
    return {
        "id": record.id,
        "name": record.name,
        "image": record.config.image,
        "state": to_json(state.status),
        "status": status_text(state),
        # what the status is made of, so that the sidebar keeps "Up 3 minutes" current between events
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "exit_code": state.exit_code,
        "created": record.created.isoformat(),
        "ports": ports,
    }


def stream_record(record: object) -> dict[str, Any]:
    """One line of a streamed operation: the record's fields plus ``kind`` (its class name)."""
    data = to_json(record)
    if not isinstance(data, dict):
        data = {"value": data}
    return {"kind": type(record).__name__, **data}


class ContainerService(Protocol):
    """What the sidebar calls on ``engine.containers`` (docker-py's high-level names)."""

    def list(self, *, all: bool = False) -> Sequence[object]: ...  # noqa: A002 (docker's flag)
    def start(self, name: str) -> object: ...
    def stop(self, name: str) -> object: ...
    def restart(self, name: str) -> object: ...
    def remove(self, name: str, *, force: bool = False) -> object: ...
    def prune(self) -> object: ...


class ImageService(Protocol):
    """What the sidebar calls on ``engine.images``; ``pull`` yields progress records as it goes."""

    def list(self) -> Sequence[object]: ...
    def pull(self, ref: str) -> Iterable[object]: ...
    def remove(self, ref: str, *, force: bool = False) -> object: ...
    def prune(self) -> object: ...


class EventSource(Protocol):
    """``engine.system.events``: blocks, yielding each :class:`Event` as it happens, for ever."""

    def __call__(self, *, since: int | None = None, filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[
        Event
    ]: ...


def _service(engine: object, noun: str) -> object:
    svc = getattr(engine, noun, None)
    if svc is None:
        raise NotSupported(f"this dockernb engine has no {noun[:-1]} service yet")
    return svc


def containers(engine: object) -> ContainerService:
    """``engine.containers``, or NotSupported saying the engine has none yet."""
    return cast(ContainerService, _service(engine, "containers"))


def images(engine: object) -> ImageService:
    """``engine.images``, or NotSupported saying the engine has none yet."""
    return cast(ImageService, _service(engine, "images"))


def events_source(engine: object) -> EventSource | None:
    """The engine's event feed (``engine.system.events``), or None while the engine has none."""
    system = getattr(engine, "system", None)
    events = getattr(system, "events", None)
    return cast(EventSource, events) if callable(events) else None
