"""The real docker 20.10 CLI against `dockernb serve`, compared with ../shared/golden (what it printed
against dockerd): run, ps, the lifecycle verbs, logs, exec, and the seed lab's interactive steps
(run -it, attach and detach, exec -it) through a PTY.

The scenes and the normalisation are the container suite's (tests/integration/containers/
test_golden.py): the same argv, this time through docker's own client and our Engine API.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect
import pytest

from tests import golden
from tests.integration.api.conftest import DOCKER, DockerCli
from tests.integration.containers.conftest import Result
from tests.integration.containers.test_golden import _free_ports, _normalize

pytestmark = [pytest.mark.kit, pytest.mark.rootless]

if not golden.available():
    pytest.fail(f"the golden transcripts are missing: {golden.GOLDEN_FILE}")


def check(cli: DockerCli, case_id: str, *, argv: list[str] | None = None, names: tuple[str, ...] = (),
          ports: dict[str, str] | None = None, first_line_only: bool = False) -> Result:
    """Run the case's argv through docker's CLI and compare with the recording (docker's own words)."""
    want = golden._cases()[case_id]
    r = cli(*(argv if argv is not None else want["argv"][1:]), input=want.get("stdin"))
    got_err, want_err = r.err, want["stderr"]
    if first_line_only:  # docker's client may log "error waiting for container" first, or not
        waiting = re.compile(r'^time=.*level=error msg="error waiting for container.*\n?', re.M)
        got_err, want_err = (waiting.sub("", t).split("\n", 1)[0] for t in (got_err, want_err))
    log = cli.api.log()[-2000:]
    assert r.code == want["exit_code"], f"{case_id}: {r}\n{log}"
    assert _normalize(r.out, names, ports) == _normalize(want["stdout"]), f"{case_id} stdout: {r}"
    assert _normalize(got_err, names, ports) == _normalize(want_err), f"{case_id} stderr: {r}\n{log}"
    return r


def test_cli_run(docker_cli: DockerCli) -> None:
    for case in ("run-echo", "run-exit7", "run-false", "run-sigkill-pid1", "run-both-streams",
                 "run-stdin-not-attached", "run-i-stdin", "run-t-stderr-merged", "run-it-no-tty",
                 "run-workdir-created", "run-user", "run-env", "run-default-cmd", "run-name-x-invalid",
                 "run-invalid-port", "run-volume-relative", "run-restart-and-rm"):
        check(docker_cli, case)
    for case in ("run-no-such-cmd", "run-not-executable"):
        check(docker_cli, case, first_line_only=True)
    check(docker_cli, "run-d-name")
    check(docker_cli, "run-name-conflict")
    check(docker_cli, "create")
    check(docker_cli, "start-a")
    check(docker_cli, "rm-one")
    check(docker_cli, "run-no-such-image-local-registry")


def test_cli_ps(docker_cli: DockerCli) -> None:
    cli = docker_cli
    p1, p2 = _free_ports(2)
    ports = {f":{p1}->": ":18080->", f":{p2}->": ":18081->"}
    cli.ok("run", "-d", "--name", "ps-running", "busybox", "sleep", "1000")
    assert cli("run", "--name", "ps-exited", "busybox", "sh", "-c", "exit 3").code == 3
    cli.ok("create", "--name", "ps-created", "busybox", "true")
    cli.ok("run", "-d", "--name", "ps-ports", "-p", f"127.0.0.1:{p1}:80", "-p", f"{p2}:81/udp", "busybox", "sleep",
           "1000")
    cli.ok("run", "-d", "--name", "ps-longcmd", "busybox", "sh", "-c",
           "sleep 1000; echo this is a rather long command line that gets truncated")
    cli.ok("run", "-d", "busybox", "sleep", "1001")
    generated = tuple(n for n in cli.ok("ps", "-a", "--format", "{{.Names}}").split() if not n.startswith("ps-"))
    assert len(generated) == 1 and re.fullmatch(r"[a-z]+_[a-z]+", generated[0])
    for case in ("ps", "ps-a", "ps-a-no-trunc", "ps-q", "ps-aq", "ps-format-names-status", "ps-format-table",
                 "ps-filter-exited", "ps-filter-created", "ps-filter-name", "ps-filter-exited-code", "ps-last-1",
                 "ps-latest", "ps-format-ports", "ps-format-command", "ps-filter-bad"):
        check(cli, case, names=generated, ports=ports)


def test_cli_ps_lifecycle_logs_exec(docker_cli: DockerCli) -> None:
    cli = docker_cli
    p1, p2 = _free_ports(2)
    ports = {f":{p1}": ":18080", f":{p2}": ":18081"}
    cli.ok("run", "-d", "--name", "lc-a", "busybox", "sleep", "1000")
    cli.ok("run", "--name", "lc-stopped", "busybox", "true")
    cli.ok("run", "-d", "--name", "lc-p", "-p", f"127.0.0.1:{p1}:80", "-p", f"{p2}:81/udp", "busybox", "sleep",
           "1000")
    cli.ok("run", "-d", "--name", "lc-t", "busybox", "sleep", "1000")
    assert cli("run", "--name", "lc-w", "busybox", "sh", "-c", "exit 5").code == 5
    rows = cli.ok("ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.Ports}}").splitlines()
    assert f"lc-p|Up Less than a second|127.0.0.1:{p1}->80/tcp, 0.0.0.0:{p2}->81/udp, :::{p2}->81/udp" in rows or \
        any(r.startswith("lc-p|Up ") and f"127.0.0.1:{p1}->80/tcp" in r for r in rows), rows
    assert any(r.startswith("lc-w|Exited (5) ") for r in rows), rows
    check(cli, "stop-running", argv=["stop", "-t", "1", "lc-a"])
    check(cli, "inspect-status-after-stop")
    for case in ("stop-stopped", "stop-missing", "start-stopped", "start-running", "start-missing", "kill-stopped",
                 "kill-missing", "rm-running", "rm-missing", "wait", "wait-missing", "restart-missing",
                 "inspect-format", "inspect-missing", "inspect-format-missing"):
        check(cli, case, ports=ports)
    check(cli, "restart", argv=["restart", "-t", "1", "lc-t"])
    check(cli, "port-one", ports=ports)
    check(cli, "rename")
    check(cli, "rename-missing")
    check(cli, "rename-conflict")
    check(cli, "inspect-format-exited")
    check(cli, "kill")
    check(cli, "wait-killed")
    check(cli, "rm-stopped-two")
    check(cli, "rm-force-running")
    cli.ok("stop", "-t", "1", "lc-t")
    check(cli, "container-prune")

    # logs: the multiplexed stream demuxed by docker's client, raw with a tty
    cli.ok("run", "--name", "lg-a", "busybox", "sh", "-c",
           "echo out1; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; printf no-newline")
    cli.ok("run", "-t", "--name", "lg-tty", "busybox", "sh", "-c", "echo out; echo err >&2")
    cli.ok("run", "--log-driver", "none", "--name", "lg-none", "busybox", "true")
    for case in ("logs", "logs-tail-1", "logs-tail-2", "logs-tail-0", "logs-since-1h", "logs-follow-exited",
                 "logs-missing", "logs-driver-none"):
        check(cli, case)
    assert cli("logs", "lg-tty").out == "out\r\nerr\r\n"
    stamped = cli("logs", "-t", "lg-a").out
    assert re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out1\n|out2\n|no-newline))+", stamped), stamped

    # exec: output, exit codes, the runtime's errors, stdin
    cli.ok("run", "-d", "--name", "ex-a", "busybox", "sleep", "1000")
    cli.ok("run", "--name", "ex-stopped", "busybox", "true")
    for case in ("exec-echo", "exec-exit-code", "exec-both-streams", "exec-no-such-cmd", "exec-not-executable",
                 "exec-stopped", "exec-missing", "exec-it-no-tty", "exec-i-stdin", "exec-workdir", "exec-user",
                 "exec-env", "exec-detach"):
        check(cli, case)
    r = cli("exec", "-t", "ex-a", "echo", "hi")
    assert (r.code, r.out) == (0, "hi\r\n")


