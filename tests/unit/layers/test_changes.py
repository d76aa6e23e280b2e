"""docker diff's rules over an overlay upper directory and over two plain trees, and the init-layer paths."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockernb.layers import changes as ch
from dockernb.layers.changes import Change, hidden_paths, overlay_changes, tree_changes
from dockernb.layers.diff import diff_overlay, diff_trees


def _mk(base: Path, files: dict[str, str | None]) -> None:
    """``None`` makes a directory."""
    for rel, text in files.items():
        path = base / rel
        if text is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    lower = tmp_path / "lower"
    _mk(lower, {"etc/passwd": "root\n", "etc/group": "root\n", "tmp": None, "bin/sh": "#!"})
    for d in ("etc", "tmp", "bin", ""):
        os.utime(lower / d, (0, 0))
    return lower


def _names(data: bytes) -> list[str]:
    return sorted(m.name for m in tarfile.open(fileobj=io.BytesIO(data)))


def test_overlay_changes_as_docker(image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upper = tmp_path / "upper"
    _mk(upper, {"etc/passwd": "root\nextra\n", "etc/group": "", "tmp/new.txt": "hi\n", "newdir/sub": None})
    # the runtime's mount points, which docker keeps in its init layer
    _mk(upper, {"etc/hosts": "", "etc/hostname": "", "etc/resolv.conf": "", "proc": None, "dev": None})
    os.utime(upper / "etc", (1000, 1000))  # making /etc/hosts changed the directory's mtime
    # "etc/group" stands for a whiteout (char 0/0 needs privileges a unit test does not take)
    whiteouts = {str(upper / "etc" / "group")}
    real = os.lstat

    def fake_is_whiteout(st: os.stat_result) -> bool:
        return any(real(p).st_ino == st.st_ino for p in whiteouts)

    monkeypatch.setattr(ch, "is_whiteout", fake_is_whiteout)
    got = overlay_changes(str(upper), [str(image)])
    assert got == [Change("C", "/etc"), Change("D", "/etc/group"), Change("C", "/etc/passwd"),
                   Change("A", "/newdir"), Change("A", "/newdir/sub"), Change("C", "/tmp"),
                   Change("A", "/tmp/new.txt")]  # fmt: skip


def test_init_layer_paths_are_hidden(image: Path, tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    _mk(upper, {"etc/hosts": "", "etc/hostname": "", "etc/resolv.conf": "", "proc": None, "sys": None,
                "dev": None})  # fmt: skip
    os.chmod(upper / "etc", os.stat(image / "etc").st_mode)
    hidden, relaxed = hidden_paths(str(upper), lambda rel: os.lstat(image / rel) if (image / rel).exists() else None)
    assert {"etc/hosts", "etc/hostname", "etc/resolv.conf", "proc", "sys", "etc", "dev"} <= hidden
    assert overlay_changes(str(upper), [str(image)]) == []  # nothing the container did: docker shows nothing
    out = io.BytesIO()
    diff_overlay(str(upper), out, exclude=hidden)
    assert _names(out.getvalue()) == []  # and a commit adds no files
    # a real change beside them: /etc is listed (relaxed: its mtime moved for the mount points only)
    (upper / "etc" / "motd").write_text("hello")
    assert overlay_changes(str(upper), [str(image)]) == [Change("C", "/etc"), Change("A", "/etc/motd")]
    hidden, relaxed = hidden_paths(str(upper), lambda rel: os.lstat(image / rel) if (image / rel).exists() else None)
    assert "etc" in relaxed and "etc/hosts" in hidden
    out = io.BytesIO()
    diff_overlay(str(upper), out, exclude=hidden)
    assert _names(out.getvalue()) == ["etc", "etc/motd"]


def test_tree_changes_as_dockers_naive_diff(image: Path, tmp_path: Path) -> None:
    after = tmp_path / "after"
    os.system(f"cp -a {image} {after}")  # noqa: S605 - a copy, as the native snapshotter makes
    (after / "etc" / "group").unlink()
    (after / "etc" / "passwd").write_text("root\nextra\n")
    _mk(after, {"tmp/new.txt": "hi", "etc/hosts": "", "proc": None})
    got = tree_changes(str(image), str(after))
    assert sorted(map(str, got)) == ["A /tmp/new.txt", "C /etc", "C /etc/passwd", "C /tmp", "D /etc/group"]
    hidden, _ = hidden_paths(str(after), lambda rel: os.lstat(image / rel) if (image / rel).exists() else None)
    out = io.BytesIO()
    diff_trees(str(image), str(after), out, exclude=hidden)
    names = _names(out.getvalue())
    assert "etc/hosts" not in names and "proc" not in names and "etc/.wh.group" in names and "tmp/new.txt" in names
