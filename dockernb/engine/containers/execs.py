"""``docker exec``: another process in a running container (layer L6).

The process is made by the runtime (``runtime.exec_process``: the container's namespaces,
cgroups, capabilities and seccomp filter) as a child of the caller, which reads its output and
reaps it (:class:`ExecProcess`). ``-d`` hands it to nobody: a short-lived helper out of the
caller's session starts it and exits, so the process outlives the caller like docker's.
Errors keep docker's words: ``Container x is paused, unpause the container before exec``,
``Container <id> is not running``, and the runtime's ``OCI runtime exec failed: ...`` (exit 126).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockernb import errors
from dockernb.errors import ContainerStartFailed, ContainerStateConflict, DockernbError
from dockernb.spec.status import ContainerStatus, conflict_message

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["ExecProcess", "exec_start"]


@dataclass(slots=True)
class ExecProcess:
    """A started exec: its pid and the caller's ends of its stdio (a pty master with ``tty``)."""

    pid: int
    pty_master: int | None = None
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    #: called with the exit code once reaped (the ``exec_die`` event)
    on_exit: Callable[[int], None] | None = None

    def wait(self) -> int:
        """Reap it: its exit code (128+N when killed by signal N)."""
        from dockernb.runtime.create import reap

        code = reap(self.pid)
        code = 255 if code is None else code
        if self.on_exit is not None:
            self.on_exit(code)
            self.on_exit = None
        return code

    def close(self) -> None:
        for name in ("pty_master", "stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)


def _check_running(svc: ContainerService, container_id: str, ref: str) -> None:
    state = svc.current_state(container_id)
    if state.status is not ContainerStatus.RUNNING:
        raise ContainerStateConflict(conflict_message("exec", state.status, container_id, ref))


def exec_start(
    svc: ContainerService,
    container_id: str,
    cmd: Sequence[str],
    *,
    ref: str = "",
    env: Sequence[str] = (),
    workdir: str | None = None,
    user: str | None = None,
    tty: bool = False,
    stdin: bool = False,
    privileged: bool = False,
    console_size: tuple[int, int] | None = None,
    detach: bool = False,
) -> ExecProcess | None:
    """Start ``cmd`` in the running container; None with ``detach`` (nobody waits for it)."""
    from dockernb.engine.containers.start import runtime_dir

    _check_running(svc, container_id, ref or container_id)
    state_dir = runtime_dir(svc, container_id)
    exec_id = secrets.token_hex(32)
    command = " ".join(cmd)
    svc.record_event(container_id, f"exec_create: {command}", execID=exec_id)
    svc.record_event(container_id, f"exec_start: {command}", execID=exec_id)

    def died(code: int) -> None:
        svc.record_event(container_id, "exec_die", execID=exec_id, exitCode=str(code))

    saved = os.umask(0o022)  # docker's umask for the process, whatever the caller's (inherited at the clone)
    try:
        return _exec(state_dir, cmd, env=env, workdir=workdir, user=user, tty=tty, stdin=stdin,
                     privileged=privileged, console_size=console_size, detach=detach, on_exit=died)
    finally:
        os.umask(saved)


def _exec(state_dir: Path, cmd: Sequence[str], *, env: Sequence[str], workdir: str | None, user: str | None,
          tty: bool, stdin: bool, privileged: bool, console_size: tuple[int, int] | None,
          detach: bool, on_exit: Callable[[int], None]) -> ExecProcess | None:
    from dockernb import runtime as rt

    if detach:
        _exec_detached(state_dir, cmd, env=env, cwd=workdir, user=user, privileged=privileged)
        return None
    if tty:
        ex = rt.exec_process(state_dir, cmd, env=env, cwd=workdir, user=user, tty=True, console_size=console_size,
                             privileged=privileged)
        return ExecProcess(ex.pid, pty_master=ex.pty_master, on_exit=on_exit)
    mine: list[int] = []
    theirs: list[int] = []
    try:
        in_r = in_w = None
        if stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            mine.append(in_w)
            theirs.append(in_r)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        mine += [out_r, err_r]
        theirs += [out_w, err_w]
        ex = rt.exec_process(state_dir, cmd, env=env, cwd=workdir, user=user, privileged=privileged,
                             stdio=rt.Stdio(in_r, out_w, err_w))
    except BaseException:
        for fd in mine:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return ExecProcess(ex.pid, stdin=in_w, stdout=out_r, stderr=err_r, on_exit=on_exit)


def _exec_detached(state_dir: object, cmd: Sequence[str], **kw: object) -> None:
    """Start the exec from a helper that leaves our session and exits at once (the exec is orphaned
    to the host's init, as docker's detached execs belong to no client)."""
    from dockernb import runtime as rt

    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(report_r)
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            rt.exec_process(state_dir, cmd, stdio=rt.Stdio(null, null, null), **kw)  # type: ignore[arg-type]
            os.write(report_w, b"{}")
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            name = type(err).__name__ if isinstance(err, DockernbError) else "ContainerStartFailed"
            with contextlib.suppress(OSError):
                os.write(report_w, json.dumps({"error": name, "message": str(err)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(report_w)
    try:
        data = b""
        while chunk := os.read(report_r, 65536):
            data += chunk
    finally:
        os.close(report_r)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    msg = json.loads(data or b'{"error": "ContainerStartFailed", "message": "exec helper died"}')
    if "error" in msg:
        cls = getattr(errors, str(msg["error"]), ContainerStartFailed)
        if not (isinstance(cls, type) and issubclass(cls, DockernbError)):
            cls = ContainerStartFailed
        error = cls.__new__(cls)
        DockernbError.__init__(error, str(msg.get("message", "")))
        raise error
