"""docker cp's tar semantics over directory fds: Go's path rules, docker's names, and no way out of the tree."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument, InvalidCopyPath, NoSuchPath
from dockernb.layers import copy as lc
from dockernb.layers.copy import CopyInfo


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A small tree with the symlinks a hostile container would plant; (path, root fd)."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0\n")
    (root / "etc" / "sub").mkdir()
    (root / "etc" / "sub" / "f").write_text("f")
    (root / "link-to-etc").symlink_to("/etc")
    (root / "escape").symlink_to("../../../../../../")
    (root / "abs-escape").symlink_to("/")
    (root / "passwd-link").symlink_to("etc/passwd")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        yield root, fd
    finally:
        os.close(fd)


def test_go_paths() -> None:
    assert lc.go_clean("") == "." and lc.go_clean("/a/../../b/") == "/b" and lc.go_clean("a/./b/..") == "a"
    assert lc.go_base("/etc/") == "etc" and lc.go_base("/") == "/" and lc.go_base("") == "."
    assert lc.go_dir("/etc/passwd") == "/etc" and lc.go_dir("passwd") == "."
    assert lc.split_path_dir_entry("/etc/.") == ("/etc", ".")
    assert lc.split_path_dir_entry("/etc/") == ("/", "etc")
    assert lc.preserve_trailing("/etc", "/etc/.") == "/etc/." and lc.preserve_trailing("/etc", "etc/") == "/etc/"
    assert lc.asserts_directory("x/") and lc.asserts_directory("x/.") and not lc.asserts_directory("x")
    assert lc.rebase_name("/a/link", "/a/target") == ("/a/target", "link")
    assert lc.rebase_name("/a/link/.", "/a/target") == ("/a/target/.", "")


def test_prepare_copy_follows_dockers_table() -> None:
    file_src = CopyInfo(path="/src/f", exists=True)
    dir_src = CopyInfo(path="/src/d", exists=True, is_dir=True)
    assert lc.prepare_copy(file_src, CopyInfo(path="/dst", exists=True, is_dir=True)) == ("/dst", None)
    assert lc.prepare_copy(file_src, CopyInfo(path="/dst/g", exists=True)) == ("/dst", ("f", "g"))
    assert lc.prepare_copy(file_src, CopyInfo(path="/dst/new")) == ("/dst", ("f", "new"))
    assert lc.prepare_copy(dir_src, CopyInfo(path="/dst/new")) == ("/dst", ("d", "new"))
    with pytest.raises(InvalidCopyPath, match="cannot copy directory"):
        lc.prepare_copy(dir_src, CopyInfo(path="/dst/g", exists=True))
    with pytest.raises(InvalidCopyPath, match="no such directory"):
        lc.prepare_copy(file_src, CopyInfo(path="/dst/new/"))


def test_symlinks_resolve_inside_the_tree(tree: tuple[Path, int]) -> None:
    root, fd = tree
    assert lc.follow_in_root(fd, "/escape/etc/passwd") == "/etc/passwd"
    assert lc.follow_in_root(fd, "/abs-escape/etc") == "/etc"
    assert lc.follow_in_root(fd, "/link-to-etc/sub/f") == "/etc/sub/f"
    assert lc.follow_in_root(fd, "/nosuch/x") == "/nosuch/x"
    st = lc.stat_path(fd, "/passwd-link")
    assert st.is_link and st.link_target == "/etc/passwd"
    assert lc.stat_path(fd, "/escape/etc/passwd").size == len("root:x:0:0\n")  # the tree's, not the host's
    with pytest.raises(NoSuchPath):
        lc.stat_path(fd, "/escape/nonexistent")


def _names(data: bytes) -> list[str]:
    return [m.name for m in tarfile.open(fileobj=io.BytesIO(data))]


def _archive(fd: int, path: str, **kw: object) -> bytes:
    out = io.BytesIO()
    lc.write_archive(fd, path, out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_archive_names_are_dockers(tree: tuple[Path, int]) -> None:
    _, fd = tree
    assert _names(_archive(fd, "/etc/passwd")) == ["passwd"]
    assert _names(_archive(fd, "/etc")) == ["etc", "etc/passwd", "etc/sub", "etc/sub/f"]
    assert _names(_archive(fd, "/etc/.")) == [".", "./passwd", "./sub", "./sub/f"]
    assert _names(_archive(fd, "/link-to-etc")) == ["link-to-etc"]  # the link itself
    assert _names(_archive(fd, "/link-to-etc/")) == ["link-to-etc", "link-to-etc/passwd", "link-to-etc/sub",
                                                     "link-to-etc/sub/f"]  # fmt: skip
    # a symlink out of the tree is the tree's root: archiving through it never reads the host
    assert "escape/etc/passwd" in _names(_archive(fd, "/escape/"))
    everything = _names(_archive(fd, "/"))
    assert everything[:2] == ["", "/abs-escape"] and "/etc/passwd" in everything  # docker's "/" entries
    with pytest.raises(NoSuchPath):
        _archive(fd, "/nosuch")


def _tar(*members: tuple[str, str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(ti)
            elif kind == "lnk":
                ti.type, ti.linkname = tarfile.LNKTYPE, str(data)
                tar.addfile(ti)
    return out.getvalue()


def _extract(data: bytes, dest: Path, **kw: object) -> None:
    stream = io.BytesIO(data)
    fd = os.open(dest, os.O_PATH | os.O_DIRECTORY)
    try:
        lc.extract_archive(lambda: stream.read(65536), fd, **kw)  # type: ignore[arg-type]
    finally:
        os.close(fd)


def test_extraction_never_leaves_the_destination(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    # a symlink to the outside, then files written "through" it: resolved inside the destination, where
    # the target does not exist, so the extraction fails and nothing is written outside
    for link in (str(outside), "../../outside"):
        with pytest.raises(InvalidArgument, match="points nowhere"):
            _extract(_tar(("out", "sym", link), ("out/deeper/pwned", "file", b"x")), dest)
        os.unlink(dest / "out")
    _extract(_tar(("out", "sym", "/"), ("out/deeper/pwned", "file", b"x")), dest)  # "/" is the destination
    assert (dest / "deeper" / "pwned").read_bytes() == b"x"
    assert list(outside.iterdir()) == []
    (dest / "inside").mkdir()
    _extract(_tar(("in", "sym", "/inside"), ("in/ok", "file", b"y")), dest)  # an absolute link, inside
    assert (dest / "inside" / "ok").read_bytes() == b"y"
    with pytest.raises(InvalidArgument):
        _extract(_tar(("../escape", "file", b"x")), dest)
    assert not (tmp_path / "escape").exists()
    _extract(_tar(("/abs/name", "file", b"z")), dest)  # absolute names are taken inside
    assert (dest / "abs" / "name").read_bytes() == b"z"


def test_extraction_rules(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "adir").mkdir(parents=True)
    (dest / "afile").write_text("old")
    with pytest.raises(InvalidArgument, match="cannot overwrite directory"):
        _extract(_tar(("adir", "file", b"x")), dest)
    with pytest.raises(InvalidArgument, match="cannot overwrite non-directory"):
        _extract(_tar(("afile", "dir", b"")), dest)
    _extract(_tar(("afile", "file", b"new"), ("d", "dir", b""), ("d/h", "lnk", "afile"),
                  (".wh..wh.plnk", "dir", b""), (".wh.x", "file", b"not a whiteout")),
             dest, rename=lc.renamer(None))  # fmt: skip
    assert (dest / "afile").read_text() == "new" and os.path.samefile(dest / "d" / "h", dest / "afile")
    assert (dest / ".wh.x").read_text() == "not a whiteout" and not (dest / ".wh..wh.plnk").exists()
    _extract(_tar(("src", "dir", b""), ("src/a", "file", b"A")), dest, rename=lc.renamer(("src", "renamed")))
    assert (dest / "renamed" / "a").read_text() == "A"


def test_archive_then_extract_round_trip(tree: tuple[Path, int], tmp_path: Path) -> None:
    _, fd = tree
    dest = tmp_path / "copy"
    dest.mkdir()
    _extract(_archive(fd, "/etc"), dest, owner="keep" if os.geteuid() == 0 else None)
    assert (dest / "etc" / "sub" / "f").read_text() == "f"
    assert (dest / "etc" / "passwd").read_text() == "root:x:0:0\n"
