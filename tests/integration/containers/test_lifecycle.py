"""The container verbs end to end through the CLI, root and rootless: run, create/start, stop, restart,
kill, wait, rm, ps, logs, inspect, exec, port, and what they leave behind (nothing)."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.containers.conftest import Cli, leftovers

pytestmark = pytest.mark.rootless


def test_lifecycle(cli: Cli) -> None:
    cid = cli.ok("run", "-d", "--name", "lc-a", "busybox", "sleep", "1000").strip()
    assert len(cid) == 64
    assert cli.ok("inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.Name}}", "lc-a") == "running true /lc-a\n"
    assert cli.ok("start", "lc-a") == "lc-a\n"  # running: not an error
    t0 = time.monotonic()
    assert cli.ok("stop", "-t", "1", "lc-a") == "lc-a\n"
    assert time.monotonic() - t0 < 8
    assert cli.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "lc-a") == "exited 137\n"
    assert cli.ok("stop", "lc-a") == "lc-a\n"  # stopped: not an error
    assert cli.ok("start", "lc-a") == "lc-a\n"
    assert cli.ok("restart", "-t", "1", "lc-a") == "lc-a\n"
    assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "lc-a running\n"
    r = cli("rm", "lc-a")
    assert r.code == 1 and f"You cannot remove a running container {cid}" in r.err
    assert cli.ok("kill", "lc-a") == "lc-a\n"
    assert cli.ok("wait", "lc-a") == "137\n"
    r = cli("kill", "lc-a")
    assert (r.code, r.err) == (1, f"Error response from daemon: Cannot kill container: lc-a: Container {cid} is not "
                                  "running\n")
    assert cli("run", "--name", "lc-w", "busybox", "sh", "-c", "exit 5").code == 5
    assert cli.ok("wait", "lc-w") == "5\n"
    assert cli.ok("rm", "lc-a", "lc-w") == "lc-a\nlc-w\n"
    assert leftovers(cli.root, [cid]) == []


def test_create_start_attach_and_logs(cli: Cli) -> None:
    cli.ok("create", "--name", "g-created", "busybox", "sh", "-c", "echo out1; echo err1 >&2; printf no-newline")
    assert cli.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}") == "g-created Created\n"
    r = cli("start", "-a", "g-created")
    assert (r.code, r.out, r.err) == (0, "out1\nno-newline", "err1\n")
    r = cli("logs", "g-created")
    assert (r.out, r.err) == ("out1\nno-newline", "err1\n")
    assert cli.ok("logs", "--tail", "1", "g-created") == "no-newline"
    stamped = cli.ok("logs", "-t", "g-created")
    assert stamped.startswith("20") and "Z out1\n" in stamped
    assert cli("logs", "nosuch").err == "Error: No such container: nosuch\n"
    data = json.loads(cli.ok("inspect", "g-created"))
    assert data[0]["Config"]["Cmd"] == ["sh", "-c", "echo out1; echo err1 >&2; printf no-newline"]
    assert data[0]["State"]["Status"] == "exited" and data[0]["Path"] == "sh"


def test_limits(cli: Cli) -> None:
    r = cli("run", "--rm", "-m", "64m", "--pids-limit", "10", "busybox", "sh", "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null; true")
    assert r.code == 0, r
    from tests.capabilities import available

    if available("cgroup-delegation"):
        assert r.out.split() == [str(64 << 20), "10"]
    else:  # rootless without delegation: docker's words, and the container runs unlimited
        assert "WARNING: Running in rootless-mode without cgroups." in r.err
        assert "Limitation discarded." in r.err and "PIDs limit discarded." in r.err


def test_processes_get_dockers_umask(cli: Cli) -> None:
    assert cli.ok("run", "--name", "um", "-d", "busybox", "sleep", "1000") != ""
    assert cli.ok("exec", "um", "sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f") == "0022\n644\n"
    r = cli("run", "--rm", "busybox", "sh", "-c", "umask")
    assert (r.code, r.out) == (0, "0022\n")
