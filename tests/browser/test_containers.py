"""The Docker sidebar with real containers: a notebook starts one (``%docker run -d``), the sidebar
shows it, opens a shell, logs and an attachment in terminals, stops it, removes and prunes
(JupyterLab in headless chromium, the real engine, root pass only).

The lab's engine root sees the session's shared busybox (no pull); everything the test starts
is removed through the engine before the lab stops, and checked gone (processes, mounts).
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Browser, open_lab, shot
from tests.browser.launcher import Jupyter, free_port, jupyter
from tests.integration.containers.conftest import clean_root

API = "/dockernb/api/v1"
NAME = "nbweb"
IDLE = "nbidle"
pytestmark = pytest.mark.slow

SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # xterm keeps an accessible copy of the screen in the DOM: the test reads the terminal there
    "@jupyterlab/terminal-extension:plugin": {"screenReaderMode": True},
}


def _cells(port: int) -> list[str]:
    # a web server that stops at once on SIGTERM (a shell as pid 1 ignores it without a trap)
    script = ("trap 'exit 0' TERM; echo serving on 80; echo hello-from-nbweb > /tmp/index.html; "
              "httpd -f -v -p 80 -h /tmp & wait")
    return [
        "%load_ext dockernb",
        f'%docker run -d --name {NAME} -p 127.0.0.1:{port}:80 busybox sh -c "{script}"',
        f"%docker create --name {IDLE} busybox true",
    ]


def _notebook(sources: list[str]) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": source} for i, source in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(shared_images: Path) -> Iterator[tuple[Jupyter, int]]:
    keys = ("DOCKERNB_REGISTRY_MIRRORS", "DOCKERNB_INSECURE_REGISTRIES", "DOCKERNB_KIT_DIR")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    env["DOCKERNB_IMAGE_STORES"] = str(shared_images)
    port = free_port()
    with jupyter("lab-containers", app="lab", args=["--LabApp.expose_app_in_browser=True"], env=env,
                 lab_settings=SETTINGS) as server:
        (server.root / "run.ipynb").write_text(json.dumps(_notebook(_cells(port))))
        try:
            yield server, port
        finally:
            left = clean_root({**os.environ, **env, "DOCKERNB_ROOT": str(server.engine_root)}, server.engine_root)
            assert not left, f"left behind: {left}"


def row(name: str) -> str:
    return f"#dockernb-containers li.dockernb-container[data-name='{name}']"


def _terminal_text(page: Any, name: str) -> str:
    return str(page.evaluate("""n => { const w = [...window.jupyterapp.shell.widgets('main')]
        .find(w => w.content?.session?.name === n);
        return w ? w.node.querySelector('.xterm-accessibility-tree')?.innerText ?? '' : ''; }""", name))


def _wait_terminal(page: Any, name: str, pattern: str) -> str:
    page.wait_for_function(
        """([n, p]) => { const w = [...window.jupyterapp.shell.widgets('main')]
           .find(w => w.content?.session?.name === n);
           const t = w?.node.querySelector('.xterm-accessibility-tree')?.innerText ?? '';
           return new RegExp(p, 'm').test(t); }""",
        arg=[name, pattern], timeout=90_000)
    return _terminal_text(page, name)


def _show_sidebar(b: Browser) -> None:
    b.page.evaluate("window.jupyterapp.shell.activateById('dockernb-sidebar')")
    b.page.wait_for_selector("#dockernb-sidebar:visible")
    b.page.wait_for_selector(".dockernb-live[data-state='live'], .dockernb-live[data-state='manual']")


def _live(b: Browser) -> bool:
    return b.page.get_attribute(".dockernb-live", "data-state") == "live"


def test_a_notebook_container_in_the_sidebar(chromium: Any, lab: tuple[Jupyter, int]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # the browser extra (make setup)

    server, port = lab
    with open_lab(chromium, server, "run.ipynb") as b:
        page = b.page
        page.wait_for_function("""() => {
            const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
            return k?.status === 'idle' && k?.connectionStatus === 'connected'; }""", timeout=120_000)
        _show_sidebar(b)
        page.wait_for_selector("#dockernb-containers .dockernb-empty:not(:has-text('loading'))")
        assert page.locator(row(NAME)).count() == 0

        # the notebook starts a container (%docker run -d) and creates another
        # not awaited: the command's promise follows the execution, the cells' counts say when it is done
        page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function("""() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            return nb.widgets.every(c => c.model.executionCount) && nb.widgets.every(c => !c.node.classList
                .contains('jp-mod-running')); }""", timeout=180_000)
        status, body = server.api(f"{API}/containers")
        ids = {c["name"]: c["id"] for c in body["containers"]}
        assert status == 200 and set(ids) == {NAME, IDLE}, (body, page.inner_text(".jp-Notebook"))
        cid, idle_id = ids[NAME], ids[IDLE]
        # the magic's own output names the container the sidebar is about to show
        assert f"<Container: {cid[:12]} {NAME}>" in page.inner_text(".jp-Cell:nth-child(2) .jp-OutputArea")

        # it appears by the engine's event (the event log): nothing asks the sidebar to refresh
        assert _live(b), page.inner_text(".dockernb-live")
        page.wait_for_selector(f"{row(NAME)}[data-state='running']", timeout=60_000)
        page.wait_for_selector(f"{row(IDLE)}[data-state='created']", timeout=60_000)
        assert page.inner_text("#dockernb-containers .dockernb-section-title") == "Containers (2)"
        assert page.inner_text(f"{row(IDLE)} .dockernb-state") == "Created"
        assert page.inner_text(f"{row(NAME)} .dockernb-state").startswith("Up ")
        detail = page.inner_text(f"{row(NAME)} .dockernb-row-detail")
        assert detail.startswith("busybox"), detail
        # the published port is a link that reaches the container's web server
        link = page.locator(f"{row(NAME)} a.dockernb-port")
        assert link.inner_text() == f"{port}→80/tcp"
        href = link.get_attribute("href")
        # through jupyter-server-proxy (the browser extra installs it): reachable wherever the lab is
        assert server.api(f"{API}/client")[1]["proxy"] is True
        assert href == f"{server.url}/proxy/{port}/"
        req = urllib.request.Request(href, headers={"Authorization": f"token {server.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.read().decode().strip() == "hello-from-nbweb"
        shot(page, "containers-running")

        # "Open a shell": a JupyterLab terminal running `dockernb exec -it nbweb sh`; hostname answers
        page.click(f"{row(NAME)} button[data-action='shell']")
        term = f"dockernb_shell_{NAME}"
        _wait_terminal(page, term, r"^/ # $")
        page.click(".jp-Terminal:visible .xterm-screen")
        page.keyboard.type("hostname")
        page.keyboard.press("Enter")
        text = _wait_terminal(page, term, rf"^{cid[:12]}\s*$")
        assert f"exec -it {NAME} sh" in text
        shot(page, "containers-shell")
        page.keyboard.type("exit")
        page.keyboard.press("Enter")
        assert server.api(f"/api/terminals/{term}", method="DELETE")[0] == 204

        # its logs, followed in a terminal
        page.click(f"{row(NAME)} button[data-action='logs']")
        _wait_terminal(page, f"dockernb_logs_{NAME}", r"^serving on 80\s*$")
        assert server.api(f"/api/terminals/dockernb_logs_{NAME}", method="DELETE")[0] == 204

        # "Attach": the container's output from now on (httpd -v logs each request on stderr)
        page.click(f"{row(NAME)} button[data-action='attach']")
        term = f"dockernb_attach_{NAME}"
        _wait_terminal(page, term, rf"attach {NAME}$")
        req = urllib.request.Request(href, headers={"Authorization": f"token {server.token}"})
        for _ in range(60):  # until the attachment is there to see a request
            with urllib.request.urlopen(req, timeout=30) as resp:
                resp.read()
            try:
                page.wait_for_function(
                    """n => [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.session?.name === n)
                       ?.node.querySelector('.xterm-accessibility-tree')?.innerText.includes('response:200')""",
                    arg=term, timeout=1_000)
                break
            except PlaywrightTimeout:
                continue
        assert "response:200" in _terminal_text(page, term)
        shot(page, "containers-attach")
        assert server.api(f"/api/terminals/{term}", method="DELETE")[0] == 204

        # stop it from the sidebar: the row's state follows
        _show_sidebar(b)
        page.click(f"{row(NAME)} button[data-action='stop']")
        page.wait_for_selector(f"{row(NAME)}[data-state='exited']", timeout=60_000)
        assert page.inner_text(f"{row(NAME)} .dockernb-state").startswith("Exited (0) ")
        assert page.locator(f"{row(NAME)} button").all_inner_texts() == ["start", "logs", "remove"]
        status, body = server.api(f"{API}/containers")
        states = sorted((c["name"], c["state"]) for c in body["containers"])
        assert status == 200 and states == [(IDLE, "created"), (NAME, "exited")], body
        shot(page, "containers-stopped")

        # remove one from its row, prune the other from the palette's command (progress in the sidebar)
        page.click(f"{row(IDLE)} button[data-action='remove']")
        page.wait_for_selector(row(IDLE), state="detached", timeout=60_000)
        page.evaluate("window.jupyterapp.commands.execute('dockernb:prune', {confirmed: true})")
        page.wait_for_selector(".dockernb-op:first-child[data-state='done'] summary:has-text('prune')", timeout=60_000)
        lines = page.inner_text(".dockernb-op:first-child .dockernb-op-output").splitlines()
        assert lines[:3] == ["Deleted Containers:", cid, ""], lines
        assert re.fullmatch(r"Total reclaimed space: \d+(\.\d+)?[kMG]?B", lines[-1]), lines
        page.wait_for_selector(row(NAME), state="detached", timeout=60_000)
        assert idle_id not in lines
        assert server.api(f"{API}/containers") == (200, {"containers": []})
        shot(page, "containers-pruned")
        assert b.errors == []
