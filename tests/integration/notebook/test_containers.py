"""Containers from the magics in an IPython InteractiveShell: real containers from the kit's images.

``c = %docker run -d nginx`` is a handle on the running container; foreground runs stream and
return docker's exit code; ``-it`` without a widget front end sends end-of-input; with one
(``DOCKERNB_NOTEBOOK_TERMINAL=widget``) it is a terminal on the container's pty: typed lines in,
output back, Ctrl-P Ctrl-Q detaches, ``attach`` and ``exec -it`` come back to it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from IPython.core.interactiveshell import InteractiveShell

from dockernb.client import Container, DockerClient
from dockernb.notebook.widgets.terminal import Terminal
from tests.integration.notebook.conftest import run

pytestmark = [pytest.mark.rootless, pytest.mark.kit]


def _until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_run_detached_nginx_gives_a_handle(ip: InteractiveShell, client: DockerClient) -> None:
    c, cap = run(ip, "run -d --name web nginx")
    assert ip.user_ns["_exit_code"] == 0, cap.stderr
    assert isinstance(c, Container) and c.name == "web" and c.image == "nginx"
    assert "Unable to find image 'nginx:latest' locally" in cap.stderr  # pulled from the kit, as the CLI does
    (card,) = cap.outputs  # the status card; its text twin is the id the CLI prints
    assert "application/vnd.jupyter.widget-view+json" in card.data and card.data["text/plain"] == c.id + "\n"
    assert "<th style='text-align:left;padding-right:1em'>Status</th><td>running</td>" in card.data["text/html"]
    assert c.status == "running"
    code, out = c.exec("cat /etc/nginx/conf.d/default.conf")
    assert code == 0 and b"listen       80;" in out
    code, out = c.exec(["sh", "-c", "echo err >&2; exit 4"])
    assert (code, out) == (4, b"err\n")
    assert c.exec(["sh", "-c", "echo to-the-log > /proc/1/fd/1"]).exit_code == 0  # nginx's stdout: the log
    _until(lambda: c.logs() == b"to-the-log\n", "the line in the container's log")
    _, cap = run(ip, "exec web sh -c 'cat /etc/hostname; echo oops >&2'")
    assert (cap.stdout, cap.stderr, ip.user_ns["_exit_code"]) == (c.short_id + "\n", "oops\n", 0)
    # ps: the table (docker's columns) and its value, the same container
    found, cap = run(ip, "ps")
    assert found == [c]
    text = cap.outputs[0].data["text/plain"]
    assert text.split("\n")[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                           "NAMES"]  # fmt: skip
    assert re.search(rf"^{c.short_id}\s+nginx\s+\"nginx -g 'daemon of…\"\s+.*Up .*\s+80/tcp\s+web$", text, re.M), text
    # the handle acts on the real container; its status is read anew
    c.stop(timeout=5)
    assert c.status == "exited" and client.containers.get("web").status == "exited"
    found, cap = run(ip, "ps -a --format '{{.Names}} {{.State}}'")
    assert cap.stdout == "web exited\n" and [x.name for x in found] == ["web"]
    c.remove()
    assert client.containers.list(all=True) == []


def test_foreground_run_streams_and_returns_the_exit_code(ip: InteractiveShell, client: DockerClient) -> None:
    value, cap = run(ip, "run --rm busybox sh -c 'echo out; echo err >&2; exit 3'")
    assert value is None and ip.user_ns["_exit_code"] == 3
    assert (cap.stdout, cap.stderr) == ("out\n", "err\n")
    assert client.containers.list(all=True) == []  # --rm
    value, cap = run(ip, "run --name done busybox echo fine")
    assert ip.user_ns["_exit_code"] == 0 and cap.stdout == "fine\n"
    assert client.containers.get("done").status == "exited"
    value, cap = run(ip, "start -a done")  # the shared runner's byte output, into the cell's text stream
    assert ip.user_ns["_exit_code"] == 0 and cap.stdout == "fine\n"
    value, cap = run(ip, "run busybox nosuchcommand")
    assert ip.user_ns["_exit_code"] == 127
    assert "exec: \"nosuchcommand\": executable file not found in $PATH" in cap.stderr


def test_it_without_a_widget_front_end_sends_end_of_input(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch,
                                                          client: DockerClient) -> None:  # fmt: skip
    monkeypatch.setenv("DOCKERNB_NOTEBOOK_TERMINAL", "none")
    value, cap = run(ip, "run -it --name it1 busybox sh -c 'echo hello; cat; echo after-eof; exit 6'")
    assert ip.user_ns["_exit_code"] == 6 and value is None
    assert cap.stdout.splitlines() == ["hello", "after-eof"]
    assert cap.stderr == "(no terminal in this front end: sent end-of-input to it1's terminal; exit code 6)\n"
    assert client.containers.get("it1").status == "exited"


def test_terminal_widget_type_detach_reattach_exec(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch,
                                                   client: DockerClient) -> None:  # fmt: skip
    monkeypatch.setenv("DOCKERNB_NOTEBOOK_TERMINAL", "widget")
    term, cap = run(ip, "run -it --name box busybox sh")
    assert isinstance(term, Terminal) and ip.user_ns["_exit_code"] == 0
    assert "application/vnd.jupyter.widget-view+json" in cap.outputs[0].data
    term.input.value = "echo $((6*7))"  # what the front end sends when Enter is pressed
    _until(lambda: "\n42\n" in term.text, "the shell's answer")
    term.write(b"\x10\x11")  # Ctrl-P Ctrl-Q typed: detached, the container keeps running
    assert term.detached and term.wait(10) and "keeps running" in term.status.value
    assert client.containers.get("box").status == "running"
    again, _ = run(ip, "attach box")
    assert isinstance(again, Terminal)
    again.send("echo back-$((1+1))")
    _until(lambda: "back-2" in again.text, "the reattached shell")
    shell, _ = run(ip, "exec -it box sh")
    assert isinstance(shell, Terminal)
    shell.send("echo in-exec $$; exit 2")
    assert shell.wait(20) and shell.exit_code == 2 and "exited with code 2" in shell.status.value
    assert re.search(r"in-exec \d+", shell.text)
    again.detach_button.click()
    assert again.wait(10) and client.containers.get("box").status == "running"
    last, _ = run(ip, "attach box")
    last.send("exit 5")
    assert last.wait(20) and last.exit_code == 5 and "exited with code 5" in last.status.value
    assert client.containers.get("box").status == "exited" and client.containers.get("box").exit_code == 5


def test_python_api_run_and_errors(client: DockerClient, images_env: dict[str, str]) -> None:
    import dockernb

    with dockernb.from_env(images_env) as other:  # the public entry point: the same engine, the same state
        assert isinstance(other, DockerClient)
        assert [i.tags for i in other.images.list("busybox")] == [["busybox:latest"]]
    out = client.containers.run("busybox", "echo from-api", remove=True)
    assert out == b"from-api\n"
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="api", labels={"k": "v"})
    assert isinstance(c, Container) and c.status == "running" and c.labels["k"] == "v"
    assert c.attrs["Config"]["Cmd"] == ["sleep", "300"]
    c.kill()
    assert c.wait() == 137 and c.status == "exited"
    from dockernb.errors import ContainerExited, NoSuchContainer

    with pytest.raises(ContainerExited) as failed:
        client.containers.run("busybox", "sh -c 'echo no >&2; exit 9'")
    assert failed.value.exit_code == 9 and "no" in failed.value.output
    with pytest.raises(NoSuchContainer):
        client.containers.get("nosuch")
