"""The sidebar with data: rows, actions, live updates, errors, through the real server and browser.

This lab runs the stand-ins of ``tests/integration/jupyter_fake.py`` behind the real server
extension: it tests our own seam (API <-> model <-> views) with fixed rows, a live event feed
and refusals on demand, not containers (test_containers.py drives the real engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Browser, open_lab, shot
from tests.browser.launcher import Jupyter, jupyter

pytestmark = pytest.mark.slow

FAKE = "--DockernbJupyter.engine_factory=tests.integration.jupyter_fake:make_engine"
SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


@pytest.fixture(scope="module")
def seam(chromium: Any) -> Iterator[tuple[Jupyter, Browser]]:
    # jupyter-server-proxy off here: ports link straight to the host (test_containers covers the proxy)
    args = ["--LabApp.expose_app_in_browser=True", FAKE, "--ServerApp.jpserver_extensions=jupyter_server_proxy=False"]
    with jupyter("lab-seam", app="lab", args=args,
                 lab_settings=SETTINGS) as lab, open_lab(chromium, lab, "") as b:
        b.page.click(".jp-SideBar [data-id='dockernb-sidebar']")
        b.page.wait_for_selector("#dockernb-sidebar:visible")
        yield lab, b


def row(name: str) -> str:
    return f"#dockernb-containers li.dockernb-container[data-name='{name}']"


def test_rows_render_the_records(seam: tuple[Jupyter, Browser]) -> None:
    _, b = seam
    page = b.page
    page.wait_for_selector(".dockernb-live[data-state='live']")
    assert page.inner_text(".dockernb-live") == "● live updates from the engine"
    page.wait_for_selector(f"{row('web')}[data-state='running']")
    assert page.inner_text(f"{row('web')} .dockernb-row-detail").startswith("nginx:latest")
    link = page.locator(f"{row('web')} a.dockernb-port")
    assert link.inner_text() == "8080→80/tcp"
    assert link.get_attribute("href") == "http://127.0.0.1:8080/"  # jupyter-server-proxy is off here
    assert page.locator(f"{row('web')} button").all_inner_texts() == ["stop", "restart", "shell", "attach", "logs",
                                                                       "remove"]
    assert page.locator(f"{row('db')} button").all_inner_texts() == ["start", "logs", "remove"]
    assert page.inner_text("#dockernb-containers .dockernb-section-title") == "Containers (2)"
    image = "#dockernb-images li.dockernb-image[data-ref='busybox:latest']"
    assert page.inner_text(f"{image} .dockernb-row-detail") == "c" * 12 + " · 4.3MB"
    shot(page, "sidebar-seam")
    assert b.errors == []


def test_actions_update_live_from_events(seam: tuple[Jupyter, Browser]) -> None:
    _, b = seam
    page = b.page
    page.wait_for_selector(".dockernb-live[data-state='live']")
    # the sidebar does not re-read after an action while events flow: the event does it
    page.click(f"{row('web')} button[data-action='stop']")
    page.wait_for_selector(f"{row('web')}[data-state='exited']")
    page.click(f"{row('web')} button[data-action='start']")
    page.wait_for_selector(f"{row('web')}[data-state='running']")
    page.click(f"{row('db')} button[data-action='remove']")
    page.wait_for_selector(row("db"), state="detached")
    assert page.inner_text("#dockernb-containers .dockernb-section-title") == "Containers (1)"
    # a refused action shows the engine's sentence in a dialog
    page.click(f"{row('web')} button[data-action='remove']")
    dialog = page.wait_for_selector(".jp-Dialog-content")
    assert "You cannot remove a running container" in dialog.inner_text()
    page.click(".jp-Dialog-footer button:has-text('Close')")
    page.wait_for_selector(".jp-Dialog", state="detached")
    assert page.locator(row("web")).count() == 1
    assert b.errors == []


def test_pull_progress_and_failure(seam: tuple[Jupyter, Browser]) -> None:
    _, b = seam
    page = b.page
    page.evaluate("window.jupyterapp.commands.execute('dockernb:pull', {ref: 'alpine:3'})")
    page.wait_for_selector(".dockernb-op:first-child[data-state='done']")
    out = page.inner_text(".dockernb-op:first-child .dockernb-op-output")
    assert out.count("FakePullProgress") == 2 and "Pull complete" in out
    page.wait_for_selector("#dockernb-images li.dockernb-image[data-ref='alpine:3']")  # from the pull event
    page.evaluate("window.jupyterapp.commands.execute('dockernb:pull', {ref: 'broken:1'})")
    page.wait_for_selector(".dockernb-op:first-child[data-state='failed']")
    assert page.inner_text(".dockernb-op:first-child .dockernb-op-error") == "manifest for broken:1 is corrupt"
    shot(page, "sidebar-seam-activity")
    assert b.errors == []
