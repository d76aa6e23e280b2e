"""The magics' widgets rendered by JupyterLab in Debian's chromium: a pull's progress bars and the ps table.

A notebook with ``%docker pull hello-world`` (from the kit), ``%docker run -d`` and ``%docker ps`` is
executed headless (nbclient, widget state stored) and opened in JupyterLab, which draws the
saved widgets; they are checked in the page's DOM and saved as screenshots
(tests/artifacts/notebook-pull.png, notebook-ps.png, notebook.png).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from dockernb.client import DockerClient
from tests.browser.conftest import Browser, _notebook, open_lab, shot
from tests.browser.launcher import ARTIFACTS, Jupyter

pytestmark = [pytest.mark.slow, pytest.mark.kit]

CELLS = [
    "%load_ext dockernb",
    "%docker pull hello-world",
    "c = %docker run -d --name shown busybox sleep 300",
    "%docker ps",
]


def test_pull_bars_and_ps_table_render_in_the_lab(chromium: Any, lab: Jupyter,  # noqa: ANN401
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # run headless (nbclient, widget state stored) on the lab's engine, then let JupyterLab draw the
    # saved widgets: what a user opening an executed notebook (or nbconvert's HTML) sees
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("DOCKERNB_ROOT", str(lab.engine_root))
    from dockernb.errors import NoSuchImage

    with DockerClient.from_env(dict(os.environ)) as client:  # the lab is shared: this pull must download
        try:
            client.images.remove("hello-world", force=True)
        except NoSuchImage:
            pass
    nb = nbformat.reads(json.dumps(_notebook(CELLS)), as_version=4)
    try:
        NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(lab.root / "proj")}}).execute()  # fmt: skip
        # trusted, as a notebook the user ran: JupyterLab draws saved widgets only in trusted notebooks
        nbformat.sign.NotebookNotary(data_dir=str(lab.root.parent / "data")).sign(nb)
        nbformat.write(nb, str(lab.root / "proj" / "widgets.ipynb"))
        with open_lab(chromium, lab, "proj/widgets.ipynb") as b:
            _check(b)
    finally:
        with DockerClient.from_env(dict(os.environ)) as client:
            for c in client.containers.list(all=True):
                c.remove(force=True)


def _check(b: Browser) -> None:
    page = b.page
    table = page.locator(".dockernb-table")
    try:
        # the widget manager draws the saved models once the notebook's kernel is up
        page.locator(".dockernb-pull .widget-hprogress").first.wait_for(state="visible", timeout=120_000)
        table.wait_for(state="visible", timeout=120_000)
    finally:
        shot(page, "notebook")
    # the pull: one bar per layer plus the total, all full
    pull = page.locator(".dockernb-pull")
    pull.wait_for(state="visible")
    text = pull.inner_text()
    assert "Total" in text and "Pull complete" in text, text
    assert pull.locator(".widget-hprogress").count() >= 2
    assert "Status: Downloaded newer image for hello-world:latest" in text
    # the ps table: docker's columns, the running row and its actions
    cells = table.inner_text()
    for header in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
        assert header in cells
    assert "shown" in cells and "busybox" in cells and "Up " in cells and '"sleep 300"' in cells
    assert table.locator("button:text-is('stop')").is_enabled()
    assert table.locator("button:text-is('start')").is_disabled()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pull.screenshot(path=str(ARTIFACTS / "notebook-pull.png"))
    table.screenshot(path=str(ARTIFACTS / "notebook-ps.png"))
    shot(page, "notebook")
    assert not b.errors, b.errors
