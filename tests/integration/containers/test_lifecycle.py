"""The container verbs end to end through the CLI, root and rootless: run, create/start, stop, restart,
kill, wait, rm, ps, logs, inspect, exec, port, and what they leave behind (nothing)."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.containers.conftest import Cli, leftovers

pytestmark = pytest.mark.rootless


def test_run_exit_codes_and_streams(cli: Cli) -> None:
    r = cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.code, r.out, r.err) == (7, "out\n", "err\n")
    assert cli("run", "--rm", "busybox", "sh", "-c", "kill -9 $$; echo survived").out == "survived\n"
    assert cli("run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$").code == 137
    r = cli("run", "--rm", "busybox", "no-such-cmd")
    assert r.code == 127 and 'exec: "no-such-cmd": executable file not found in $PATH' in r.err
    assert cli("run", "--rm", "busybox", "/etc/passwd").code == 126
    assert cli("run", "--rm", "-i", "busybox", "cat", input="line1\nline2\n").out == "line1\nline2\n"
    assert cli("run", "--rm", "-t", "busybox", "echo", "hi").out == "hi\r\n"
    assert cli("run", "--rm", "-w", "/no/such/dir", "busybox", "pwd").out == "/no/such/dir\n"
    assert cli("run", "--rm", "-u", "1234:5678", "busybox", "id").out == "uid=1234 gid=5678 groups=5678\n"
    assert cli("run", "--rm", "-e", "FOO=bar", "busybox", "sh", "-c", "echo $FOO").out == "bar\n"
    assert cli.ok("ps", "-aq") == ""  # --rm left nothing


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


def test_exec(cli: Cli) -> None:
    cli.ok("run", "-d", "--name", "ex-a", "busybox", "sleep", "1000")
    assert cli.ok("exec", "ex-a", "echo", "hi") == "hi\n"
    assert cli("exec", "ex-a", "sh", "-c", "exit 5").code == 5
    r = cli("exec", "ex-a", "no-such-cmd")
    assert r.code == 126 and r.out.startswith("OCI runtime exec failed: exec failed:")
    assert cli.ok("exec", "-i", "ex-a", "cat", input="abc\n") == "abc\n"
    assert cli.ok("exec", "-w", "/tmp", "ex-a", "pwd") == "/tmp\n"
    assert cli.ok("exec", "-u", "nobody", "ex-a", "id") == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    assert cli.ok("exec", "-e", "A=1", "ex-a", "sh", "-c", "echo $A") == "1\n"
    assert cli("exec", "-it", "ex-a", "sh").err == "the input device is not a TTY\n"
    assert cli.ok("exec", "-d", "ex-a", "sleep", "1") == ""
    cli.ok("stop", "-t", "1", "ex-a")
    r = cli("exec", "ex-a", "true")
    assert r.code == 1 and "is not running" in r.err
