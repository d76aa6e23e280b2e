"""The nbgrader course (notebooks/course/) round trip, for real: ``nbgrader generate_assignment``
strips the solutions, then ``nbgrader autograde`` executes simulated submissions whose test cells
assert on the engine's real state (containers, the committed image serving the changed page, the
built image answering HTTP). A correct submission gets full marks, a broken one part of them, an
untouched release notebook none.

Each student is graded on a state root of their own (``DOCKERNB_ROOT``); the roots share one
read-only image store (``DOCKERNB_IMAGE_STORES``) pulled once here, so grading pulls nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from dockernb.demo import NOTEBOOKS
from tests.integration.labs.roots import remove_root

pytestmark = [pytest.mark.requires_root, pytest.mark.kit, pytest.mark.slow]

COURSE = NOTEBOOKS / "course"
STORE_IMAGES = ("debian:bookworm", "nginx:latest", "python:3.11")
TIMESTAMP = "2026-11-28 10:00:00.000000 UTC"


def _nbgrader(course: Path, *args: str, env: dict[str, str] | None = None) -> str:
    nbgrader = Path(sys.executable).with_name("nbgrader")
    proc = subprocess.run([str(nbgrader), *args], cwd=course, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module", autouse=True)
def venv_path() -> Iterator[None]:
    """nbgrader runs ``alembic`` (its gradebook's migrations) from PATH: the venv's bin first."""
    saved = os.environ["PATH"]
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{saved}"
    yield
    os.environ["PATH"] = saved


@pytest.fixture(scope="module")
def store() -> Iterator[Path]:
    """A read-only image store with the labs' base images, shared by every student's root."""
    if "DOCKERNB_REGISTRY_MIRRORS" not in os.environ:
        pytest.fail("the kit environment is not set: run the tests through `make test` (or `make kit` first)")
    from dockernb.config import load_config
    from dockernb.engine.images import ImageService
    from dockernb.testing.roots import wipe_root

    path = Path(tempfile.mkdtemp(prefix="dockernb-test-images-", dir="/var/tmp"))
    try:
        images = ImageService(load_config({**os.environ, "DOCKERNB_ROOT": str(path), "DOCKERNB_IMAGE_STORES": ""}))
        for ref in STORE_IMAGES:
            for _ in images.pull(ref):
                pass
        images.close()
        yield path
    finally:
        wipe_root(path)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the course (nbgrader writes release/, submitted/, autograded/ and its gradebook)."""
    dest = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(COURSE, dest, ignore=shutil.ignore_patterns("release", "submitted", "autograded", "feedback",
                                                                 "gradebook.db", ".ipynb_checkpoints"))  # fmt: skip
    for assignment in ("lab3", "lab6", "lab7"):
        _nbgrader(dest, "generate_assignment", assignment, "--force")
    return dest


@pytest.fixture(scope="module")
def student_root() -> Iterator[dict[str, Path]]:
    roots: dict[str, Path] = {}
    yield roots
    for root in roots.values():
        remove_root(root)


def _submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    d = course / "submitted" / student / assignment
    d.mkdir(parents=True, exist_ok=True)
    release = course / "release" / assignment
    for extra in release.iterdir():  # the assignment's files (lab 7's project) come with the notebook
        if extra.is_dir():
            shutil.copytree(extra, d / extra.name, dirs_exist_ok=True)
    nbformat.write(nb, str(d / f"{assignment}.ipynb"))
    (d / "timestamp.txt").write_text(TIMESTAMP)


def _grade(course: Path, store: Path, roots: dict[str, Path], student: str, assignment: str) -> tuple[float, float]:
    key = f"{student}-{assignment}"
    roots[key] = Path(tempfile.mkdtemp(prefix="dockernb-test-root-", dir="/var/tmp"))
    env = {**os.environ, "DOCKERNB_ROOT": str(roots[key]), "DOCKERNB_IMAGE_STORES": str(store),
           "DOCKER_CONFIG": str(roots[key] / "docker-config")}  # fmt: skip
    _nbgrader(course, "autograde", assignment, "--student", student, "--create", "--force", env=env)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(assignment, student)
        return float(sub.score), float(sub.max_score)


def _source(course: Path, assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(str(course / "source" / assignment / f"{assignment}.ipynb"), as_version=4)


def _release(course: Path, assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(str(course / "release" / assignment / f"{assignment}.ipynb"), as_version=4)


def test_release_has_no_solutions(course: Path) -> None:
    for assignment in ("lab3", "lab6", "lab7"):
        text = "\n".join(c.source for c in _release(course, assignment).cells)
        assert "BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text, assignment
        assert (course / "release" / assignment / f"{assignment}.ipynb").is_file()
    assert (course / "release" / "lab7" / "fastapi_simple_project" / "main.py").is_file()
    # the graded tests ship with the release (students can run them), locked
    tests = [c for c in _release(course, "lab6").cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) == 3 and all(c.metadata["nbgrader"]["locked"] for c in tests)


@pytest.mark.parametrize("assignment,full", [("lab3", 3.0), ("lab6", 4.0), ("lab7", 3.0)])
def test_correct_submission_full_marks(course: Path, store: Path, student_root: dict[str, Path],
                                       assignment: str, full: float) -> None:  # fmt: skip
    _submit(course, "alice", assignment, _source(course, assignment))
    assert _grade(course, store, student_root, "alice", assignment) == (full, full)


@pytest.mark.parametrize("assignment,full", [("lab3", 3.0), ("lab6", 4.0), ("lab7", 3.0)])
def test_untouched_release_gets_nothing(course: Path, store: Path, student_root: dict[str, Path],
                                        assignment: str, full: float) -> None:  # fmt: skip
    _submit(course, "bob", assignment, _release(course, assignment))
    assert _grade(course, store, student_root, "bob", assignment) == (0.0, full)


def test_broken_submission_partial_marks(course: Path, store: Path, student_root: dict[str, Path]) -> None:
    """Carol runs nginx and commits it, but never changes the page: the committed image serves nginx's own."""
    nb = _source(course, "lab6")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "change_page":
            cell.source = "%docker exec manual_update_nginx ls /usr/share/nginx/html"
    _submit(course, "carol", "lab6", nb)
    assert _grade(course, store, student_root, "carol", "lab6") == (1.0, 4.0)


def test_each_student_had_an_engine_of_their_own(course: Path, student_root: dict[str, Path]) -> None:
    from dockernb.engine import Engine

    def tags(key: str) -> set[str]:
        engine = Engine.from_env({**os.environ, "DOCKERNB_ROOT": str(student_root[key]), "DOCKERNB_IMAGE_STORES": ""})
        try:
            return {t for i in engine.images.list(all=True) for t in i.tags}
        finally:
            engine.close()

    assert sorted(k for k in student_root if k.startswith("alice-")) == ["alice-lab3", "alice-lab6", "alice-lab7"]
    # the cleanup cells ran in alice's root; bob's root (graded after) never had her images
    assert not tags("alice-lab6") & {"my_nginx:latest"} and not tags("bob-lab6") & {"my_nginx:latest"}
    assert student_root["alice-lab6"] != student_root["bob-lab6"]
