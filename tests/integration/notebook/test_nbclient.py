"""Notebooks executed headless by nbclient (a real ipykernel): the magics' widgets land in the saved state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.kit]

CELLS = [
    "%load_ext dockernb",
    "%docker images",
    "imgs = %docker images\nsorted(t for i in imgs for t in i.tags)",
    "%docker pull hello-world",
    "%docker image inspect busybox",
    "%docker rmi nosuch\n_exit_code",
    "name = 'busybox'\n%docker images --format '{{.Repository}}' $name",
]


def _execute(tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: ANN401
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
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
    assert os.listdir(tmp_path) == []  # nothing written beside the notebook
