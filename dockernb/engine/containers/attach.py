"""``docker attach`` and the attached half of ``run``/``start -a`` (layer L6).

An :class:`Attachment` is one connection to a running container's monitor: output frames
(``("stdout"|"stderr", bytes)``), input, window resizes, and the exit code once the container
exits (None when the connection ended otherwise: a detach, the monitor gone). Detaching is the
client's business, as in docker: :func:`parse_detach_keys` and :class:`DetachScanner` find the
sequence (default Ctrl-P Ctrl-Q) in what the user types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from dockernb.errors import ContainerStateConflict
from dockernb.monitor.attach import DEFAULT_DETACH_KEYS, STDERR, AttachClient, DetachScanner, parse_detach_keys
from dockernb.spec.status import ContainerStatus

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["DEFAULT_DETACH_KEYS", "Attachment", "DetachScanner", "connect", "parse_detach_keys"]


class Attachment:
    """An attach connection; iterate :meth:`frames`, then read :attr:`exit_code`."""

    def __init__(self, client: AttachClient, container_id: str, *, tty: bool = False,
                 on_exit: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.container_id = container_id
        self.tty = tty
        #: called once the stream ended with the container's exit (the engine records it, with its ``die``
        #: event, before the caller goes on: docker's attached run returns after its daemon logged the die)
        self.on_exit = on_exit

    def _ended(self) -> None:
        if self.on_exit is not None and self.client.exit_code is not None:
            on_exit, self.on_exit = self.on_exit, None
            on_exit(self.container_id)

    @property
    def exit_code(self) -> int | None:
        return self.client.exit_code

    def fileno(self) -> int:
        return self.client.fileno()

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        """The next output frame, or None at the end."""
        frame = self.client.recv(timeout)
        if frame is None:
            self._ended()
            return None
        kind, data = frame
        return ("stderr" if kind == STDERR else "stdout"), data

    def read_available(self) -> list[tuple[str, bytes]] | None:
        """The frames available now without blocking; None once the stream ended."""
        frames = self.client.read_available()
        if frames is None:
            self._ended()
            return None
        return [(("stderr" if kind == STDERR else "stdout"), data) for kind, data in frames]

    def frames(self, timeout: float | None = None) -> Iterator[tuple[str, bytes]]:
        while (frame := self.recv(timeout)) is not None:
            yield frame

    def write(self, data: bytes) -> None:
        self.client.write(data)

    def close_stdin(self) -> None:
        self.client.close_stdin()

    def resize(self, rows: int, cols: int) -> None:
        self.client.resize(rows, cols)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(svc: ContainerService, container_id: str, *, stdin: bool, stdout: bool, stderr: bool) -> Attachment:
    state = svc.current_state(container_id)
    if state.status is ContainerStatus.PAUSED:
        raise ContainerStateConflict("You cannot attach to a paused container, unpause it first")
    if state.status is not ContainerStatus.RUNNING:
        raise ContainerStateConflict("You cannot attach to a stopped container, start it first")
    record = svc.store.record(container_id)
    try:
        client = AttachClient.connect(svc.store.paths(container_id), stdin=stdin, stdout=stdout, stderr=stderr)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ContainerStateConflict("You cannot attach to a stopped container, start it first") from None
    return Attachment(client, container_id, tty=record.config.tty, on_exit=svc.record_exit)
