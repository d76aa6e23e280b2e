"""Starting a container under its own monitor process, which outlives the caller (layer L4).

The engine calls :meth:`Launcher.launch`; the monitor comes to life in steps::

    engine ──fork──> A ──setsid, fork──> M        (A exits at once: M is nobody's child,
                                                    so it never becomes the engine's zombie)
    M: subreaper, stdio on /dev/null, binds attach.sock, makes the pipes
    M: spawner.create(stdio) ──> the init, blocked before exec
    M ──{"pid": P}──> engine        engine: network, cgroups ... (PendingStart.pid)
    engine ──{"go"}──> M            (PendingStart.start; or {"abort"}: M kills the init)
    M: spawner.start(task)          (a failed exec comes back as {"error": ...})
    M: execve(dockernb-monitor)     the C supervisor, same pid: logs, attach, reaping
    supervisor ──{"ready"}──> engine

M leaves the caller's session and process group first thing (setsid), so Jupyter's SIGINT
on interrupt and SIGKILL of the kernel's group on restart never reach it or the container.
Only the socket pair links it to the engine, and only until the supervisor is ready.

The same steps run in place (no fork, no engine) when the post-exit handler restarts a
container: :func:`monitor_in_place`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from dockernb import errors
from dockernb.errors import DockernbError, InternalError
from dockernb.linux.process import set_child_subreaper, start_time
from dockernb.logs.options import LogSettings
from dockernb.monitor.build import supervisor_binary
from dockernb.monitor.spawner import Spawner, Stdio, Task
from dockernb.store.atomic import write_json
from dockernb.store.containers import ContainerPaths

__all__ = ["Launcher", "MonitorOptions", "PendingStart", "Started", "monitor_in_place", "post_exit_argv"]

_TIMEOUT = 120.0  # seconds the engine waits for a step of the monitor (create may unpack, mount...)


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorOptions:
    """What the monitor needs to know about the container's stdio and log."""

    tty: bool = False
    open_stdin: bool = False  # -i: the container keeps a stdin pipe that attach can write to
    stdin_once: bool = False  # close that stdin when the (first) attached client closes it
    console_size: tuple[int, int] | None = None
    log: LogSettings = field(default_factory=LogSettings)
    generation: int = 1
    #: argv exec'd by the supervisor once the run is over (the post-exit handler), or ()
    post_exit: tuple[str, ...] = ()
    #: how long output may still be drained after the init exited, in ms (docker: 2 s)
    drain_ms: int = 2000


@dataclass(frozen=True, slots=True)
class Started:
    """A running container's monitor: its pid and start time (see dockernb.linux.process.alive)."""

    pid: int
    pid_start: int
    monitor_pid: int
    monitor_start: int


def post_exit_argv(root: Path, container_id: str, hooks: str = "") -> tuple[str, ...]:
    """The command the supervisor execs after the run (``python -m dockernb.monitor post-exit ...``)."""
    argv = [sys.executable, "-m", "dockernb.monitor", "post-exit", str(root), container_id]
    if hooks:
        argv += ["--hooks", hooks]
    return tuple(argv)


# --- the wire between engine and monitor: one JSON object per line ------------------------


def _send(sock: socket.socket, **msg: Any) -> None:  # noqa: ANN401
    # MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE that kills the monitor
    sock.sendall(json.dumps(msg).encode() + b"\n", socket.MSG_NOSIGNAL)


class _Lines:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise InternalError("the container's monitor did not answer in time") from None
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        data = json.loads(line)
        if not isinstance(data, dict):
            raise InternalError(f"unexpected message from the monitor: {line!r}")
        return data


def _error_from(msg: dict[str, Any]) -> DockernbError:
    """Rebuild the DockernbError the monitor reported (same class, same message)."""
    cls = getattr(errors, str(msg.get("error", "")), None)
    text = str(msg.get("message", "the container's monitor failed"))
    if isinstance(cls, type) and issubclass(cls, DockernbError):
        err = cls.__new__(cls)
        DockernbError.__init__(err, text)
        return err
    return errors.ContainerStartFailed(text)


def _report(sock: socket.socket | None, err: BaseException) -> None:
    if sock is None:
        return
    name = type(err).__name__ if isinstance(err, DockernbError) else "ContainerStartFailed"
    text = str(err) if isinstance(err, DockernbError) else f"monitor: {type(err).__name__}: {err}"
    with contextlib.suppress(OSError):
        _send(sock, error=name, message=text)


# --- the monitor's side ----------------------------------------------------------------------


