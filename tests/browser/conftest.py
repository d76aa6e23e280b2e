"""A JupyterLab with dockernb's extensions, and Debian's chromium driving it (root pass only)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.launcher import ARTIFACTS, Jupyter, jupyter

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

CELLS = [
    '%%dockerfile -t web .\n# build a web image\nFROM nginx:latest\nRUN echo "hi" > /usr/share/nginx/html/index.html\n'
    'EXPOSE 80\nCMD ["nginx", "-g", "daemon off;"]',
    "FROM = 1\nprint(FROM)",
]
DOCKERFILE = '# a comment\nFROM busybox:latest\nRUN echo "hello" > /hi\nCMD ["cat", "/hi"]\n'


def _notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _require_setup() -> None:
    # these are installed by `make test` (setup + labext); missing them is a failure, not a skip
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make setup does)")
    built = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "dockernb-labext" / "package.json"
    if not built.exists():
        pytest.fail(f"the lab extension is not installed in this environment ({built}): run `make labext`")
    try:
        import jupyterlab  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as err:
        pytest.fail(f"{err.name} is missing: pip install -e '.[jupyter,browser]' (make setup does)")


@pytest.fixture(scope="package")
def lab() -> Iterator[Jupyter]:
    _require_setup()
    settings = {
        # no "official Jupyter news?" toast over the screenshots
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        # xterm keeps an accessible copy of the screen in the DOM: the tests read the terminal there
        "@jupyterlab/terminal-extension:plugin": {"screenReaderMode": True},
    }
    with jupyter("lab", app="lab", args=["--LabApp.expose_app_in_browser=True"], lab_settings=settings) as server:
        (server.root / "proj").mkdir()
        (server.root / "proj" / "cells.ipynb").write_text(json.dumps(_notebook(CELLS)))
        (server.root / "proj" / "app.Dockerfile").write_text(DOCKERFILE)
        (server.root / "proj" / "Dockerfile").write_text(DOCKERFILE)
        yield server


@dataclass
class Browser:
    page: Any
    #: uncaught exceptions in the page (a broken plugin shows up here first)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (which downloads no browser of its own)."""
    _require_setup()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() keeps its profile in a temporary directory of its own and removes it on close
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_lab(chromium: Any, lab: Jupyter, path: str) -> Iterator[Browser]:
    """A fresh browser context on ``lab``, at ``/lab/tree/<path>``, ready (kernel idle or lab started)."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        b = Browser(ctx.new_page())
        b.page.on("pageerror", lambda exc: b.errors.append(str(exc)))
        where = f"/lab/tree/{path}" if path else "/lab"
        b.page.goto(f"{lab.url}{where}?reset&token={lab.token}")
        b.page.wait_for_function("!!window.jupyterapp", timeout=90_000)
        b.page.evaluate("window.jupyterapp.restored.then(() => true)")
        yield b
    finally:
        ctx.close()


@pytest.fixture(scope="package")
def browser(chromium: Any, lab: Jupyter) -> Iterator[Browser]:
    with open_lab(chromium, lab, "proj/cells.ipynb") as b:
        b.page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        yield b


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
