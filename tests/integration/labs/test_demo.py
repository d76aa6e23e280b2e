"""`make demo`'s runner on the lab notebooks, for real: each notebook executed headless in a fresh
IPython kernel (nbclient) against a private state root, with the kit's registries.

All nine run here (about two to three minutes on this machine, most of it lab 7's
``pip install "fastapi[all]"`` from PyPI and its build): the notebooks are the mission's visible
result, so CI executes every one of them, in one module, in order. The runner's strictness is
checked too: a failing docker command fails its notebook unless the cell says it expects that.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from dockernb.demo import NOTEBOOKS, Result, lab_notebooks, run_all, run_notebook, summary, wants_docker_kernel
from tests.integration.labs.roots import remove_root

pytestmark = [pytest.mark.requires_root, pytest.mark.kit, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The kernels' environment: a private root and docker config (login), the kit's registries."""
    if "DOCKERNB_REGISTRY_MIRRORS" not in os.environ:
        pytest.fail("the kit environment is not set: run the tests through `make test` (or `make kit` first)")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="dockernb-test-root-", dir="/var/tmp"))
    env = {"DOCKERNB_ROOT": str(root), "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config"))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # nbclient's kernels inherit the environment
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        remove_root(root)


@pytest.fixture(scope="module")
def ran(lab_env: dict[str, str]) -> tuple[list[Result], str]:
    out = io.StringIO()
    results = run_all(lab_notebooks(), out=out, timeout=600)
    print(summary(results))
    return results, out.getvalue()


def test_every_lab_notebook_passes(ran: tuple[list[Result], str]) -> None:
    results, text = ran
    twins = [f"{p.stem} [docker kernel]" for p in lab_notebooks() if wants_docker_kernel(p)]
    assert twins == ["01-first-container [docker kernel]", "03-interactive-container [docker kernel]"]
    assert [r.name for r in results] == [p.stem for p in lab_notebooks()] + twins
    failed = [f"{r.name}: {r.error}" for r in results if not r.ok]
    assert not failed, "\n".join(failed) + "\n" + text[-4000:]
    for r in results[: len(lab_notebooks())]:
        nb = nbformat.read(str(NOTEBOOKS / f"{r.name}.ipynb"), as_version=4)
        assert r.cells == sum(c.cell_type == "code" for c in nb.cells), r.name
    # in the Docker kernel the lines are bare docker commands, run by bash
    assert "\n  >>> docker run --name lab1-hello hello-world\n" in text
    assert text.count("Hello from dockernb!") >= 4  # run and logs, in both kernels


def test_the_labs_did_what_they_say(ran: tuple[list[Result], str]) -> None:
    _, text = ran
    assert "Hello from dockernb!" in text  # 1: hello-world ran
    assert "attached line 3" in text  # 2: attach streamed a running container's output
    assert "<title>Welcome to nginx!</title>" in text  # 4: the published port answered
    assert text.count("<h1>Hello, This is my NGINX</h1>") >= 2  # 6: the change, then the committed image
    assert "manifest for my-nginx:latest not found" in text  # 6: the seed's mismatch, shown
    assert "{'message': 'Hello World'}" in text  # 7: the FastAPI image answered
    assert "written on the host" in text and "written in the container by" in text  # 8: both directions
    assert "Login Succeeded" in text and "pulled back from our registry" in text  # 9


def test_the_labs_left_nothing(ran: tuple[list[Result], str], lab_env: dict[str, str]) -> None:
    from dockernb.engine import Engine

    engine = Engine.from_env()
    try:
        assert [c.record.name for c in engine.containers.list(all=True)] == []
        tags = {t for i in engine.images.list() for t in i.tags}
    finally:
        engine.close()
    made = {"my_nginx:latest", "fastapi_simple_project:latest", "lab2-hello:latest"}
    assert not tags & made and not any(t.startswith("127.0.0.1:") for t in tags), tags
    assert "127.0.0.1:5002" not in (Path(lab_env["DOCKER_CONFIG"]) / "config.json").read_text()


def test_a_failing_docker_command_fails_the_notebook(ran: tuple[list[Result], str], tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 0: strictness"),
        nbformat.v4.new_code_cell("%load_ext dockernb"),
        nbformat.v4.new_code_cell("# expected to fail: no such image\n%docker run --rm no-such-image-here"),
        nbformat.v4.new_code_cell("%docker run --rm busybox true\n%docker rm no-such-container\nprint('not reached')"),
    ]
    path = tmp_path / "00-strict.ipynb"
    nbformat.write(nb, str(path))
    out = io.StringIO()
    result = run_notebook(path, out=out, timeout=120)
    assert not result.ok and result.cells == 3
    assert "docker rm no-such-container: exit code 1" in result.error
    assert "\n  not reached\n" not in out.getvalue() and ">>> print('not reached')" in out.getvalue()
    assert nbformat.read(str(path), as_version=4).cells[3].outputs == []  # never written back


def test_labs_run_again_on_the_same_root(ran: tuple[list[Result], str]) -> None:
    """Twice in a row (and in any order): what a lab made, it removed; what it pulled is reused."""
    again = [p for p in lab_notebooks() if p.stem[:2] in ("09", "06", "02")]
    results = run_all(list(reversed(again)), out=io.StringIO(), timeout=600)
    assert [(r.name, r.ok, r.error) for r in results] == [(p.stem, True, "") for p in reversed(again)]
