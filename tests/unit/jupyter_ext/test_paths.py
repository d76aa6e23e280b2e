"""Build paths from the browser stay inside the Jupyter server's root."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockernb.errors import Forbidden, InvalidArgument
from dockernb.jupyter.paths import resolve_in_root

pytestmark = pytest.mark.rootless


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "app").mkdir(parents=True)
    (tmp_path / "root" / "app" / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "outside").mkdir()
    return tmp_path / "root"


def test_paths_resolve_under_the_root(root: Path) -> None:
    assert resolve_in_root(root, "app/Dockerfile") == root / "app" / "Dockerfile"
    assert resolve_in_root(root, "/app/Dockerfile") == root / "app" / "Dockerfile"  # contents paths may lead with /
    assert resolve_in_root(root, "app/../app/./Dockerfile") == root / "app" / "Dockerfile"
    assert resolve_in_root(root, "app/missing") == root / "app" / "missing"  # the engine says it is missing


@pytest.mark.parametrize("path", ["../outside/Dockerfile", "app/../../outside", "..", "link/Dockerfile"])
def test_escapes_are_refused(root: Path, path: str) -> None:
    (root / "link").symlink_to(root.parent / "outside")
    with pytest.raises(Forbidden, match=r"outside the server's root directory$"):
        resolve_in_root(root, path)


@pytest.mark.parametrize("path", ["", "/", "a\0b", None])
def test_nonsense_is_invalid(root: Path, path: object) -> None:
    with pytest.raises(InvalidArgument, match="^invalid path"):
        resolve_in_root(root, path)  # type: ignore[arg-type]