def _spawn(cli: DockerCli, *args: str) -> pexpect.spawn:
    return pexpect.spawn(DOCKER, list(args), env=cli.env, timeout=60, encoding="utf-8", codec_errors="replace",
                         dimensions=(30, 100))


def _finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus)


def test_cli_seed_lab_through_a_pty(docker_cli: DockerCli) -> None:
    cli = docker_cli
    prompt = r"root@[0-9a-f]{12}:/# "  # bash: busybox's ash asks the terminal for the cursor position
    # run -it: the hijacked attach with a TTY, the window size from the client's resize
    child = _spawn(cli, "run", "-it", "--name", "lab", "debian:bookworm", "bash")
    child.expect(prompt)
    child.sendline("echo $((6 * 7)); stty size")
    child.expect(r"42\s+30 100")
    child.sendline("echo marker > /root/file.txt; exit 3")
    assert _finish(child) == 3
    assert cli.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").startswith("lab Exited (3) ")

    # start again in the background, attach, type, detach with Ctrl-P Ctrl-Q: it keeps running
    assert cli.ok("start", "lab") == "lab\n"
    child = _spawn(cli, "attach", "lab")
    child.sendline("echo attached-$((1 + 1))")
    child.expect("attached-2")
    child.send("\x10\x11")
    child.expect("read escape sequence")  # docker's client detaches so, with exit code 1 (as against dockerd)
    assert _finish(child) == 1
    assert cli.ok("inspect", "-f", "{{.State.Status}}", "lab") == "running\n"

    # exec -it in the running container sees the file the first run wrote
    child = _spawn(cli, "exec", "-it", "lab", "bash")
    child.expect(prompt)
    child.sendline("cat /root/file.txt; stty size; exit 4")
    child.expect(r"marker\s+30 100")
    assert _finish(child) == 4

    # attach again, and end the container from inside: attach exits with its code
    child = _spawn(cli, "attach", "lab")
    child.sendline("exit 6")
    assert _finish(child) == 6
    assert cli.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "lab") == "exited 6\n"
    # commit the exited container: the file it wrote is in the new image
    image_id = cli.ok("commit", "-c", "ENV FROM_COMMIT=1", "lab", "lab-image:v1").strip()
    assert image_id.startswith("sha256:")
    assert cli.ok("run", "--rm", "lab-image:v1", "sh", "-c", "cat /root/file.txt; echo $FROM_COMMIT") == "marker\n1\n"
    cli.ok("rm", "lab")
    cli.ok("rmi", "lab-image:v1")

    # run -d nginx -p: the published port answers
    port = _free_ports(1)[0]
    cli.ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "nginx")
    import urllib.request

    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                assert b"nginx" in resp.read()
                break
        except OSError:
            import time

            time.sleep(0.1)
    else:
        pytest.fail("nginx did not answer on its published port")
    assert cli.ok("port", "web") == f"80/tcp -> 127.0.0.1:{port}\n"
    assert "GET / HTTP/1.1" in cli.ok("logs", "web")
    assert cli.ok("rm", "-f", "web") == "web\n"


