"""Notebooks executed headless by nbclient (a real ipykernel): the magics' widgets land in the saved state."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from dockernb.client import DockerClient

# root pass only: these start a real ipykernel (the notebook extra), which the rootless venv (the test extra) lacks;
# the rootless pass covers the magics and the Python API in test_magics.py and test_containers.py
pytestmark = [pytest.mark.kit]

CELLS = [
    "%load_ext dockernb",
    "%docker images",
    "imgs = %docker images\nsorted(t for i in imgs for t in i.tags)",
    "%docker pull hello-world",
    "%docker image inspect busybox",
    "%docker rmi nosuch\n_exit_code",
    "name = 'busybox'\n%docker images --format '{{.Repository}}' $name",
    "c = %docker run -d --name nbweb busybox sleep 300\nc.status",
    "%docker run -it --name nbit busybox sh -c 'echo hi-from-it; cat; echo eof-seen'",
    "c.exec('echo via-exec').output, c.status",
    "%docker ps",  # the last cell: the saved widget state is the table's (live, still running)
]


def _execute(tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ANN401
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    finally:
        with DockerClient.from_env(env) as client:  # the containers outlive the kernel, as docker's do
            for c in client.containers.list(all=True):
                c.remove(force=True)
    return nb


def test_widget_state_is_stored(tmp_path: Path, images_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute(tmp_path, images_env, monkeypatch)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {mid: m for mid, m in state.items()}

    def view_of(cell: int, n: int = 0) -> dict[str, Any]:
        outs = [o for o in nb.cells[cell].outputs if o.output_type == "display_data"]
        return outs[n]

    def children(mid: str) -> list[str]:
        return [c.removeprefix("IPY_MODEL_") for c in models[mid]["state"].get("children", [])]

    # images: a VBox whose grid holds the rows' cells, with docker's words
    images = view_of(1)
    root = images.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert models[root]["model_name"] == "VBoxModel"
    grid = next(c for c in children(root) if models[c]["model_name"] == "GridBoxModel")
    cells = [models[c]["state"].get("value", "") for c in children(grid) if models[c]["model_name"] == "HTMLModel"]
    assert any("REPOSITORY" in v for v in cells) and any(">busybox<" in v for v in cells)
    buttons = [models[b]["state"]["description"] for c in children(grid) if models[c]["model_name"] == "HBoxModel"
               for b in children(c)]  # fmt: skip
    assert {"run", "history", "inspect", "remove"} <= set(buttons)
    assert "busybox" in images.data["text/plain"] and "<table" in images.data["text/html"]
    # the value of `imgs = %docker images`
    assert nb.cells[2].outputs[-1].data["text/plain"] == "['busybox:latest', 'debian:bookworm']"
    # pull: every layer bar and the total bar full and green
    bars = [m["state"] for m in state.values() if m["model_name"] == "IntProgressModel"]
    assert bars and all(b["value"] == b["max"] and b["bar_style"] == "success" for b in bars)
    assert any(b.get("description") == "Total" for b in bars)
    # the display was updated at the end: the saved text is the whole pull, as docker prints it
    (pull,) = [o for o in nb.cells[3].outputs if o.output_type == "display_data"]
    assert pull.data["text/plain"].splitlines()[-1] == "hello-world:latest"
    assert nb.cells[3].outputs[-1].data["text/plain"] == "<Image: 'hello-world:latest'>"
    # inspect: a collapsible tree
    tree = view_of(4)
    tree_model = models[tree.data["application/vnd.jupyter.widget-view+json"]["model_id"]]
    assert "<details open>" in tree_model["state"]["value"] and "Config" in tree_model["state"]["value"]
    # an engine error: one stderr line, no traceback, the exit code in _exit_code
    errs = [o for o in nb.cells[5].outputs if o.output_type == "stream" and o.name == "stderr"]
    assert [o.text for o in errs] == ["Error: No such image: nosuch\n"]
    assert not [o for o in nb.cells[5].outputs if o.output_type == "error"]
    assert nb.cells[5].outputs[-1].data["text/plain"] == "1"
    assert nb.cells[6].outputs[0].text == "busybox\n"
    # run -d: a status card, and the handle's status read from the engine
    (card,) = [o for o in nb.cells[7].outputs if o.output_type == "display_data"]
    card_model = models[card.data["application/vnd.jupyter.widget-view+json"]["model_id"]]
    assert card_model["model_name"] == "VBoxModel" and "dockernb-card" in card_model["state"]["_dom_classes"]
    assert nb.cells[7].outputs[-1].data["text/plain"] == "'running'"
    # -it without stdin (nbclient): end-of-input, what it printed, its exit code, and a word on it
    streams = {o.name: o.text for o in nb.cells[8].outputs if o.output_type == "stream"}
    assert streams == {"stdout": "hi-from-it\neof-seen\n", "stderr": "(no terminal in this front end: sent "
                       "end-of-input to nbit's terminal; exit code 0)\n"}  # fmt: skip
    assert nb.cells[9].outputs[-1].data["text/plain"] == "(b'via-exec\\n', 'running')"
    # ps: the running container's row, with the actions a running container offers
    root = view_of(10).data["application/vnd.jupyter.widget-view+json"]["model_id"]
    grid = next(c for c in children(root) if models[c]["model_name"] == "GridBoxModel")
    cells = [models[c]["state"].get("value", "") for c in children(grid) if models[c]["model_name"] == "HTMLModel"]
    assert any(">nbweb<" in v for v in cells) and any(">busybox<" in v for v in cells)
    assert any("CONTAINER ID" in v for v in cells) and any(">Up " in v for v in cells)
    (row,) = [c for c in children(grid) if models[c]["model_name"] == "HBoxModel"]
    enabled = {models[b]["state"]["description"]: not models[b]["state"]["disabled"] for b in children(row)}
    assert enabled == {"start": False, "stop": True, "restart": True, "remove": True, "logs": True,
                       "inspect": True, "shell": True}  # fmt: skip
    assert "nbweb" in view_of(10).data["text/plain"] and "nbit" not in view_of(10).data["text/plain"]
    assert os.listdir(tmp_path) == []  # nothing written beside the notebook


def _until_idle(kc: Any, msg_id: str, on_output: Any = None, timeout: float = 120) -> list[tuple[str, str]]:  # noqa: ANN401
    """The stream/error outputs of one execute request, until its kernel went idle."""
    outs: list[tuple[str, str]] = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outs.append((content["name"], content["text"]))
            if on_output is not None:
                on_output(outs)
        elif kind == "error":
            outs.append(("error", content["ename"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return outs


@pytest.mark.parametrize(("script", "ended_by", "exit_code"), [
    ("echo ready; exec sleep 300", "SIGKILL", "137"),  # sleep as PID 1 ignores SIGINT and SIGTERM
    ("trap 'echo got-int; exit 7' INT; echo ready; while :; do sleep 0.1; done", "SIGINT", "7"),
])  # fmt: skip
def test_interrupting_the_kernel_stops_a_foreground_run(
    images_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, script: str, ended_by: str, exit_code: str
) -> None:
    from jupyter_client.manager import start_new_kernel

    for key, value in images_env.items():
        monkeypatch.setenv(key, value)
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        assert _until_idle(kc, kc.execute("%load_ext dockernb")) == []
        sent: list[bool] = []

        def interrupt_when_ready(outs: list[tuple[str, str]]) -> None:
            if not sent and "ready" in "".join(t for n, t in outs if n == "stdout"):
                sent.append(True)
                km.interrupt_kernel()  # SIGINT to the kernel, as the notebook's stop button

        outs = _until_idle(kc, kc.execute(f'%docker run --name fg busybox sh -c "{script}"'), interrupt_when_ready)
        assert sent, outs
        err = "".join(t for n, t in outs if n == "stderr")
        assert re.fullmatch(rf"interrupted: the container [0-9a-f]{{12}} was stopped by {ended_by}\n", err), outs
        assert ("error", "KeyboardInterrupt") not in outs  # no traceback
        outs = _until_idle(kc, kc.execute("%docker ps -a --format '{{.Names}} {{.State}}'\n"
                                          "%docker inspect -f '{{.State.ExitCode}}' fg"))  # fmt: skip
        assert "".join(t for _, t in outs) == f"fg exited\n{exit_code}\n"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        with DockerClient.from_env(images_env) as client:
            for c in client.containers.list(all=True):
                c.remove(force=True)
