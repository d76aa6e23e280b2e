"""JupyterLab in headless chromium: the Docker sidebar, its commands and terminals, Dockerfile highlighting.

What the sidebar shows is checked against what the server's API says (the engine's own
services, whichever have landed); real containers in the sidebar are test_containers.py's.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import re
from typing import Any

import pexpect
import pytest

from dockernb._version import __version__
from tests.browser.conftest import Browser, shot
from tests.browser.launcher import Jupyter

API = "/dockernb/api/v1"
pytestmark = pytest.mark.slow


def js(page: Any, expr: str, arg: Any = None) -> Any:
    return page.evaluate(expr, arg)


NB = "window.jupyterapp.shell.currentWidget.content"


def open_doc(page: Any, path: str) -> None:
    js(page, "p => window.jupyterapp.commands.execute('docmanager:open', {path: p})", path)
    page.wait_for_function("p => window.jupyterapp.shell.currentWidget?.context?.path === p", arg=path)


def test_sidebar_shows_the_engine(browser: Browser, lab: Jupyter) -> None:
    page = browser.page
    page.wait_for_selector(".jp-SideBar [data-id='dockernb-sidebar']")
    page.click(".jp-SideBar [data-id='dockernb-sidebar']")
    page.wait_for_selector("#dockernb-sidebar:visible")
    version = lab.api(f"{API}/version")[1]
    page.wait_for_function(
        "t => document.querySelector('.dockernb-engine-version')?.textContent === t",
        arg=f"dockernb {version['version']} · API {version['api_version']}",
    )
    assert version["version"] == __version__
    # live updates: either the engine's feed, or the honest sentence that there is none
    page.wait_for_selector(".dockernb-live[data-state='live'], .dockernb-live[data-state='manual']")
    if page.get_attribute(".dockernb-live", "data-state") == "manual":
        assert "no events source yet" in page.inner_text(".dockernb-live")
    for section, noun in (("#dockernb-containers", "containers"), ("#dockernb-images", "images")):
        status, body = lab.api(f"{API}/{noun}")
        page.wait_for_selector(f"{section} .dockernb-rows > li:not(:has-text('loading'))")
        if status == 200:
            assert page.locator(f"{section} .dockernb-row").count() == len(body[noun])
        else:
            assert page.inner_text(f"{section} .dockernb-empty.dockernb-unavailable") == body["message"]
    shot(page, "lab-sidebar")
    assert browser.errors == []


def test_dockerfile_cell_is_highlighted(browser: Browser) -> None:
    page = browser.page
    js(page, "window.jupyterapp.shell.activateById(window.jupyterapp.shell.currentWidget.id)")
    page.wait_for_selector(".jp-Cell:nth-child(1) .tok-keyword")
    mimes = js(page, f"{NB}.widgets.map(c => c.model.mimeType)")
    kernel_mime = js(page, f"{NB}.codeMimetype")  # the notebook's own, from the kernel's language_info
    assert kernel_mime.startswith("text/x-") and "dockerfile" not in kernel_mime
    assert mimes == ["text/x-ipython-dockerfile", kernel_mime]
    cell = ".jp-Notebook .jp-Cell:nth-child(1) .cm-content"
    assert page.inner_text(f"{cell} .cm-line:first-child .tok-meta") == "%%dockerfile -t web ."
    keywords = page.locator(f"{cell} .tok-keyword").all_inner_texts()
    assert keywords[:4] == ["FROM", "RUN", "EXPOSE", "CMD"]
    assert page.locator(f"{cell} .tok-comment").all_inner_texts() == ["# build a web image"]
    assert '"hi"' in page.locator(f"{cell} .tok-string").all_inner_texts()
    # the Python cell keeps Python's mode: its FROM is a name, styled apart from a keyword
    python = ".jp-Notebook .jp-Cell:nth-child(2) .cm-content"
    assert page.locator(f"{python} .tok-keyword").count() == 0
    shot(page, "dockerfile-cell")

    # typing the magic switches a cell over, and removing it switches it back
    set_source = f"s => {NB}.widgets[1].model.sharedModel.setSource(s)"
    js(page, set_source, "%%dockerfile\nFROM busybox\nRUN true")
    page.wait_for_selector(f"{python} .tok-keyword")
    assert js(page, f"{NB}.widgets[1].model.mimeType") == "text/x-ipython-dockerfile"
    js(page, set_source, "FROM = 1\nprint(FROM)")
    page.wait_for_function(f"{NB}.widgets[1].model.mimeType === {NB}.codeMimetype")
    page.wait_for_selector(f"{python} .tok-keyword", state="detached")
    assert browser.errors == []


def _color(page: Any, selector: str) -> str:
    return str(js(page, "s => getComputedStyle(document.querySelector(s)).color", selector))


def _var_color(page: Any, var: str) -> str:
    return str(js(page, """v => { const e = document.createElement('span'); e.style.color = `var(${v})`;
        document.body.append(e); const c = getComputedStyle(e).color; e.remove(); return c; }""", var))


def test_dockerfiles_are_highlighted(browser: Browser) -> None:
    page = browser.page
    keyword = _var_color(page, "--jp-mirror-editor-keyword-color")
    # Dockerfile.* and *.Dockerfile: dockernb's language, with tok-* classes
    open_doc(page, "proj/app.Dockerfile")
    editor = f"#{js(page, 'window.jupyterapp.shell.currentWidget.id')} .cm-content"
    page.wait_for_selector(f"{editor} .tok-keyword")
    assert js(page, "window.jupyterapp.shell.currentWidget.content.model.mimeType") == "text/x-dockernb-dockerfile"
    assert page.locator(f"{editor} .tok-keyword").all_inner_texts() == ["FROM", "RUN", "CMD"]
    assert _color(page, f"{editor} .tok-keyword") == keyword
    shot(page, "dockerfile-editor")
    # plain Dockerfile: JupyterLab's own Dockerfile mode (no tok-* classes, same colours)
    open_doc(page, "proj/Dockerfile")
    assert js(page, "window.jupyterapp.shell.currentWidget.content.model.mimeType") == "text/x-dockerfile"
    page.wait_for_function(
        """k => [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.cm-line span')]
               .some(s => s.textContent === 'FROM' && getComputedStyle(s).color === k)""",
        arg=keyword,
    )
    assert browser.errors == []


def test_palette_has_the_docker_commands(browser: Browser) -> None:
    page = browser.page
    for command in ("dockernb:pull", "dockernb:build", "dockernb:prune", "dockernb:refresh",
                    "dockernb:open-shell", "dockernb:attach"):
        assert js(page, "c => window.jupyterapp.commands.hasCommand(c)", command), command
    js(page, "window.jupyterapp.commands.execute('apputils:activate-command-palette')")
    page.keyboard.type("Docker")
    items = page.locator(".lm-CommandPalette-item:visible .lm-CommandPalette-itemLabel")
    page.wait_for_function("document.querySelectorAll('.lm-CommandPalette-item').length > 0")
    labels = set(items.all_inner_texts())
    assert {"Pull an Image…", "Build the Current Dockerfile…", "Prune Stopped Containers and Dangling Images…",
            "Refresh Containers and Images"} <= labels, labels
    shot(page, "palette")
    page.keyboard.press("Escape")


def _last_activity(page: Any) -> dict[str, str]:
    page.wait_for_selector(".dockernb-op:first-child:not([data-state='running'])", timeout=120_000)
    return {
        "state": page.get_attribute(".dockernb-op:first-child", "data-state") or "",
        "output": page.inner_text(".dockernb-op:first-child .dockernb-op-output"),
        "error": page.inner_text(".dockernb-op:first-child .dockernb-op-error")
        if page.locator(".dockernb-op:first-child .dockernb-op-error").count() else "",
    }


def test_build_the_open_dockerfile(browser: Browser, lab: Jupyter) -> None:
    page = browser.page
    open_doc(page, "proj/app.Dockerfile")
    js(page, "window.jupyterapp.commands.execute('dockernb:build', {tags: []})")
    page.wait_for_selector(".dockernb-op:first-child summary:has-text('build proj/app.Dockerfile')")
    result = _last_activity(page)
    assert "Step 1/3 : FROM busybox:latest" in result["output"]
    # the sidebar tells what the API tells (the engine's own words)
    status, body = lab.api(f"{API}/build", method="POST", body={"path": "proj/app.Dockerfile"})
    last = body.strip().splitlines()[-1]
    if result["state"] == "failed":
        assert '"kind": "error"' in last and result["error"] in last, (result, last)
    else:
        assert "Successfully built" in result["output"]
        _classic_pull_lines(result["output"].splitlines())
    shot(page, "build-activity")


LAYER = re.compile(r"[0-9a-f]{12}: (.*)")


def _classic_pull_lines(lines: list[str]) -> list[str]:
    """docker's classic (BuildKit-free) pull lines as a terminal shows them: one line per layer,
    rewritten in place, so each layer ends on its last state; returns the layer lines."""
    layers = [line for line in lines if LAYER.fullmatch(line)]
    assert len({line.split(":")[0] for line in layers}) == len(layers), lines
    assert all(LAYER.fullmatch(line)[1] in ("Pull complete", "Already exists") for line in layers), lines  # type: ignore[index]
    return layers


def test_pull_reports_progress_or_the_reason(browser: Browser, lab: Jupyter) -> None:
    page = browser.page
    js(page, "window.jupyterapp.commands.execute('dockernb:pull', {ref: 'busybox:latest'})")
    page.wait_for_selector(".dockernb-op:first-child summary:has-text('pull busybox:latest')")
    result = _last_activity(page)
    status, body = lab.api(f"{API}/images")
    assert status == 200, body  # the image service is there
    assert result["state"] == "done", result
    lines = result["output"].splitlines()
    assert lines[0] == "latest: Pulling from library/busybox", lines
    assert lines[-2].startswith("Digest: sha256:"), lines
    assert re.fullmatch(r"Status: (Downloaded newer image|Image is up to date) for busybox:latest", lines[-1]), lines
    layers = _classic_pull_lines(lines)
    assert bool(layers) == lines[-1].startswith("Status: Downloaded"), lines
    shot(page, "pull-activity")


def _terminal_text(page: Any, name: str) -> str:
    return str(js(page, """n => { const w = [...window.jupyterapp.shell.widgets('main')]
        .find(w => w.content?.session?.name === n);
        return w ? w.node.querySelector('.xterm-accessibility-tree')?.innerText ?? '' : ''; }""", name))


def _wait_terminal(page: Any, name: str, pattern: str) -> str:
    page.wait_for_function(
        """([n, p]) => { const w = [...window.jupyterapp.shell.widgets('main')]
           .find(w => w.content?.session?.name === n);
           const t = w?.node.querySelector('.xterm-accessibility-tree')?.innerText ?? '';
           return new RegExp(p, 'm').test(t); }""",
        arg=[name, pattern], timeout=60_000)
    return _terminal_text(page, name)


def test_terminals_run_the_cli(browser: Browser, lab: Jupyter) -> None:
    page = browser.page
    cli = lab.api(f"{API}/client")[1]["command"]
    name = js(page, """c => window.jupyterapp.commands.execute('dockernb:open-terminal',
        {command: `${c} version --format '{{.Server.Version}}'`, label: 'version check'})""", cli)
    assert name == "dockernb_version_check"  # JupyterLab's terminal routes take \\w+ names only
    text = _wait_terminal(page, name, rf"^\s*{re.escape(__version__)}\s*$")
    assert text.count("version --format") == 1, text  # typed once, after the prompt
    shot(page, "terminal-version")

    # "Open a shell": the same words the CLI says in a terminal of its own
    name = js(page, "window.jupyterapp.commands.execute('dockernb:open-shell', {name: 'nosuch'})")
    assert name == "dockernb_shell_nosuch"
    typed = f"{cli} exec -it nosuch sh"
    child = pexpect.spawn("/bin/sh", ["-c", typed], env={**_lab_env(lab)}, encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    expected = child.before.strip().splitlines()[0]
    text = _wait_terminal(page, name, re.escape(expected))
    assert re.escape(typed) and typed in text, text
    shot(page, "terminal-shell")

    terminals = {t["name"] for t in lab.api("/api/terminals")[1]}
    assert {"dockernb_version_check", "dockernb_shell_nosuch"} <= terminals
    assert all(re.fullmatch(r"\w+", t) for t in terminals)
    for t in ("dockernb_version_check", "dockernb_shell_nosuch"):
        assert lab.api(f"/api/terminals/{t}", method="DELETE")[0] == 204
    assert browser.errors == []


def _lab_env(lab: Jupyter) -> dict[str, str]:
    import os

    return {**os.environ, "DOCKERNB_ROOT": str(lab.engine_root), "TERM": "xterm"}

