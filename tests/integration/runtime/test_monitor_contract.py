"""The contract with the monitor (issue 5), played end to end: the engine forks M; M leaves the
caller's session, becomes a subreaper, creates the container; the engine starts it; M execs a
supervisor that only waits for the init and reports its exit code. The caller then exits and
the container keeps running."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.linux import syscalls as sc
from tests.integration.runtime.conftest import Box

pytestmark = pytest.mark.rootless

SUPERVISOR = "import os; pid, st = os.wait(); print(pid, os.waitstatus_to_exitcode(st), flush=True)"


def test_monitor_flow(box: Box) -> None:
    cid, bundle, spec = box.spec(cmd=("sh", "-c", "read x; echo got $x; exit 4"))
    state = box.base / "state" / "mon"
    report_r, report_w = os.pipe()  # M -> engine: the init's pid, then the supervisor's line
    go_r, go_w = os.pipe()  # engine -> M: started, exec your supervisor
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    monitor = os.fork()
    if monitor == 0:
        code = 1
        try:
            for fd in (report_r, go_w, stdin_w, out_r):
                os.close(fd)
            os.setsid()
            sc.LinuxSyscalls().prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
            created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle),
                                stdio=rt.Stdio(stdin_r, out_w, out_w))
            os.write(report_w, f"{created.pid}\n".encode())
            os.read(go_r, 1)
            os.dup2(report_w, 1)
            os.execv(sys.executable, [sys.executable, "-c", SUPERVISOR])
        finally:
            os._exit(code)
    for fd in (report_w, go_r, stdin_r, out_w):
        os.close(fd)
    report = os.fdopen(report_r)
    try:
        init_pid = int(report.readline())
        assert Path(f"/proc/{init_pid}/stat").read_text().split()[3] == str(monitor)  # the init is M's child
        assert os.getsid(init_pid) != os.getsid(0)  # out of the caller's session
        rt.start(state)  # from the engine, not from M
        os.write(go_w, b"x")
        time.sleep(0.1)
        assert rt.state(state).status == "running"
        os.write(stdin_w, b"hello\n")
        os.close(stdin_w)
        assert os.read(out_r, 64) == b"got hello\n"
        pid, code = report.readline().split()
        assert (int(pid), int(code)) == (init_pid, 4)
    finally:
        report.close()
        os.close(go_w)
        os.close(out_r)
        os.waitpid(monitor, 0)
        rt.delete(state, force=True)
    assert not state.exists()
