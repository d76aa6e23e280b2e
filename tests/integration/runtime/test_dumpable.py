"""Root only: a created init cannot be read by the container's processes (rootless, the test runs
as the owner of the container's user namespace and so holds every capability over it)."""

from __future__ import annotations

import os

import pytest

from tests.integration.runtime.conftest import Box
from tests.integration.runtime.test_isolation import DOCKER_DEFAULT_CAPS

pytestmark = pytest.mark.requires_root


def test_created_init_is_not_dumpable(box: Box) -> None:
    """Before execve the init is a copy of the caller's memory running the caller's interpreter:
    a process with the container's capabilities may not read its memory (or open its exe)."""
    import signal
    import time

    from dockernb import runtime as rt
    from dockernb.linux import syscalls as sc

    cid, bundle, spec = box.spec(cmd=("true",))
    state = box.base / "state" / "nodump"
    created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle))
    box.created.append((state, created.pid))
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 9
        try:
            os.close(r)
            # the container's capabilities (no CAP_SYS_PTRACE), and a dumpable peer holding the same
            sc.LinuxSyscalls().capset(DOCKER_DEFAULT_CAPS, DOCKER_DEFAULT_CAPS, 0)
            peer = os.fork()
            if peer == 0:
                time.sleep(30)
                os._exit(0)
            results = []
            for pid in (peer, created.pid):
                try:
                    os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
                    results.append("open")
                except PermissionError:
                    results.append("denied")
            os.kill(peer, signal.SIGKILL)
            os.waitpid(peer, 0)
            os.write(w, " ".join(results).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    got = os.read(r, 64).decode()
    os.close(r)
    os.waitpid(child, 0)
    assert got == "open denied"
