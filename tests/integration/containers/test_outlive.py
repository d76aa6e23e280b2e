"""Containers outlive their callers (a CLI killed with SIGKILL, a Jupyter kernel interrupted and restarted),
and a killed monitor is reconciled by the next engine call: no container stuck running, nothing left."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.containers.conftest import Cli, leftovers, live_processes

TICKER = "while true; do echo tick; sleep 0.2; done"


def _log_lines(cli: Cli, name: str) -> int:
    return cli.ok("logs", name).count("tick")


def _grows(cli: Cli, name: str) -> None:
    first = _log_lines(cli, name)
    deadline = time.monotonic() + 10
    while _log_lines(cli, name) <= first:
        assert time.monotonic() < deadline, "the container stopped logging"
        time.sleep(0.2)


@pytest.mark.rootless
def test_sigkill_of_the_attached_cli(cli: Cli) -> None:
    proc = subprocess.Popen(cli.argv("run", "--name", "survivor", "busybox", "sh", "-c", TICKER), env=cli.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=False)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"tick\n"
    proc.kill()  # SIGKILL: nothing of the CLI runs any more
    proc.wait()
    proc.stdout.close()
    assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "survivor running\n"
    _grows(cli, "survivor")
    # and the same for the CLI that ran it detached, killed with its whole process group
    cli.ok("run", "-d", "--name", "detached", "busybox", "sh", "-c", TICKER)
    _grows(cli, "detached")


@pytest.mark.rootless
def test_killed_monitor_is_reconciled(cli: Cli) -> None:
    cid = cli.ok("run", "-d", "--name", "orphan", "busybox", "sleep", "1000").strip()
    monitors = live_processes(f"dockernb-monitor {cid[:12]}")
    assert len(monitors) == 1, monitors
    os.kill(int(monitors[0].split()[0]), signal.SIGKILL)
    time.sleep(0.2)
    # the next engine call notices: exited (255, docker's code for a lost task), the init killed, cgroups gone
    assert cli.ok("ps", "-a", "--format", "{{.Names}} {{.State}}") == "orphan exited\n"
    assert cli.ok("inspect", "-f", "{{.State.ExitCode}} {{.State.Running}}", "orphan") == "255 false\n"
    deadline = time.monotonic() + 10
    while live_processes(f"dockernb-init {cid[:12]}|^sleep 1000") and time.monotonic() < deadline:
        time.sleep(0.1)
    cli.ok("start", "orphan")  # it can run again
    assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "orphan running\n"
    cli.ok("rm", "-f", "orphan")
    assert leftovers(cli.root, [cid]) == []
    assert not glob.glob(f"/sys/fs/cgroup/*/**/{cid}", recursive=True)


def test_jupyter_kernel_interrupt_and_restart(cli: Cli) -> None:
    jupyter_client = pytest.importorskip("jupyter_client", reason="the notebook extra is part of the dev install")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.kernel_spec  # noqa: B018 - resolves the spec with this interpreter
    km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]  # type: ignore[attr-defined]
    km.start_kernel(env={**cli.env, "JPY_PARENT_PID": str(os.getpid())}, cwd=str(Path(__file__).parents[3]))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        code = ("from dockernb.engine import Engine\n"
                "eng = Engine.from_env()\n"
                f"r = eng.containers.run('busybox', ['sh', '-c', {TICKER!r}], detach=True, name='from-kernel')\n"
                "print(r.id)\n")
        reply = kc.execute_interactive(code, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.execute("import time; time.sleep(60)")
        time.sleep(0.5)
        km.interrupt_kernel()  # SIGINT to the kernel's process group
        time.sleep(0.5)
        assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "from-kernel running\n"
        km.restart_kernel(now=True)  # SIGKILL of the kernel
        kc.wait_for_ready(timeout=60)
        assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "from-kernel running\n"
        _grows(cli, "from-kernel")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