class _Monitor:
    """What runs in M: prepare the process, create and start the init, become the supervisor."""

    def __init__(self, paths: ContainerPaths, spawner: Spawner, options: MonitorOptions) -> None:
        self.paths = paths
        self.spawner = spawner
        self.options = options
        self.task: Task | None = None
        self.listener: socket.socket | None = None
        self.fds: dict[str, int] = {}

    def prepare(self, *, detach: bool) -> None:
        if detach:
            os.setsid()
        set_child_subreaper()
        # the init inherits dispositions and the mask: give it what a fresh process has
        # (Python ignores SIGPIPE and SIGXFSZ; the caller's thread may block signals)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        null = os.open(os.devnull, os.O_RDWR)
        log = os.open(self.paths.dir / "monitor.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(self.paths.dir)
        os.umask(0o077)  # the attach socket is born private (this process is single-threaded)
        # relative names: a unix socket path is limited to 108 bytes, a state root is not
        for stale in ("attach.sock", "exit.json"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("attach.sock")
        os.chmod("attach.sock", 0o600)
        listener.listen(64)
        self.listener = listener

    def create(self) -> Task:
        opts = self.options
        if opts.tty:
            stdio = Stdio(tty=True, size=opts.console_size, open_stdin=opts.open_stdin)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            self.fds.update(stdout=out_r, stderr=err_r)
            in_r = None
            if opts.open_stdin:
                in_r, in_w = os.pipe()
                self.fds["stdin"] = in_w
            stdio = Stdio(tty=False, stdin=in_r, stdout=out_w, stderr=err_w, open_stdin=opts.open_stdin)
        self.task = self.spawner.create(stdio)
        for fd in (stdio.stdin, stdio.stdout, stdio.stderr):  # the container's ends are its own now
            if fd is not None:
                os.close(fd)
        if self.task.pty_master is not None:
            self.fds["pty"] = self.task.pty_master
            if opts.open_stdin:
                self.fds["stdin"] = self.task.pty_master
        me = os.getpid()
        info = {"pid": me, "start": start_time(me), "generation": opts.generation, "init": self.task.pid}
        write_json(self.paths.monitor(opts.generation), info, sync=False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.monitor(opts.generation - 1))
        return self.task

    def start(self) -> None:
        assert self.task is not None
        self.spawner.start(self.task)

    def abort(self) -> None:
        if self.task is not None:
            self.spawner.abort(self.task)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("attach.sock")

    def failed_start(self) -> None:
        """The init could not exec: it exited (or will); reap it and leave nothing behind."""
        assert self.task is not None
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.task.pid, 0)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("attach.sock")

    def config(self, ready: int | None) -> str:
        assert self.task is not None and self.listener is not None
        opts = self.options
        lines = {
            "id": self.paths.id,
            "dir": str(self.paths.dir),
            "pid": str(self.task.pid),
            "generation": str(opts.generation),
            "attach": str(self.listener.fileno()),
            "log_driver": opts.log.driver,
            "log_path": self.paths.log.name,
            "log_max_size": str(opts.log.max_size),
            "log_max_file": str(opts.log.max_file),
            "log_attrs": opts.log.attrs_json,
            "oom_file": self.task.oom_file,
            "stdin_once": "1" if opts.stdin_once else "0",
            "drain_ms": str(opts.drain_ms),
            **{k: str(v) for k, v in self.fds.items()},
        }
        if ready is not None:
            lines["ready"] = str(ready)
        for key, value in lines.items():
            if "\n" in value:
                raise InternalError(f"monitor setting {key} holds a newline")
        text = "".join(f"{k}={v}\n" for k, v in lines.items())
        for arg in opts.post_exit:
            if "\n" in arg:
                raise InternalError("the post-exit command holds a newline")
            text += f"exit_exec={arg}\n"
        return text

    def become_supervisor(self, ready: int | None) -> NoReturn:
        """Exec the C supervisor (or run the Python one): the same pid carries on."""
        assert self.listener is not None
        keep = [self.listener.fileno(), *self.fds.values()]
        if ready is not None:
            keep.append(ready)
        for fd in keep:
            os.set_inheritable(fd, True)
        _close_all_but(keep)  # whatever the caller had open (a kernel's sockets...) stays with it
        config = self.config(ready)
        binary = supervisor_binary()
        if binary is not None:
            env = dict(os.environ, DOCKERNB_MONITOR=config)
            os.execve(binary, ["dockernb-monitor", self.paths.id[:12]], env)
        from dockernb.monitor import pysupervisor  # no C compiler here: the Python twin

        os.environ["DOCKERNB_MONITOR"] = config
        os._exit(pysupervisor.main())


def _monitor_main(paths: ContainerPaths, spawner: Spawner, options: MonitorOptions, sock: socket.socket) -> NoReturn:
    """M's whole life until the exec; never returns into the caller's code."""
    code = 125
    mon = _Monitor(paths, spawner, options)
    try:
        # nothing of the caller's stays open here: a lock it holds must not outlive it in us
        # (flock belongs to the open file), nor its terminal or its kernel's sockets
        _close_all_but([sock.fileno()])
        mon.prepare(detach=False)  # A already called setsid
        task = mon.create()
        _send(sock, pid=task.pid, pid_start=start_time(task.pid), monitor=os.getpid())
        msg = _Lines(sock).read(None)
        if not msg or not msg.get("go"):
            mon.abort()
            os._exit(0)
        try:
            mon.start()
        except BaseException as err:
            _report(sock, err)
            mon.failed_start()
            os._exit(0)
        mon.become_supervisor(sock.fileno())
    except BaseException as err:  # noqa: BLE001 - the child must end here, whatever happened
        _report(sock, err)
        with contextlib.suppress(Exception):
            print(f"dockernb monitor: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        if mon.task is not None:
            with contextlib.suppress(Exception):
                mon.abort()
    os._exit(code)


def monitor_in_place(
    paths: ContainerPaths,
    spawner: Spawner,
    options: MonitorOptions,
    setup: Callable[[Task], None] | None = None,
    started: Callable[[Started], None] | None = None,
) -> NoReturn:
    """Become the container's monitor in this process (the post-exit handler's restart).

    ``setup(task)`` runs between create and start (network, cgroups), ``started(...)`` after
    a successful start (to record the state). Raises what create/start raise; on success it
    never returns: the process becomes the supervisor.
    """
    mon = _Monitor(paths, spawner, options)
    mon.prepare(detach=False)
    task = mon.create()
    try:
        if setup is not None:
            setup(task)
    except BaseException:
        mon.abort()
        raise
    try:
        mon.start()
    except BaseException:
        mon.failed_start()
        raise
    if started is not None:
        me = os.getpid()
        started(Started(task.pid, start_time(task.pid), me, start_time(me)))
    mon.become_supervisor(None)


def _close_all_but(keep: list[int]) -> None:
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, _max_fd())


def _max_fd() -> int:
    try:
        return max(int(n) for n in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return 65536


# --- the engine's side -----------------------------------------------------------------------


class PendingStart:
    """A created init waiting for :meth:`start` (or :meth:`abort`); ``pid`` is its host pid."""

    def __init__(self, sock: socket.socket, lines: _Lines, msg: dict[str, Any]) -> None:
        self._sock = sock
        self._lines = lines
        self.pid = int(msg["pid"])
        self.pid_start = int(msg.get("pid_start", 0))
        self.monitor_pid = int(msg["monitor"])
        self.monitor_start = start_time(self.monitor_pid)
        self._done = False

    def start(self, timeout: float = _TIMEOUT) -> Started:
        """Let the init exec and wait until the supervisor serves.

        Raises CommandNotFound / CommandNotExecutable / ContainerStartFailed from the exec.
        """
        if self._done:
            raise InternalError("this container start was already settled")
        self._done = True
        try:
            _send(self._sock, go=True)
            msg = self._lines.read(timeout)
        except OSError:
            msg = None  # the monitor is gone
        finally:
            self._sock.close()
        if msg is None:
            raise InternalError("the container's monitor exited during start; see monitor.log in its directory")
        if "error" in msg:
            raise _error_from(msg)
        return Started(self.pid, self.pid_start, self.monitor_pid, self.monitor_start)

    def abort(self) -> None:
        """Kill the created init instead of starting it (the engine's setup failed)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            _send(self._sock, abort=True)
            self._lines.read(_TIMEOUT)  # EOF once M has cleaned up and exited
        self._sock.close()


class Launcher:
    """Starts containers under monitors; one per engine (it holds no per-container state)."""

    def launch(self, paths: ContainerPaths, spawner: Spawner, options: MonitorOptions) -> PendingStart:
        """Fork the monitor and create the init; returns once the init exists (not yet started).

        Raises what ``spawner.create`` raises (ContainerStartFailed and its kin), or
        InternalError if the monitor could not be made.
        """
        if options.tty is False and options.console_size is not None:
            raise InternalError("a console size without a tty")
        supervisor_binary()  # compile now, in the caller, so a failure is the caller's error
        engine_end, monitor_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        first = os.fork()
        if first == 0:  # A: leave the session, fork M, vanish
            try:
                engine_end.close()
                os.setsid()
                if os.fork() == 0:
                    _monitor_main(paths, spawner, options, monitor_end)
            finally:
                os._exit(0)
        monitor_end.close()
        with contextlib.suppress(ChildProcessError):  # a SIGCHLD handler of the caller may have reaped it
            os.waitpid(first, 0)
        lines = _Lines(engine_end)
        try:
            msg = lines.read(_TIMEOUT)
        except BaseException:
            engine_end.close()
            raise
        if msg is None:
            engine_end.close()
            raise InternalError(f"the container's monitor exited before creating it; see {paths.dir}/monitor.log")
        if "error" in msg:
            engine_end.close()
            raise _error_from(msg)
        return PendingStart(engine_end, lines, msg)
