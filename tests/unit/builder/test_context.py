"""Build contexts: selection, docker's sizes and checksums, COPY sources, tar streams (safely)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockernb.build.context import context_from_dir, context_from_stream, has_wildcards, match_path
from dockernb.errors import BuildContextError, CopySourceNotFound, DockerfileInvalid, InvalidArgument
from tests import golden

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o644)
    return root


def golden_dir(tmp_path: Path, case_id: str) -> Path:
    return write(tmp_path / case_id, golden.expected(case_id)["files"])


def sent_kb(case_id: str) -> str:
    return golden.expected(case_id)["stdout"].split("daemon", 1)[1].split("\r", 1)[0].strip()


# --- selection and size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "size"),
    [("build-classic-ok", 3072), ("build-classic-unknown-instruction", 2048), ("build-classic-dockerignore", 5120)],
)
def test_sizes_match_what_docker_sent(tmp_path: Path, case_id: str, size: int) -> None:
    ctx = context_from_dir(golden_dir(tmp_path, case_id))
    assert ctx.size == size
    assert f"{size / 1000:.4g}kB" == sent_kb(case_id)


def test_dockerignore_selection_like_golden(tmp_path: Path) -> None:
    ctx = context_from_dir(golden_dir(tmp_path, "build-classic-dockerignore"))
    # what `RUN ls -A /ctx` showed after `COPY . /ctx/`
    listed = golden.expected("build-classic-dockerignore")["stdout"].split("Running in", 1)[1].splitlines()[1:5]
    assert sorted(ctx.entries) == sorted(listed) == [".dockerignore", "Dockerfile", "Dockerfile.secret", "a.txt"]


def test_ignored_dockerfile_and_dockerignore_are_sent_then_dropped(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", ".dockerignore": "Dockerfile\n.dockerignore\nsecret\n", "x": "x"})
    write(tmp_path, {"secret": "s"})
    ctx = context_from_dir(tmp_path)
    assert ctx.dockerfile_text == "FROM a\n"
    assert sorted(ctx.entries) == ["x"]
    assert ctx.size == 512 * 2 + 512 * 2 + 512 * 2 + 1024  # Dockerfile, .dockerignore and x were sent


def test_directories_and_reinclusion(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", ".dockerignore": "docs\n!docs/keep.md\n", "docs/keep.md": "k"})
    write(tmp_path, {"docs/drop.md": "d", "src/a.py": "a"})
    ctx = context_from_dir(tmp_path)
    assert sorted(ctx.entries) == [".dockerignore", "Dockerfile", "docs/keep.md", "src", "src/a.py"]
    assert ctx.exists("docs") and ctx.is_dir("docs")  # implied by what it holds, as docker's daemon sees it
    assert list(ctx.walk()) == [".dockerignore", "Dockerfile", "docs", "docs/keep.md", "src", "src/a.py"]


def test_walk_order_is_go_walk_order(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", "a/b": "", "a-c": "", "a.d/e": ""})
    ctx = context_from_dir(tmp_path)
    assert list(ctx.walk()) == ["Dockerfile", "a", "a/b", "a-c", "a.d", "a.d/e"]


def test_long_names_cost_a_pax_header(tmp_path: Path) -> None:
    long_flat = "f" * 150
    write(tmp_path, {"Dockerfile": "FROM a\n", long_flat: ""})
    assert context_from_dir(tmp_path).size == 1024 + (512 + 512 + 512) + 1024
    other = tmp_path / "two"
    write(other, {"Dockerfile": "FROM a\n", "d" * 60 + "/" + "f" * 90: ""})  # fits USTAR's prefix/name split
    assert context_from_dir(other).size == 1024 + 512 + 512 + 1024


# --- Dockerfile location and docker's client errors ------------------------------------------------------


def test_no_dockerfile_like_golden(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BuildContextError) as err:
        context_from_dir(empty)
    want = golden.expected("build-no-dockerfile")["stderr"].replace("/tmp/golden/build/empty", str(empty))
    assert str(err.value) + "\n" == want


def test_no_context_like_golden(tmp_path: Path) -> None:
    with pytest.raises(BuildContextError) as err:
        context_from_dir("nosuchdir", cwd=tmp_path)
    assert str(err.value) + "\n" == golden.expected("build-no-context")["stderr"]


def test_context_must_be_a_directory(tmp_path: Path) -> None:
    write(tmp_path, {"file": ""})
    with pytest.raises(BuildContextError, match="^unable to prepare context: context must be a directory: "):
        context_from_dir(tmp_path / "file")


def test_dockerfile_flag_inside_outside_and_lowercase(tmp_path: Path) -> None:
    ctx_dir = write(tmp_path / "ctx", {"sub/Dockerfile.dev": "FROM inside\n", "a": "a"})
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere", {"Dockerfile": "FROM outside\n"})
    inside = context_from_dir("ctx", dockerfile="ctx/sub/Dockerfile.dev", cwd=tmp_path)  # -f is relative to cwd
    assert (inside.dockerfile_text, inside.dockerfile_name) == ("FROM inside\n", "sub/Dockerfile.dev")
    outside = context_from_dir(ctx_dir, dockerfile=str(tmp_path / "elsewhere/Dockerfile"))
    assert outside.dockerfile_text == "FROM outside\n"
    assert "sub/Dockerfile.dev" in outside.entries
    # docker adds the outside Dockerfile under a random name plus a .dockerignore naming it
    assert outside.size == inside.size + 1024 + 1024
    lower = write(tmp_path / "lower", {"dockerfile": "FROM lower\n"})
    assert context_from_dir(lower).dockerfile_text == "FROM lower\n"
    with pytest.raises(BuildContextError, match="unable to evaluate symlinks in Dockerfile path: lstat .*nope"):
        context_from_dir(ctx_dir, dockerfile="nope", cwd=tmp_path)


def test_dockerfile_as_text(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM on-disk\n", "a": "a"})
    ctx = context_from_dir(tmp_path, dockerfile_text="FROM given\n")
    assert ctx.dockerfile_text == "FROM given\n"
    assert "Dockerfile" in ctx.entries  # the file on disk is just another file then


def test_unreadable_file_is_a_context_error(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", "secret": "s"})
    (tmp_path / "secret").chmod(0)
    if os.geteuid() == 0:  # root reads everything: the file is simply part of the context
        assert "secret" in context_from_dir(tmp_path).entries
        return
    with pytest.raises(BuildContextError, match="^error checking context: no permission to read from "):
        context_from_dir(tmp_path)


# --- checksums ------------------------------------------------------------------------------------------


def test_file_checksum_is_dockers(tmp_path: Path) -> None:
    ctx = context_from_dir(golden_dir(tmp_path, "build-classic-ok"))
    # docker's history-built shows "COPY file:7b16141e71ab6ad6…" for this very file
    assert ctx.checksum("hello.txt").startswith("7b16141e71ab6ad6")


def test_checksum_follows_content_and_mode_not_mtime(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", "f": "one"})
    first = context_from_dir(tmp_path).checksum("f")
    os.utime(tmp_path / "f", (1, 1))
    assert context_from_dir(tmp_path).checksum("f") == first
    (tmp_path / "f").chmod(0o755)
    assert context_from_dir(tmp_path).checksum("f") != first
    (tmp_path / "f").chmod(0o644)
    (tmp_path / "f").write_text("two")
    assert context_from_dir(tmp_path).checksum("f") != first


def test_directory_checksum_covers_members(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", "d/one": "1", "d/two": "2"})
    (src,) = context_from_dir(tmp_path).sources(["d"])
    assert src.is_dir and src.checksum.startswith("dir:") and src.members == ("one", "two")
    (tmp_path / "d/two").write_text("changed")
    (again,) = context_from_dir(tmp_path).sources(["d"])
    assert again.checksum != src.checksum


# --- COPY sources ---------------------------------------------------------------------------------------


def test_missing_and_ignored_sources_like_golden(tmp_path: Path) -> None:
    ctx = context_from_dir(golden_dir(tmp_path, "build-classic-copy-missing"))
    with pytest.raises(CopySourceNotFound) as err:
        ctx.sources(["missing.txt"], "COPY")
    assert str(err.value) + "\n" == golden.expected("build-classic-copy-missing")["stderr"]
    ign = context_from_dir(golden_dir(tmp_path, "build-classic-dockerignore"))
    with pytest.raises(CopySourceNotFound) as err:
        ign.sources(["secret.txt"], "COPY")
    assert str(err.value) + "\n" == golden.expected("build-classic-copy-ignored")["stderr"]


def test_globs_dirs_and_dot(tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM a\n", ".dockerignore": "b.txt\n", "a.txt": "", "b.txt": "", "c.md": ""})
    write(tmp_path, {"sub/d.txt": ""})
    ctx = context_from_dir(tmp_path)
    assert [s.rel for s in ctx.sources(["*.txt"])] == ["a.txt"]  # b.txt is excluded, sub/d.txt is deeper
    assert [s.rel for s in ctx.sources(["*/*.txt", "/c.md", "./a.txt"])] == ["sub/d.txt", "c.md", "a.txt"]
    (dot,) = ctx.sources(["."])
    assert dot.is_dir and dot.rel == "" and "b.txt" not in dot.members and "sub/d.txt" in dot.members
    with pytest.raises(InvalidArgument, match="^COPY failed: no source files were specified$"):
        ctx.sources(["*.none"])


def test_symlinks_stay_inside_the_context(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret": "s"})
    ctx_dir = write(tmp_path / "ctx", {"Dockerfile": "FROM a\n", "real/file": "f"})
    (ctx_dir / "inside").symlink_to("real/file")
    (ctx_dir / "abs").symlink_to(outside / "secret")
    (ctx_dir / "up").symlink_to("../outside/secret")
    ctx = context_from_dir(ctx_dir)
    (inside,) = ctx.sources(["inside"])
    assert inside.path == ctx_dir / "real/file" and not inside.is_dir
    for name in ("abs", "up"):
        with pytest.raises(CopySourceNotFound):
            ctx.sources([name])


def test_wildcard_helpers() -> None:
    assert has_wildcards("*.txt") and has_wildcards("a?") and has_wildcards("[ab]") and not has_wildcards("a\\*")
    assert match_path("*.txt", "a.txt") and not match_path("*.txt", "d/a.txt")
    assert match_path("[^a]?", "bc") and not match_path("[^a]?", "ac")
    assert match_path("a\\*", "a*") and not match_path("a\\*", "ab")


# --- streams --------------------------------------------------------------------------------------------


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.USTAR_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def reg(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def test_tar_stream_context(tmp_path: Path) -> None:
    data = tar_bytes([(reg("Dockerfile"), b"FROM a\nCOPY x /\n"), (reg("x"), b"x"), (reg(".dockerignore"), b"y\n")])
    ctx = context_from_stream(io.BytesIO(data), tmp_dir=tmp_path)
    root = ctx.root
    assert ctx.dockerfile_text == "FROM a\nCOPY x /\n" and ctx.size == len(data)
    assert sorted(ctx.entries) == [".dockerignore", "Dockerfile", "x"]
    assert ctx.sources(["x"])[0].path == root / "x"
    ctx.close()
    assert not root.exists()


def test_compressed_stream_and_named_dockerfile(tmp_path: Path) -> None:
    data = tar_bytes([(reg("build/Custom"), b"FROM b\n")], mode="w:gz")
    with context_from_stream(io.BytesIO(data), dockerfile="build/Custom", tmp_dir=tmp_path) as ctx:
        assert ctx.dockerfile_text == "FROM b\n" and ctx.size == len(data)
    with pytest.raises(DockerfileInvalid, match="^Cannot locate specified Dockerfile: Dockerfile$"):
        context_from_stream(io.BytesIO(data), tmp_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # a failed context leaves nothing


def test_stream_that_is_a_dockerfile(tmp_path: Path) -> None:
    with context_from_stream(io.BytesIO(b"FROM c\n"), tmp_dir=tmp_path) as ctx:
        assert ctx.dockerfile_text == "FROM c\n" and ctx.entries == {}
        assert ctx.size == 512 + 512 + 1024
    with pytest.raises(BuildContextError, match="build context is not an archive"):
        context_from_stream(io.BytesIO(b"FROM c\n"), dockerfile="-", tmp_dir=tmp_path)


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/evil", "./../../evil"])
def test_stream_names_stay_inside(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    data = tar_bytes([(reg("Dockerfile"), b"FROM a\n"), (reg(name), b"x")])
    with context_from_stream(io.BytesIO(data), tmp_dir=work) as ctx:
        # like docker's chrooted unpacking: the name is taken relative to the context root
        assert (ctx.root / "evil").read_bytes() == b"x" and "evil" in ctx.entries
    assert not (tmp_path / "evil").exists() and list(work.iterdir()) == []


def test_stream_symlink_then_write_through_it(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = str(target)
    data = tar_bytes([(reg("Dockerfile"), b"FROM a\n"), (link, b""), (reg("link/pwned"), b"x")])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BuildContextError, match="invalid path in archive"):
        context_from_stream(io.BytesIO(data), tmp_dir=work)
    assert list(target.iterdir()) == [] and list(work.iterdir()) == []


def test_stream_hard_link_must_point_inside(tmp_path: Path) -> None:
    hard = tarfile.TarInfo("h")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "/etc/passwd"
    data = tar_bytes([(reg("Dockerfile"), b"FROM a\n"), (hard, b"")])
    with pytest.raises(BuildContextError, match="invalid hard link"):
        context_from_stream(io.BytesIO(data), tmp_dir=tmp_path)


def test_stream_devices_are_skipped(tmp_path: Path) -> None:
    dev = tarfile.TarInfo("null")
    dev.type = tarfile.CHRTYPE
    dev.devmajor, dev.devminor = 1, 3
    data = tar_bytes([(reg("Dockerfile"), b"FROM a\n"), (dev, b"")])
    with context_from_stream(io.BytesIO(data), tmp_dir=tmp_path) as ctx:
        assert "null" not in ctx.entries and not (ctx.root / "null").exists()
