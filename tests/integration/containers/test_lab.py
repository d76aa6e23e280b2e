"""The seed lab's container commands, typed into a terminal (pexpect drives the CLI through a PTY),
root and rootless: hello-world, an interactive Debian shell named my_ubuntu_container, ps, ps -a,
start/stop/restart/wait, attach (and Ctrl-P Ctrl-Q), exec -it, logs, inspect, commit, images, rmi."""

from __future__ import annotations

import json
import sys

import pexpect
import pytest

from tests.integration.containers.conftest import Cli

pytestmark = pytest.mark.rootless

PROMPT = r"root@[0-9a-f]{12}:/# "


def spawn(cli: Cli, *args: str, timeout: float = 60) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "dockernb", *args], env=cli.env, timeout=timeout,
                          encoding="utf-8", codec_errors="replace", dimensions=(30, 100))
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus)


def test_seed_lab(cli: Cli) -> None:
    # run hello-world (pulled from the kit on first use)
    child = spawn(cli, "run", "hello-world")
    child.expect("Unable to find image 'hello-world:latest' locally")
    child.expect("Hello from dockernb!")
    assert finish(child) == 0

    # an interactive Debian shell
    child = spawn(cli, "run", "-it", "--name", "my_ubuntu_container", "debian:bookworm", "bash")
    child.expect(PROMPT)
    child.sendline("echo $((6 * 7)) $(cat /etc/debian_version | cut -c1-2); stty size")
    child.expect(r"42 12\s+30 100")
    child.sendline("echo marker > /root/file.txt; exit 3")
    assert finish(child) == 3

    assert cli.ok("ps", "--format", "{{.Names}}") == ""
    rows = cli.ok("ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.Command}}").splitlines()
    assert "my_ubuntu_container|Exited (3) Less than a second ago|\"bash\"" in rows or any(
        r.startswith("my_ubuntu_container|Exited (3) ") for r in rows)

    # start it again in the background, attach, type, detach with Ctrl-P Ctrl-Q
    assert cli.ok("start", "my_ubuntu_container") == "my_ubuntu_container\n"
    assert cli.ok("ps", "--format", "{{.Names}} {{.State}}") == "my_ubuntu_container running\n"
    child = spawn(cli, "attach", "my_ubuntu_container")
    child.sendline("echo attached-$((1 + 1))")
    child.expect("attached-2")
    child.send("\x10\x11")
    assert finish(child) == 0
    assert cli.ok("inspect", "-f", "{{.State.Running}}", "my_ubuntu_container") == "true\n"

    # exec -it a second shell into it
    child = spawn(cli, "exec", "-it", "my_ubuntu_container", "bash")
    child.expect(PROMPT)
    child.sendline("cat /root/file.txt; echo init=$(cat /proc/1/comm) me=$$")
    child.expect("marker")
    child.expect(r"init=bash me=(?!1\b)\d+")  # the container's bash is pid 1, ours another: one pid namespace
    child.sendline("exit")
    assert finish(child) == 0

    logs = cli.ok("logs", "my_ubuntu_container")
    assert "attached-2" in logs and "42 12" in logs  # both runs are in the log

    assert cli.ok("stop", "-t", "1", "my_ubuntu_container") == "my_ubuntu_container\n"
    assert cli.ok("restart", "-t", "1", "my_ubuntu_container") == "my_ubuntu_container\n"
    waiter = spawn(cli, "wait", "my_ubuntu_container")
    assert cli.ok("stop", "-t", "1", "my_ubuntu_container") == "my_ubuntu_container\n"
    waiter.expect(r"137\r\n")
    assert finish(waiter) == 0

    data = json.loads(cli.ok("inspect", "my_ubuntu_container"))[0]
    assert data["Name"] == "/my_ubuntu_container" and data["Config"]["Tty"] is True
    assert data["Config"]["Image"] == "debian:bookworm" and data["State"]["ExitCode"] == 137

    # commit it, run the new image, list it, remove everything
    image_id = cli.ok("commit", "-m", "lab", "my_ubuntu_container", "my-debian:lab").strip()
    assert image_id.startswith("sha256:")
    assert cli.ok("run", "--rm", "my-debian:lab", "cat", "/root/file.txt") == "marker\n"
    assert "my-debian" in cli.ok("images") and "lab" in cli.ok("images", "my-debian")
    assert cli.ok("rm", "my_ubuntu_container") == "my_ubuntu_container\n"
    out = cli.ok("rmi", "my-debian:lab")
    assert out.startswith("Untagged: my-debian:lab\nDeleted: " + image_id)
    assert cli.ok("ps", "-a", "-q") != ""  # hello-world's exited container stays (no --rm)
