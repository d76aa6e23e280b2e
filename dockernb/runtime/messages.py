"""The message enum the runtime's processes exchange, and the channel that carries it (L4).

Processes (youki's stages): the *parent* (whoever calls :func:`dockernb.runtime.create`), a
short-lived *helper* forked from it (joins namespaces given by path, then clones the init with
CLONE_PARENT so the init is the parent's child), and the *init* (PID 1 of the container, ends in
execve). Create-time messages travel over a SOCK_SEQPACKET socketpair; ``start`` reaches the
blocked init through ``init.sock`` in the state directory, from any process.

    helper -> parent   INIT_PID {pid}            the init exists (clone returned)
    parent -> init     GO                        id maps written, cgroups joined: build the container
    init   -> parent   PTY + fd                  the pty master (terminal containers)
    init   -> parent   CREATED                   blocked before execve, waiting for START
    any    -> parent   ERROR {kind, message}     this stage failed; the container is not usable
    starter -> init    START                     execve now
    init   -> starter  EXEC_FAILED {kind, message}   execve failed (success closes the socket: CLOEXEC)
"""

from __future__ import annotations

import array  # noqa: F401 - socket.send_fds/recv_fds import it lazily, after a clone that is too late
import json
import os
import socket
from enum import IntEnum
from typing import Any

__all__ = ["Channel", "Msg"]

_MAX = 65536


class Msg(IntEnum):
    INIT_PID = 1
    GO = 2
    PTY = 3
    CREATED = 4
    ERROR = 5
    START = 6
    EXEC_FAILED = 7
    READY = 8  # exec: the process is set up and about to execve


class Channel:
    """Typed messages (a byte of kind, then JSON) with optional fds, over one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, kind: Msg, payload: dict[str, Any] | None = None, fds: list[int] | None = None) -> None:
        data = bytes([kind]) + json.dumps(payload or {}).encode()
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.send(data)

    def recv(self) -> tuple[Msg | None, dict[str, Any], list[int]]:
        """The next message; ``(None, {}, [])`` at EOF (the peer exited or exec'd)."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, _MAX, 4)
        if not data:
            for fd in fds:
                os.close(fd)
            return None, {}, []
        payload = json.loads(data[1:]) if len(data) > 1 else {}
        return Msg(data[0]), payload, list(fds)

    def close(self) -> None:
        self.sock.close()
