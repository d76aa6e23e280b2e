"""A stand-in for the container and image services and the event feed, for the sidebar API's tests.

The engine has no container or image service yet; these fakes follow the interface the server
extension expects (``dockernb/jupyter/records.py``) so that the API's routing, error mapping,
streaming and live events are tested end to end through a real Jupyter server. Version, info
and builds come from the real engine. Loaded with
``--DockernbJupyter.engine_factory=tests.integration.jupyter_fake:make_engine``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from dockernb.engine import Engine
from dockernb.errors import ContainerStateConflict, NoSuchContainer, NoSuchImage, RegistryError
from dockernb.spec.events import Event


@dataclass(frozen=True)
class FakePort:
    container_port: int
    protocol: str = "tcp"
    host_ip: str = "0.0.0.0"
    host_port: int | None = None


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    state: str
    ports: tuple[FakePort, ...] = ()


@dataclass(frozen=True)
class FakeImage:
    id: str
    tags: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class FakePullProgress:
    layer: str
    current: int
    total: int
    status: str


class FakeEvents:
    def __init__(self) -> None:
        self.queue: queue.Queue[Event] = queue.Queue()
        self._last = 0

    def emit(self, type_: str, action: str, actor_id: str, **attributes: str) -> None:
        now = max(time.time_ns(), self._last + 1)  # unique and increasing, as the interface says
        self._last = now
        self.queue.put(Event(type=type_, action=action, actor_id=actor_id, time_nano=now, attributes=attributes))

    def __call__(self, *, since: int | None = None, filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[
        Event
    ]:
        while True:
            yield self.queue.get()


class FakeContainers:
    def __init__(self, events: FakeEvents) -> None:
        self._events = events
        self._all = {
            "web": FakeContainer("a" * 64, "web", "nginx:latest", "running", (FakePort(80, host_port=8080),)),
            "db": FakeContainer("b" * 64, "db", "busybox:latest", "exited"),
        }

    def _get(self, name: str) -> FakeContainer:
        if name not in self._all:
            raise NoSuchContainer(name)
        return self._all[name]

    def list(self, *, all: bool = False) -> list[FakeContainer]:  # noqa: A002
        return [c for c in self._all.values() if all or c.state == "running"]

    def _set(self, name: str, state: str, action: str) -> None:
        c = self._get(name)
        c.state = state
        self._events.emit("container", action, c.id, name=c.name, image=c.image)

    def start(self, name: str) -> None:
        self._set(name, "running", "start")

    def stop(self, name: str) -> None:
        self._set(name, "exited", "die")

    def restart(self, name: str) -> None:
        self._set(name, "running", "restart")

    def remove(self, name: str, *, force: bool = False) -> None:
        c = self._get(name)
        if c.state == "running" and not force:
            raise ContainerStateConflict(
                f"You cannot remove a running container {c.id}. Stop the container before attempting removal "
                "or force remove"
            )
        del self._all[name]
        self._events.emit("container", "destroy", c.id, name=c.name, image=c.image)

    def prune(self) -> dict[str, list[str]]:
        gone = [c.id for c in self._all.values() if c.state != "running"]
        self._all = {n: c for n, c in self._all.items() if c.state == "running"}
        return {"containers_deleted": gone}


class FakeImages:
    def __init__(self, events: FakeEvents) -> None:
        self._events = events
        self._all = {"busybox:latest": FakeImage("sha256:" + "c" * 64, ("busybox:latest",), 4_300_000)}

    def list(self) -> list[FakeImage]:
        return list(self._all.values())

    def pull(self, ref: str) -> Iterator[FakePullProgress]:
        yield FakePullProgress("d" * 12, 0, 100, "Pulling fs layer")
        if ref.startswith("broken"):
            raise RegistryError(f"manifest for {ref} is corrupt")
        yield FakePullProgress("d" * 12, 100, 100, "Pull complete")
        self._all[ref] = FakeImage("sha256:" + "e" * 64, (ref,), 1000)
        self._events.emit("image", "pull", ref, name=ref)

    def remove(self, ref: str, *, force: bool = False) -> list[str]:
        if ref not in self._all:
            raise NoSuchImage(ref)
        img = self._all.pop(ref)
        self._events.emit("image", "delete", img.id, name=ref)
        return [img.id]

    def prune(self) -> dict[str, list[str]]:
        return {"images_deleted": []}


@dataclass
class FakeSystem:
    real: object
    events: FakeEvents = field(default_factory=FakeEvents)

    def version(self) -> object:
        return self.real.version()  # type: ignore[attr-defined]

    def info(self) -> object:
        return self.real.info()  # type: ignore[attr-defined]


class FakeEngine:
    def __init__(self) -> None:
        real = Engine.from_env()
        self.system = FakeSystem(real.system)
        self.builds = real.builds
        self.containers = FakeContainers(self.system.events)
        self.images = FakeImages(self.system.events)

    def close(self) -> None:
        pass


def make_engine() -> FakeEngine:
    return FakeEngine()


def _authorizer_base() -> type:
    from jupyter_server.auth.authorizer import Authorizer

    return Authorizer


class ReadOnlyOnRequest(_authorizer_base()):  # type: ignore[misc]
    """Refuses writes to the dockernb resource for requests that carry X-Test-Read-Only (like a hub scope)."""

    def is_authorized(self, handler: object, user: object, action: str, resource: str) -> bool:
        headers = handler.request.headers  # type: ignore[attr-defined]
        return not (resource == "dockernb" and action == "write" and headers.get("X-Test-Read-Only"))
