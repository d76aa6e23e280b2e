"""The engine seam of the Python front ends: what the models, magics, widgets and kernel call (layer L7.5).

Everything above this layer (``dockernb.client``'s models, ``dockernb.notebook``,
``dockernb.kernel``) reaches the engine through an object of the shape :class:`EngineAPI`
describes and nothing else. The in-process :class:`dockernb.engine.Engine` has it (mypy checks
that: ``dockernb.client._conforms``); the remote Engine API backend of ``%dockernb connect``
(issue 10) provides the same services over HTTP, and the front ends do not change.

The roles, each a Protocol with the engine's own method names and signatures:

- :class:`SystemAPI` (``engine.system``): ``version()``, ``info()``.
- :class:`ImagesAPI` (``engine.images``): list/get/pull/remove/tag/inspect/history; pull yields
  :class:`~dockernb.spec.events.ProgressMessage` records (the pull widget draws them).
- :class:`BuildsAPI` (``engine.builds``): ``build(...)`` yields :mod:`dockernb.spec.events` records.
- :class:`ContainersAPI` (``engine.containers``): the verbs the models, widgets and terminals
  call: ``list`` (ps rows: :class:`~dockernb.spec.container.ContainerSummary`), ``get`` (a
  :class:`~dockernb.engine.containers.types.Container`: record, state, ports), ``inspect``,
  ``start``/``stop``/``restart``/``kill``/``remove``/``wait``, ``logs`` (LogLine iterator,
  ``follow`` until the container stops), ``attach`` and ``start(attach=...)`` (an
  :class:`AttachStream`), ``exec_run`` (docker-py's exec: exit code + output) and ``exec_start``
  (an exec with a pty: an :class:`ExecHandle`, see :mod:`dockernb.client.streams`).
- :class:`AttachStream`: one connection to a container's stdio, frames ``("stdout"|"stderr",
  bytes)``; ``close()`` without ``close_stdin()`` detaches (the container keeps running).

What a backend must also give: ``run``/``create`` (and every other verb typed in a magic or in
the Docker kernel) go through the shared verb runners (``dockernb.present.commands``), which take
the engine as ``Context.engine`` and use the whole service surface (``containers.create``,
``containers.resolve``, ``containers.store.record``, ``containers.current_state``,
``images.pull``...). A remote backend therefore either serves those names too or replaces the
runners' context (``dockernb.client.commands.context_for``) with one of its own; the models,
widgets and terminals call only what the Protocols below list.

Errors are :mod:`dockernb.errors` classes whatever the backend (a remote backend maps the
API's status and message back onto them).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from dockernb.engine.containers.types import Container, ExecResult
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
    "ExecHandle",
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
    """An attached connection (``engine.containers.Attachment`` in process).

    :meth:`recv` gives output frames ``("stdout" | "stderr", data)``, None at the end (then
    ``exit_code`` is the container's code, or None when the connection went away or we
    detached), and raises TimeoutError when ``timeout`` passes with nothing to read.
    """

    @property
    def exit_code(self) -> int | None: ...

    def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None: ...

    def close(self) -> None: ...


class ExecHandle(Protocol):
    """A started exec (``engine.containers.execs.ExecProcess`` in process): our ends of its stdio as
    file descriptors (``pty_master`` with a tty), ``wait()`` for its exit code, ``close()`` our ends."""

    pid: int
    pty_master: int | None
    stdin: int | None
    stdout: int | None
    stderr: int | None

    def wait(self) -> int: ...

    def close(self) -> None: ...


class ContainersAPI(Protocol):
    """The container verbs the models, widgets and terminals call (``ref``: a name, an id or an id prefix)."""

    def list(  # noqa: A003
        self,
        *,
        all: bool = False,  # noqa: A002
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = -1,
        latest: bool = False,
        size: bool = False,
    ) -> builtins.list[ContainerSummary]: ...

    def get(self, ref: str) -> Container: ...

    def inspect(self, ref: str) -> dict[str, Any]: ...

    def start(self, ref: str, *, attach: tuple[bool, bool, bool] | None = None,
              console_size: tuple[int, int] | None = None) -> AttachStream | None: ...  # fmt: skip

    def stop(self, ref: str, *, timeout: int | None = None) -> str: ...

    def restart(self, ref: str, *, timeout: int | None = None) -> str: ...

    def kill(self, ref: str, signal: str = "KILL") -> str: ...

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str: ...

    def wait(self, ref: str, *, condition: str = "not-running") -> int: ...

    def logs(self, ref: str, *, tail: int = -1, since_ns: int = 0, until_ns: int = 0,
             follow: bool = False) -> Iterator[LogLine]: ...  # fmt: skip

    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> AttachStream: ...

    def exec_run(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (), workdir: str | None = None,
                 user: str | None = None, privileged: bool = False) -> ExecResult: ...  # fmt: skip

    def exec_start(
        self,
        ref: str,
        cmd: Sequence[str],
        *,
        env: Sequence[str] = (),
        workdir: str | None = None,
        user: str | None = None,
        tty: bool = False,
        stdin: bool = False,
        privileged: bool = False,
        console_size: tuple[int, int] | None = None,
        detach: bool = False,
    ) -> ExecHandle | None: ...

    def finish_auto_remove(self, container_id: str) -> None: ...


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