def test_the_machines_newer_cli(docker_cli: DockerCli) -> None:
    """The docker CLI first in PATH (28.x) negotiates down to API 1.41 and drives the same verbs."""
    newer = "/usr/local/bin/docker"
    assert os.access(newer, os.X_OK), f"{newer} is missing"
    cli = DockerCli(docker_cli.api, Path(docker_cli.env["DOCKER_CONFIG"]))
    cli.argv = lambda *args: [newer, *args]  # type: ignore[method-assign]
    assert cli.ok("version", "--format", "{{.Server.APIVersion}}") == "1.41\n"
    assert cli.ok("run", "--rm", "busybox", "echo", "hi") == "hi\n"
    assert cli("run", "--rm", "busybox", "sh", "-c", "exit 5").code == 5
    cli.ok("run", "-d", "--name", "new-a", "busybox", "sleep", "1000")
    assert cli.ok("exec", "new-a", "sh", "-c", "echo in-exec") == "in-exec\n"
    assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "new-a running\n"
    # the extra verbs over the API: pause/unpause, top, diff, export
    if os.geteuid() == 0:
        assert cli.ok("pause", "new-a") == "new-a\n"
        assert cli.ok("inspect", "-f", "{{.State.Status}}", "new-a") == "paused\n"
        assert cli.ok("unpause", "new-a") == "new-a\n"
    else:  # no delegated freezer here: the engine says why, as docker's rootless mode does
        r = cli("pause", "new-a")
        assert r.code == 1 and "no cgroup freezer" in r.err
    assert "sleep 1000" in cli.ok("top", "new-a")
    cli.ok("exec", "new-a", "touch", "/tmp/new-file")
    assert "A /tmp/new-file" in cli.ok("diff", "new-a").splitlines()
    assert cli.ok("stop", "-t", "1", "new-a") == "new-a\n"
    assert cli.ok("inspect", "-f", "{{.State.ExitCode}}", "new-a") == "137\n"
    assert cli.ok("rm", "new-a") == "new-a\n"
