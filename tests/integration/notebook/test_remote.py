"""One notebook, three engines: in process, `dockernb serve` on a unix socket, dockerd 20.10 (``%dockernb connect``).

The same cells (pull, run -d, ps, logs, exec, stop, inspect, rm) run with nbclient in a real
ipykernel; their outputs must be the same whatever engine served them. dockerd is started as
``../shared/anchors`` does, but private: its own data root, exec root and socket, no bridge or
firewall rules, the kit's registry as its mirror; stopped and removed at teardown.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

from dockernb.testing.apiserver import ServedApi

# root only: dockerd and the ipykernel (the notebook extra, which the rootless venv lacks)
pytestmark = [pytest.mark.kit, pytest.mark.requires_root, pytest.mark.slow]

NAME = "nbremote"
CELLS = [
    "%docker pull busybox",
    f"c = %docker run -d --name {NAME} busybox sh -c 'echo out-line; echo err-line >&2; exec sleep 300'\nc.name",
    "%docker ps --format '{{.Names}} {{.Image}} {{.Command}} {{.State}}'",
    "rows = %docker ps\n[(r.name, r.image, r.status) for r in rows]",
    f"%docker logs {NAME}",
    f"%docker logs --tail 1 {NAME}",
    f"%docker exec {NAME} sh -c 'echo in-exec; echo exec-err >&2; exit 3'\n_exit_code",
    "c.exec('echo via-model').output, c.status",
    f"%docker inspect -f '{{{{.Name}}}} {{{{.Config.Image}}}} {{{{.State.Status}}}}' {NAME}",
    f"%docker stop -t 1 {NAME}",
    "c.status, c.exit_code",
    f"%docker rm {NAME}",
    "%docker ps -a -q\n_exit_code",
    "%docker logs nosuch\n_exit_code",
]


def _texts(cell: Any) -> list[str]:  # noqa: ANN401 - an nbformat cell
    """What a reader sees of a cell, in order: streams, and the plain text of results and displays."""
    out: list[str] = []
    for o in cell.outputs:
        if o.output_type == "stream":
            out.append(f"{o.name}: {o.text}")
        elif o.output_type in ("execute_result", "display_data"):
            out.append(str(o.data.get("text/plain", "")))
        elif o.output_type == "error":
            out.append(f"error: {o.ename}: {o.evalue}")
    return [_normal(text) for text in out]


def _normal(text: str) -> str:
    """Ids and object addresses differ from run to run."""
    text = re.sub(r"\b[0-9a-f]{64}\b", "<id>", text)
    return re.sub(r" at 0x[0-9a-f]+", "", re.sub(r"\b[0-9a-f]{12}\b", "<short>", text))


def _run_notebook(tmp_path: Path, env: dict[str, str], host: str | None,
                  monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ANN401 - fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    head = ["%load_ext dockernb", f"%dockernb connect {host}" if host else "1"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in head + CELLS])
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    return nb


def _check(nb: Any, host: str | None) -> list[list[str]]:  # noqa: ANN401
    """The cells' outputs after the ones that differ by nature (the connect line, the pull's progress)."""
    if host:
        (said,) = _texts(nb.cells[1])
        assert said.startswith(f"stdout: connected to {host} (Engine ") and "API 1.4" in said
    pull = _texts(nb.cells[2])
    assert pull[0].splitlines()[-1] == "busybox:latest" and pull[-1] == "<Image: 'busybox:latest'>", pull
    return [_texts(cell) for cell in nb.cells[3:]]


LOGS = "<dockernb.notebook.widgets.logs.LogViewer>"
EXPECTED: list[list[str] | None] = [
    ["<id>\n", f"'{NAME}'"],
    [f"stdout: {NAME} busybox \"sh -c 'echo out-lin…\" running\n", f"[<Container: <short> {NAME}>]"],
    None,  # the ps table: its times move; checked below
    None,  # the logs: stdout and stderr lines may come in either order; below
    None,
    ["stdout: in-exec\n", "stderr: exec-err\n", "3"],
    ["(b'via-model\\n', 'running')"],
    [f"stdout: /{NAME} busybox running\n"],
    [f"stdout: {NAME}\n"],
    ["('exited', 137)"],
    [f"stdout: {NAME}\n"],
    ["0"],
    ["stderr: Error response from daemon: No such container: nosuch\n", "1"],
]


def _assert_expected(outputs: list[list[str]]) -> None:
    if os.environ.get("DNB_DUMP"):
        print(outputs)
    for i, (got, want) in enumerate(zip(outputs, EXPECTED, strict=True)):
        if want is not None:
            assert got == want, (i, got)
    table, value = outputs[2]
    header, row = table.splitlines()
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], table
    assert row.startswith("<short>   busybox   \"sh -c 'echo out-lin…\"") and " Up " in row, table
    assert row.endswith(f"   {NAME}") and value == f"[('{NAME}', 'busybox', 'running')]", outputs[2]
    logs, tail = outputs[3], outputs[4]
    assert logs[1] == tail[1] == LOGS, outputs[3:5]
    assert sorted(logs[0].splitlines()) == ["err-line", "out-line"], logs
    assert tail[0] in ("err-line\n", "out-line\n"), tail


@pytest.fixture(scope="module")
def dockerd() -> Iterator[str]:
    """dockerd 20.10 on a private socket and data root (the anchors' flags, the kit's registry as mirror)."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (the docker.io package)")
    top = Path(tempfile.mkdtemp(prefix="dnb-dockerd-", dir="/tmp"))
    (top / "daemon.json").write_text("{}")  # not /etc/docker/daemon.json: that one is the anchors'
    sock = top / "docker.sock"
    log = (top / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        ["dockerd", "--config-file", str(top / "daemon.json"), "--data-root", str(top / "data"),
         "--exec-root", str(top / "exec"), "--pidfile", str(top / "dockerd.pid"), "-H", f"unix://{sock}",
         "--bridge", "none", "--iptables=false", "--ip-masq=false", "--storage-driver", "overlay2",
         "--exec-opt", "native.cgroupdriver=cgroupfs", "--default-ulimit", "nofile=20000:20000",
         "--registry-mirror", "http://127.0.0.1:5000", "--insecure-registry", "127.0.0.1:5000"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "-H", f"unix://{sock}", "version"], capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("dockerd did not start within a minute:\n" + (top / "dockerd.log").read_text()[-2000:])
            time.sleep(0.5)
        yield f"unix://{sock}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        with open("/proc/self/mountinfo") as f:
            left = [line.split()[4] for line in f if str(top) in line.split()[4]]
        for mount in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(top, ignore_errors=True)


# docker-py's UnixHTTPConnection.connect leaves the socket of a refused connect to the collector
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_connect_and_disconnect_words(ip: InteractiveShell, tmp_path: Path) -> None:
    def magic(line: str) -> tuple[str, str, int]:
        with capture_output() as cap:
            ip.run_line_magic("dockernb", line)
        return cap.stdout, cap.stderr, ip.user_ns["_exit_code"]

    out, err, code = magic("connect foo://x")
    assert (out, code) == ("", 1) and "Invalid bind address format: foo://x" in err
    out, err, code = magic(f"connect unix://{tmp_path}/absent.sock")
    assert (out, code) == ("", 1)
    assert f"Cannot connect to the Docker daemon at unix://{tmp_path}/absent.sock. Is the docker daemon running?" in err
    with pytest.raises(UsageError, match=r"^usage: %dockernb connect unix:///PATH"):
        ip.run_line_magic("dockernb", "connect")
    assert magic("disconnect") == ("using the in-process engine\n", "", 0)
    gc.collect()  # here, where the mark applies


def test_in_process(tmp_path: Path, images_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_expected(_check(_run_notebook(tmp_path, images_env, None, monkeypatch), None))


def test_dockernb_serve(tmp_path: Path, root_dir: Path, images_env: dict[str, str],
                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with ServedApi(root=root_dir, env=images_env) as served:
        nb = _run_notebook(tmp_path, {"HOME": images_env["HOME"]}, served.docker_host, monkeypatch)
    _assert_expected(_check(nb, served.docker_host))


def test_dockerd(tmp_path: Path, dockerd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_expected(_check(_run_notebook(tmp_path, {}, dockerd, monkeypatch), dockerd))


def test_docker_kernel_follows_docker_host(tmp_path: Path, root_dir: Path, images_env: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from jupyter_client.manager import start_new_kernel

    from tests.integration.notebook.test_kernel import run

    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "dockernb.kernel", "install", "--prefix", str(prefix)],
                   capture_output=True, check=True)  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share/jupyter"))
    with ServedApi(root=root_dir, env=images_env) as served:
        monkeypatch.setenv("DOCKER_HOST", served.docker_host)  # the kernel's whole environment: no DOCKERNB_ROOT
        km, kc = start_new_kernel(kernel_name="dockernb", cwd=str(tmp_path))
        try:
            status, outs = run(kc, "docker run -d --name kremote busybox sleep 300 >/dev/null && "
                                   "docker ps --format '{{.Names}} {{.Image}}' && docker exec kremote echo in-it && "
                                   "docker restart -t 0 kremote && docker create --name kmade busybox echo made "
                                   ">/dev/null && docker start kmade && docker wait kmade && "
                                   "docker logs kmade | cat && docker rm -f kremote kmade")  # fmt: skip
        finally:
            kc.stop_channels()
            km.shutdown_kernel()
        want = "kremote busybox\nin-it\nkremote\nkmade\n0\nmade\nkremote\nkmade\n"
        assert (status, outs) == ("ok", [("stdout", want)])
        with docker.APIClient(base_url=served.docker_host) as api:  # it was the served engine's
            assert api.containers(all=True) == []
            assert any("busybox:latest" in (i.get("RepoTags") or []) for i in api.images())
