"""What the container service returns: created containers, runs, execs (layer L6, plain data).

Front ends render these; the Engine API's JSON is built from records in ``engine/inspect.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockernb.spec.container import ContainerRecord
from dockernb.spec.ports import PortBinding
from dockernb.spec.status import ContainerState

__all__ = ["Container", "ContainerPrune", "CreateResult", "ExecResult", "RunResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateResult:
    """``docker create``'s answer: the new id and the daemon's warnings."""

    id: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """One container as it is now, like docker-py's ``Container``: its record, its state, its ports."""

    record: ContainerRecord
    state: ContainerState
    ports: tuple[PortBinding, ...] = ()

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def short_id(self) -> str:
        return self.record.id[:12]

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def status(self) -> str:
        return str(self.state.status)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """``run`` from the Python API: the container, its exit code (None when detached) and its output."""

    id: str
    name: str
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecResult:
    """``exec_run``: the exit code and the output (stdout and stderr, in order, without a tty split)."""

    exit_code: int
    output: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPrune:
    """``container prune``: the ids removed and the bytes their writable layers held."""

    deleted: tuple[str, ...] = ()
    space_reclaimed: int = 0
