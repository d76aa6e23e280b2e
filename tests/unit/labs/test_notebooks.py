"""The lab notebooks as committed: they parse, are the nine labs in order, start with their
explanation, carry no outputs, and each cleans up by name what it creates (no root, no kernel)."""

from __future__ import annotations

import re

import nbformat
import pytest

from dockernb.demo import EXPECTED_FAILURE, NOTEBOOKS, Result, docker_kernel_version, lab_notebooks, summary

LABS = [
    "01-first-container",
    "02-basic-commands",
    "03-interactive-container",
    "04-nginx-port",
    "05-attach-exec",
    "06-commit-image",
    "07-dockerfile",
    "08-bind-mounts",
    "09-registries",
]
REPO = NOTEBOOKS.parent


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def test_the_nine_labs_in_order() -> None:
    assert [p.stem for p in lab_notebooks()] == LABS
    # nothing else that looks like a notebook hides beside them (it would not run in the demo)
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == LABS


@pytest.mark.parametrize("name", LABS)
def test_parses_and_validates(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", LABS)
def test_committed_without_outputs(name: str) -> None:
    for cell in _read(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs: {cell.source[:60]!r}"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"
        assert "attachments" not in cell or not cell.attachments


@pytest.mark.parametrize("name", LABS)
def test_starts_with_its_explanation(name: str) -> None:
    cells = _read(name).cells
    first = cells[0]
    number = int(name[:2])
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# Lab {number}:")
    words = len(re.findall(r"\w+", first.source))
    assert words >= 80, f"{name}: the explanation has only {words} words"
    # the setup cell comes next: the magics, the helpers
    assert cells[1].cell_type == "code" and cells[1].source.startswith("%load_ext dockernb\n")


@pytest.mark.parametrize("name", LABS)
def test_every_named_container_is_removed(name: str) -> None:
    """A container the lab names is forgotten at the start (a rerun after an interruption) and removed at the end."""
    code = [c.source for c in _read(name).cells if c.cell_type == "code"]
    text = "\n".join(code)
    named = set(re.findall(r"--name\s+(\S+)", text))
    assert named or name == "09-registries", name  # lab 9 runs only --rm containers
    setup, last = code[0], "\n".join(code[-2:])
    for container in named:
        assert f"'{container}'" in setup, f"{name}: {container} is not forgotten at the start"
        assert re.search(rf"%docker (rm|rm -f)\b[^\n]*\b{re.escape(container)}\b", last), (
            f"{name}: {container} is not removed at the end"
        )


@pytest.mark.parametrize("name", LABS)
def test_docker_lines_have_no_trailing_comments(name: str) -> None:
    # a magic's line is docker's argv: a '# ...' after it would be passed on as words
    for cell in _read(name).cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("%docker") or "= %docker" in line:
                    assert " #" not in line.split("'")[0], line


def test_expected_failures_are_marked_on_their_own_line() -> None:
    marked = [(n, c.source) for n in LABS for c in _read(n).cells if EXPECTED_FAILURE in c.source]
    assert {n for n, _ in marked} == {"06-commit-image", "09-registries"}
    for _, source in marked:
        assert source.startswith(EXPECTED_FAILURE)


def test_lab_seven_has_its_project_beside_it() -> None:
    project = NOTEBOOKS / "fastapi_simple_project"
    assert "FastAPI()" in (project / "main.py").read_text()
    dockerfile = (project / "Dockerfile").read_text()
    assert 'RUN pip3 install "fastapi[all]"' in dockerfile and "ADD main.py /app/" in dockerfile
    source = "\n".join(c.source for c in _read("07-dockerfile").cells)
    assert "%%dockerfile -t fastapi_simple_project" in source
    assert "%docker build . -t fastapi_simple_project" in source
    assert "-p $port:8000" in source and "lab.free_port(8099)" in source


def test_the_readme_points_to_every_notebook() -> None:
    readme = (REPO / "README.md").read_text()
    for name in LABS:
        assert f"notebooks/{name}.ipynb" in readme, name


def test_summary_table() -> None:
    table = summary([Result("01-first-container", 6, 1.94), Result("07-dockerfile", 3, 40.0, "RuntimeError: x")])
    lines = table.splitlines()
    assert lines[0].split() == ["notebook", "cells", "seconds", "result"]
    assert lines[1].split() == ["01-first-container", "6", "1.9", "pass"]
    assert lines[2].split()[:4] == ["07-dockerfile", "3", "40.0", "FAIL:"]
    assert lines[-1] == "1/2 notebooks passed in 42 s"


def test_docker_kernel_twin_is_the_docker_lines_as_bash() -> None:
    twin = docker_kernel_version(_read("01-first-container"))
    assert twin.metadata["kernelspec"]["name"] == "dockernb"
    code = [c.source for c in twin.cells if c.cell_type == "code"]
    assert code[0] == "docker run --name lab1-hello hello-world"
    assert code[-1] == "docker rm lab1-hello"
    assert not any("%" in c or "lab." in c for c in code)  # no magics, no Python left
    assert twin.cells[0].source.startswith("# Lab 1:")
    nbformat.validate(twin)
