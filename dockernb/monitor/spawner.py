"""The seam between the monitor and whatever makes the container's init process (layer L4).

A :class:`Spawner` is called *inside the monitor process* (after it has left the caller's
session and become a subreaper), in two steps, like runc's create and start:

1. ``create(stdio)``: make the init (namespaces, rootfs, ...) blocked before it execs the
   user's program, with the given stdio (pipe ends, or a new pty whose master comes back in
   ``Task.pty_master``); return its host pid. The init must be a child of the caller, or
   become one when an intermediate process exits (the caller is a subreaper).
2. ``start(task)``: let it exec. Failures to exec raise ``CommandNotFound`` (127) or
   ``CommandNotExecutable`` (126) with docker's message; the init has then exited.

``abort(task)`` kills a created init that will not be started and cleans up after it.

The monitor closes every file descriptor it inherited from its caller before ``create``
(a lock the engine holds must not live on in a container), so a spawner opens what it needs
in ``create``, not before. An init must never exec if its monitor dies before ``start``.

The real implementation (integration phase) wraps ``dockernb.runtime``; the tests use
:class:`dockernb.testing.spawners.PlainSpawner`, an ordinary forked process. A spawner must
be rebuildable in a fresh process for restarts: ``SpawnSpec`` names a factory
(``"module:callable"``) and its JSON arguments, stored in the container's ``spawn.json``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["SpawnSpec", "Spawner", "Stdio", "Task", "load_spawner"]


@dataclass(frozen=True, slots=True)
class Stdio:
    """The container's ends of its stdio, made by the monitor.

    Without a tty: ``stdout``/``stderr`` are pipe write ends, ``stdin`` a pipe read end (or None:
    the init gets /dev/null). With a tty all three are None and the spawner makes the pty.
    """

    tty: bool
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    #: with a tty: the initial window size (rows, cols), or None
    size: tuple[int, int] | None = None
    #: with a tty: whether the container reads stdin (-i); the spawner may ignore it
    open_stdin: bool = False


@dataclass(frozen=True, slots=True)
class Task:
    """A created init: its host pid, and the pty master when the container has a tty."""

    pid: int
    pty_master: int | None = None
    #: a file whose "oom_kill N" line counts OOM kills in the container's cgroup ("" if none)
    oom_file: str = ""


class Spawner(Protocol):
    def create(self, stdio: Stdio) -> Task:
        """Make the init, blocked before exec; return it. Raises ContainerStartFailed subclasses."""
        ...

    def start(self, task: Task) -> None:
        """Let the init exec the user's program. Raises CommandNotFound/CommandNotExecutable."""
        ...

    def abort(self, task: Task) -> None:
        """Kill an init that was created but will not be started, and clean up after it."""
        ...


@dataclass(frozen=True, slots=True)
class SpawnSpec:
    """How to rebuild a container's spawner in another process: a factory and its arguments."""

    factory: str  # "package.module:callable"
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"factory": self.factory, "args": dict(self.args)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpawnSpec:
        return cls(factory=str(data["factory"]), args=dict(data.get("args", {})))


def load_spawner(spec: SpawnSpec) -> Spawner:
    """Import the factory and call it with the spec's arguments."""
    module, _, name = spec.factory.partition(":")
    factory = getattr(importlib.import_module(module), name)
    spawner: Spawner = factory(**spec.args)
    return spawner
