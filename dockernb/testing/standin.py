"""A process standing in for a container, for network tests until the runtime lands (testing helper).

``StandIn(plan, argv)`` forks a child that does what the runtime must do with a
``NamespacePlan``: join ``plan.userns_path`` if given (rootless bridge networks), else, rootless,
make its own user namespace; then make a new network namespace (NEW), join one (JOIN) or keep
the host's (HOST). It then blocks, like a runtime's init before exec, until :meth:`start`, and
execs ``argv`` (busybox httpd, sleep...). ``pid`` is what the engine passes to ``attach``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence

from dockernb.linux import netns
from dockernb.network.base import NamespacePlan, NetnsMode

__all__ = ["StandIn"]


class StandIn:
    def __init__(self, plan: NamespacePlan, argv: Sequence[str], *, cwd: str | None = None,
                 files: dict[str, str] | None = None, stdout: int | None = None) -> None:
        """``files``: {"/etc/resolv.conf": sandbox's file, ...} bind-mounted in a mount namespace of
        its own, as the runtime will; ``stdout``: an fd for the program's output."""
        self.argv = list(argv)
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        uid, gid = os.geteuid(), os.getegid()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                os.close(go_w)
                os.setsid()
                if plan.userns_path:
                    netns.setns(os.open(plan.userns_path, os.O_RDONLY), netns.CLONE_NEWUSER)
                elif uid != 0 and plan.mode != NetnsMode.HOST:
                    netns.unshare(netns.CLONE_NEWUSER)
                    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
                        os.write(fd, text.encode())
                        os.close(fd)
                if plan.mode == NetnsMode.NEW:
                    netns.unshare(netns.CLONE_NEWNET)
                elif plan.mode == NetnsMode.JOIN:
                    netns.setns(os.open(plan.path, os.O_RDONLY), netns.CLONE_NEWNET)
                if files:
                    netns.bind_files(files)
                os.write(ready_w, b"r")
                if os.read(go_r, 1) != b"g":
                    os._exit(0)
                if cwd:
                    os.chdir(cwd)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                if stdout is not None:
                    os.dup2(stdout, 1)
                    os.dup2(stdout, 2)
                os.closerange(3, 65536)
                os.execv(self.argv[0], self.argv)
            except BaseException as err:  # noqa: BLE001 - reported through the pipe
                with contextlib.suppress(OSError):
                    os.write(ready_w, f"e{err}".encode())
            os._exit(127)
        os.close(ready_w)
        os.close(go_r)
        self.pid = pid
        self._go = go_w
        msg = os.read(ready_r, 512)
        os.close(ready_r)
        if msg != b"r":
            self.stop()
            raise OSError(f"stand-in failed: {msg[1:].decode(errors='replace')}")

    def start(self) -> None:
        os.write(self._go, b"g")
        os.close(self._go)
        self._go = -1

    def stop(self) -> None:
        """Kill it and reap it (idempotent)."""
        if self._go >= 0:
            os.close(self._go)
            self._go = -1
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def wait_listening(self, port: int, timeout: float = 5.0) -> None:
        """Until something listens on TCP ``port`` inside the stand-in's namespace."""
        deadline = time.monotonic() + timeout
        want = f":{port:04X} "
        while time.monotonic() < deadline:
            for table in ("tcp", "tcp6"):  # busybox httpd listens on [::] (dual stack)
                try:
                    with open(f"/proc/{self.pid}/net/{table}") as f:
                        if any(want in line and " 0A " in line for line in f.read().splitlines()[1:]):
                            return
                except OSError:
                    pass
            time.sleep(0.01)
        raise TimeoutError(f"nothing listens on port {port} in pid {self.pid}")
