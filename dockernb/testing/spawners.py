"""A stand-in for the runtime: a plain forked process as a container's init (test helper).

``PlainSpawner`` implements :class:`dockernb.monitor.spawner.Spawner` without namespaces:
``create`` forks a child that waits on a pipe, ``start`` lets it exec ``argv``, exec errors
come back as CommandNotFound (127) / CommandNotExecutable (126). With a tty it opens a pty,
makes it the child's controlling terminal and hands the master back. It is real (real
processes, pipes and ptys): the monitor, its logs, attach, reaping and exit codes are tested
with it, before and apart from the runtime.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Mapping, Sequence

from dockernb.errors import CommandNotExecutable, CommandNotFound, ContainerStartFailed
from dockernb.monitor.spawner import SpawnSpec, Stdio, Task

__all__ = ["PlainSpawner", "plain_spec"]


def plain_spec(argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str = "/") -> SpawnSpec:
    return SpawnSpec(
        factory="dockernb.testing.spawners:PlainSpawner",
        args={"argv": list(argv), "env": dict(env or {"PATH": "/usr/local/bin:/usr/bin:/bin"}), "cwd": cwd},
    )


class PlainSpawner:
    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str = "/", oom_file: str = ""
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env or {"PATH": "/usr/local/bin:/usr/bin:/bin"})
        self.cwd = cwd
        #: stands in for the cgroup's memory.events (tests write its "oom_kill N" line)
        self.oom_file = oom_file
        self._go: int = -1
        self._err: int = -1

    def create(self, stdio: Stdio) -> Task:
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        master = slave = -1
        if stdio.tty:
            master, slave = os.openpty()
            os.set_blocking(master, True)
            if stdio.size:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", stdio.size[0], stdio.size[1], 0, 0))
        pid = os.fork()
        if pid == 0:  # the init: never returns
            try:
                os.close(go_w)
                os.close(err_r)
                os.setsid()
                if stdio.tty:
                    os.close(master)
                    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                    fds = [slave, slave, slave]
                else:
                    null = os.open(os.devnull, os.O_RDWR)
                    fds = [
                        stdio.stdin if stdio.stdin is not None else null,
                        stdio.stdout if stdio.stdout is not None else null,
                        stdio.stderr if stdio.stderr is not None else null,
                    ]
                for target, fd in enumerate(fds):
                    os.dup2(fd, target)
                if not os.read(go_r, 1):  # blocked until start; EOF: the monitor died, never exec
                    os._exit(126)
                os.close(go_r)
                os.chdir(self.cwd)
                for sig in range(1, signal.NSIG):
                    if sig not in (signal.SIGKILL, signal.SIGSTOP):
                        try:
                            signal.signal(sig, signal.SIG_DFL)
                        except (OSError, ValueError):
                            pass
                os.closerange(3, err_w)
                os.closerange(err_w + 1, 65536)
                os.execvpe(self.argv[0], self.argv, self.env)
            except OSError as err:
                try:
                    os.write(err_w, str(err.errno).encode())
                except OSError:
                    pass
            os._exit(127)
        os.close(go_r)
        os.close(err_w)
        if slave >= 0:
            os.close(slave)
        self._go, self._err = go_w, err_r
        return Task(pid=pid, pty_master=master if stdio.tty else None, oom_file=self.oom_file)

    def start(self, task: Task) -> None:
        os.write(self._go, b"x")
        os.close(self._go)
        data = os.read(self._err, 64)
        os.close(self._err)
        if not data:
            return  # exec succeeded (the pipe closed on exec)
        code = int(data)
        name = self.argv[0]
        if code == errno.ENOENT:
            raise CommandNotFound(
                f'failed to start container process: exec: "{name}": executable file not found in $PATH: unknown'
            )
        if code in (errno.EACCES, errno.ENOEXEC, errno.EPERM):
            raise CommandNotExecutable(f'failed to start container process: exec: "{name}": permission denied: unknown')
        raise ContainerStartFailed(f'failed to start container process: exec: "{name}": {os.strerror(code)}: unknown')

    def abort(self, task: Task) -> None:
        try:
            os.kill(task.pid, signal.SIGKILL)
            os.waitpid(task.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        for fd in (self._go, self._err):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
