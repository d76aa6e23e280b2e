"""The Docker kernel driven by jupyter_client: persistent bash, docker in pipelines and as widgets."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

# root pass only: these start a real kernel (ipykernel, jupyter_client: the notebook extra), which the
# rootless venv (the test extra) lacks;
# the rootless pass covers the magics and the Python API in test_magics.py and test_containers.py
pytestmark = [pytest.mark.kit]


@pytest.fixture
def kernel(tmp_path: Path, images_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    prefix = tmp_path / "prefix"
    done = subprocess.run([sys.executable, "-m", "dockernb.kernel", "install", "--prefix", str(prefix)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "Installed kernelspec dockernb (Docker (dockernb))" in done.stdout
    spec = (prefix / "share/jupyter/kernels/dockernb/kernel.json").read_text()
    assert '"display_name": "Docker (dockernb)"' in spec
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share/jupyter"))
    for key, value in images_env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "work"
    work.mkdir()
    before = set(Path(tempfile.gettempdir()).glob("dockernb-kernel-*"))
    km, kc = start_new_kernel(kernel_name="dockernb", cwd=str(work))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel()  # a polite shutdown: the kernel removes its socket directory and stops bash
    assert set(Path(tempfile.gettempdir()).glob("dockernb-kernel-*")) == before


def run(kc: Any, code: str) -> tuple[str, list[tuple[str, Any]]]:  # noqa: ANN401
    msgs: list[dict[str, Any]] = []
    reply = kc.execute_interactive(code, timeout=120, output_hook=msgs.append, allow_stdin=False)
    outs: list[tuple[str, Any]] = []
    for m in msgs:
        kind, content = m["msg_type"], m["content"]
        if kind == "stream":
            if outs and outs[-1][0] == content["name"]:
                outs[-1] = (content["name"], outs[-1][1] + content["text"])
            else:
                outs.append((content["name"], content["text"]))
        elif kind == "display_data":
            outs.append(("display", content["data"]))
        elif kind == "error":
            outs.append(("error", content["evalue"]))
    return reply["content"]["status"], outs


def test_cells_share_one_bash_and_docker_is_the_engine(kernel: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    assert run(kernel, "mkdir -p app && cd app && echo 'FROM busybox' > Dockerfile && export GREETING=hi") == ("ok", [])
    status, outs = run(kernel, "pwd; cat Dockerfile; echo $GREETING")
    assert (status, outs) == ("ok", [("stdout", f"{work}/app\nFROM busybox\nhi\n")])
    # a whole-line docker command renders with the widgets (text twin beside it)
    status, outs = run(kernel, "docker images")
    assert status == "ok" and outs[0][0] == "display"
    assert "application/vnd.jupyter.widget-view+json" in outs[0][1] and "busybox" in outs[0][1]["text/plain"]
    # inside a pipeline or $(...): the CLI's text, through the pipe
    status, outs = run(kernel, "docker images -q | wc -l; for r in $(docker images --format '{{.Repository}}'); "
                               "do echo repo=$r; done | sort")  # fmt: skip
    assert (status, outs) == ("ok", [("stdout", "2\nrepo=busybox\nrepo=debian\n")])
    # xargs runs the docker executable (not the function)
    status, outs = run(kernel, "echo busybox | xargs docker image inspect -f '{{.Config.Cmd}}'")
    assert (status, outs) == ("ok", [("stdout", "[sh]\n")])
    # stdin reaches the engine: docker load from a pipe of docker save
    status, outs = run(kernel, "docker save busybox | docker load -q")
    assert status == "ok" and outs[-1][1].startswith("Loaded image: busybox:latest"), outs
    # build: the context is bash's $PWD
    # build: the context is bash's $PWD (RUN/COPY steps need the build executor, which lands with `buildexec`)
    status, outs = run(kernel, "docker build -t nbk-app . > build.log 2>&1; head -2 build.log")
    assert outs[0][1].startswith("Sending build context to Docker daemon") and "Step 1/1 : FROM busybox" in outs[0][1]
    # run: a whole line streams into the cell; the cell's directory and variables reach the container
    status, outs = run(kernel, 'docker run --rm -v "$PWD":/ctx -e GREETING busybox sh -c \'cat /ctx/Dockerfile; '
                               'echo $GREETING\'')  # fmt: skip
    assert (status, outs) == ("ok", [("stdout", "FROM busybox\nhi\n")])
    status, outs = run(kernel, "docker run --rm -e X=piped busybox sh -c 'echo $X' | tr a-z A-Z; "
                               "docker ps -aq | wc -l")  # fmt: skip
    assert (status, outs) == ("ok", [("stdout", "PIPED\n0\n")])
    status, outs = run(kernel, "docker run --name failing busybox sh -c 'exit 4'; echo rc=$?; docker rm failing")
    assert (status, outs) == ("ok", [("stdout", "rc=4\nfailing\n")])


def test_errors_and_exit_codes(kernel: Any) -> None:
    status, outs = run(kernel, "docker rmi nosuch")
    assert status == "error" and ("stderr", "Error: No such image: nosuch\n") in outs and ("error", "1") in outs
    status, outs = run(kernel, "docker images --bogus; echo rc=$?")
    assert status == "ok"
    assert outs == [("stderr", "unknown flag: --bogus\nSee 'dockernb images --help'.\n"), ("stdout", "rc=125\n")]
    status, outs = run(kernel, "exit 3")
    assert status == "error"
    status, outs = run(kernel, "echo alive")
    assert (status, outs) == ("ok", [("stdout", "alive\n")])
