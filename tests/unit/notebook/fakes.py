"""In-memory stand-ins for the engine seam's container role (dockernb.client.seam), for widget unit tests.

Only our own seam is faked: the models, tables, terminal and interrupt escalation above it run
as they do against the real engine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dockernb.engine.containers.types import Container, ExecResult
from dockernb.errors import ContainerStateConflict, NoSuchContainer
from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary
from dockernb.spec.logline import LogLine
from dockernb.spec.status import ContainerState, ContainerStatus


class FakeStream:
    """An attached terminal whose 'container' echoes each line upper-cased; 'exit N' ends it with N."""

    def __init__(self) -> None:
        self.frames: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self.written = bytearray()
        self.exit_code: int | None = None
        self.closed = threading.Event()
        self.stdin_closed = False
        self._line = bytearray()

    def write(self, data: bytes) -> None:
        if self.closed.is_set():
            raise OSError("closed")
        self.written += data
        for b in data:
            if b in (0x0D, 0x0A):
                line = self._line.decode()
                self._line.clear()
                if line.startswith("exit "):
                    self.exit_code = int(line.split()[1])
                    self.frames.put(None)
                else:
                    self.frames.put(("stdout", line.encode() + b"\r\n" + line.upper().encode() + b"\r\n"))
            elif b == 0x04:
                self.exit_code = 0
                self.frames.put(("stdout", b"bye\r\n"))
                self.frames.put(None)
            else:
                self._line.append(b)

    def close_stdin(self) -> None:
        self.stdin_closed = True

    def resize(self, rows: int, cols: int) -> None:
        pass

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        if self.closed.is_set():
            raise OSError("closed")
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def close(self) -> None:
        self.closed.set()


class FakeContainers:
    """Containers as records in a dict; kill/stop change state as a container that honours ``stop_on`` would."""

    def __init__(self) -> None:
        self.items: dict[str, ContainerSummary] = {}
        self.calls: list[tuple[str, ...]] = []
        self.logs_of: dict[str, list[LogLine]] = {}
        self.stop_on = {"SIGINT", "SIGTERM", "SIGKILL", "KILL", "TERM", "INT"}
        self.streams: list[FakeStream] = []

    def add(self, name: str, status: ContainerStatus = ContainerStatus.RUNNING, image: str = "busybox") -> str:
        cid = f"{len(self.items) + 1:02d}" + "ab" * 31
        record = ContainerRecord(id=cid, name=name, created=datetime.now(UTC), config=ContainerConfig(image=image),
                                 path="sleep", args=("1000",))  # fmt: skip
        started = datetime.now(UTC) if status == ContainerStatus.RUNNING else None
        self.items[cid] = ContainerSummary(record=record, state=ContainerState(status=status, started_at=started))
        return cid

    def _find(self, ref: str) -> str:
        for cid, s in self.items.items():
            if ref in (cid, s.record.name) or cid.startswith(ref):
                return cid
        raise NoSuchContainer(ref)

    def _set(self, ref: str, status: ContainerStatus, code: int = 0) -> None:
        cid = self._find(ref)
        s = self.items[cid]
        state = replace(s.state, status=status, exit_code=code,
                        started_at=s.state.started_at or datetime.now(UTC),
                        finished_at=datetime.now(UTC) if status == ContainerStatus.EXITED else None)  # fmt: skip
        self.items[cid] = replace(s, state=state)

    def list(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None) -> list[ContainerSummary]:  # noqa: A002
        return [s for s in reversed(self.items.values()) if all or s.state.status == ContainerStatus.RUNNING]

    def get(self, ref: str) -> Container:
        s = self.items[self._find(ref)]
        return Container(record=s.record, state=s.state)

    def inspect(self, ref: str) -> dict[str, Any]:
        s = self.get(ref)
        return {"Id": s.record.id, "Name": "/" + s.record.name, "State": {"Status": str(s.state.status)}}

    def start(self, ref: str, *, attach: tuple[bool, bool, bool] | None = None,
              console_size: tuple[int, int] | None = None) -> FakeStream | None:  # fmt: skip
        self.calls.append(("start", ref))
        self._set(ref, ContainerStatus.RUNNING)
        return self.attach(ref) if attach else None

    def stop(self, ref: str, *, timeout: int | None = None) -> str:
        self.calls.append(("stop", ref))
        self._set(ref, ContainerStatus.EXITED, 137)
        return self._find(ref)

    def restart(self, ref: str, *, timeout: int | None = None) -> str:
        self.calls.append(("restart", ref))
        self._set(ref, ContainerStatus.RUNNING)
        return self._find(ref)

    def kill(self, ref: str, signal: str = "KILL") -> str:
        self.calls.append(("kill", ref, signal))
        if self.get(ref).state.status != ContainerStatus.RUNNING:
            raise ContainerStateConflict(f"Container {ref} is not running")
        if signal in self.stop_on:
            self._set(ref, ContainerStatus.EXITED, 130)
        return self._find(ref)

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        self.calls.append(("remove", ref))
        cid = self._find(ref)
        del self.items[cid]
        return cid

    def wait(self, ref: str, *, condition: str = "not-running") -> int:
        return self.get(ref).state.exit_code

    def logs(self, ref: str, *, tail: int = -1, since_ns: int = 0, until_ns: int = 0,
             follow: bool = False) -> Iterator[LogLine]:  # fmt: skip
        yield from self.logs_of.get(self._find(ref), [])

    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> FakeStream:
        self.streams.append(FakeStream())
        return self.streams[-1]

    def exec_run(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (), workdir: str | None = None,
                 user: str | None = None, privileged: bool = False) -> ExecResult:  # fmt: skip
        self.calls.append(("exec", ref, *cmd))
        return ExecResult(exit_code=0, output=" ".join(cmd).encode() + b"\n")


class FakeEngine:
    def __init__(self) -> None:
        self.containers = FakeContainers()
