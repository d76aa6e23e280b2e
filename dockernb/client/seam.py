"""The engine seam of the Python front ends: what the models, magics, widgets and kernel call (layer L7.5).

Everything above this layer (``dockernb.client``'s models, ``dockernb.notebook``,
``dockernb.kernel``) reaches the engine through an object with this shape and nothing else:
the in-process :class:`dockernb.engine.Engine` has it, and a remote Engine API backend (a later
issue) provides the same services over HTTP, so the front ends never change. Each role is a
small Protocol in containerd's manner; a front end asks for the role it needs.

- :class:`ImagesAPI`: docker's image verbs (``engine.images``).
- :class:`BuildsAPI`: ``docker build`` as a stream of :mod:`dockernb.spec.events` records.
- :class:`ContainersAPI`: docker's container verbs (``engine.containers``), as far as the
  models and widgets call them directly; ``run``/``create``/``exec`` go through the shared verb
  runners (``dockernb.present.dispatch``) with the same flags as the CLI.
- :class:`AttachStream`: one attached connection to a container's terminal or streams.
- :class:`EngineAPI`: the services together, plus ``system``. The shared verb runners
  (``present.commands``) get it as ``Context.engine``.

Errors are :mod:`dockernb.errors` classes whatever the backend (a remote backend maps the
API's status and message back onto them).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from dockernb.engine.image_types import DeleteItem, HistoryItem, Image
from dockernb.engine.system import SystemInfo, VersionInfo
from dockernb.spec.container import ContainerSummary
from dockernb.spec.events import BuildEvent, ProgressMessage
from dockernb.spec.logline import LogLine

__all__ = [
    "AttachStream",
    "BuildsAPI",
    "ContainersAPI",
    "EngineAPI",
    "ImagesAPI",
    "SystemAPI",
]


class SystemAPI(Protocol):
    def version(self) -> VersionInfo: ...

    def info(self) -> SystemInfo: ...


class ImagesAPI(Protocol):
    """Like docker-py's ``client.api`` image calls; records are :class:`~dockernb.engine.image_types.Image`."""

    def list(  # noqa: A003
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> builtins.list[Image]: ...

    def get(self, ref: str) -> Image: ...

    def pull(self, ref: str, *, platform: str = "", all_tags: bool = False) -> Iterator[ProgressMessage]: ...

    def remove(self, ref: str, *, force: bool = False, prune: bool = True) -> builtins.list[DeleteItem]: ...

    def tag(self, source: str, target: str) -> None: ...

    def inspect(self, ref: str) -> dict[str, Any]: ...

    def history(self, ref: str) -> builtins.list[HistoryItem]: ...


class BuildsAPI(Protocol):
    def build(
        self,
        context: str | None = None,
        *,
        dockerfile_text: str | None = None,
        tags: Sequence[str] = (),
        build_args: Mapping[str, str | None] | None = None,
        target: str = "",
        no_cache: bool = False,
        pull: bool = False,
    ) -> Iterator[BuildEvent]: ...


class AttachStream(Protocol):
    """An attached connection (the monitor's ``AttachClient`` has this shape).

    :meth:`recv` gives output frames ``(1 stdout | 2 stderr, data)``, None at the end (then
    ``exit_code`` is the container's or exec's code, or None when the connection went away or we
    detached), and raises TimeoutError when ``timeout`` passes with nothing to read.
    """

    exit_code: int | None

    def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def recv(self, timeout: float | None = None) -> tuple[int, bytes] | None: ...

    def close(self) -> None: ...


class ContainersAPI(Protocol):
    """The container verbs the front ends call directly (``ref``: a name, an id or an id prefix)."""

    def list(  # noqa: A003
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> Sequence[ContainerSummary]: ...

    def get(self, ref: str) -> ContainerSummary: ...

    def inspect(self, ref: str) -> dict[str, Any]: ...

    def start(self, ref: str) -> None: ...

    def stop(self, ref: str, *, timeout: int | None = None) -> None: ...

    def restart(self, ref: str, *, timeout: int | None = None) -> None: ...

    def kill(self, ref: str, *, signal: str = "KILL") -> None: ...

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None: ...

    def wait(self, ref: str) -> int: ...

    def logs(self, ref: str, *, follow: bool = False, tail: int = -1) -> Iterator[LogLine]: ...

    def attach(self, ref: str, *, stdin: bool = True) -> AttachStream: ...

    def exec_attach(self, ref: str, cmd: Sequence[str], *, tty: bool = True, user: str = "",
                    workdir: str = "", env: Sequence[str] = ()) -> AttachStream: ...  # fmt: skip


class EngineAPI(Protocol):
    """The whole seam: ``Engine`` satisfies it in process; a remote backend will over the Engine API."""

    @property
    def system(self) -> SystemAPI: ...

    @property
    def images(self) -> ImagesAPI: ...

    @property
    def builds(self) -> BuildsAPI: ...

    @property
    def containers(self) -> ContainersAPI: ...
