"""FakeSyscalls: a recording :class:`~dockernb.linux.syscalls.Syscalls` for unit tests (no root needed).

Every call is appended to ``calls`` as a tuple (name, *args); nothing reaches the kernel, except
``mknod``, which creates an empty regular file so that later steps find the path. Set
``fail[name] = OSError(...)`` to make a call raise.
"""

from __future__ import annotations

import os

__all__ = ["FakeSyscalls"]


class FakeSyscalls:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail: dict[str, BaseException] = {}

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        err = self.fail.get(name)
        if err is not None:
            raise err

    def names(self) -> list[str]:
        return [str(c[0]) for c in self.calls]

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int) -> None:
        self._record("setns", fd, nstype)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        # the target's /proc/self/fd path dies with its fd: record where it pointed
        real = os.readlink(target) if target.startswith("/proc/self/fd/") else target
        self._record("mount", source, real, fstype, flags, data)

    def umount2(self, target: str, flags: int) -> None:
        self._record("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", os.path.realpath(path), mode, device)
        with open(path, "w"):
            pass

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        self._record("prctl", option, arg2, arg3)
        return 0

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective, permitted, inheritable)

    def seccomp_load(self, bpf: bytes) -> None:
        self._record("seccomp_load", len(bpf))
