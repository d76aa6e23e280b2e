"""COPY/ADD/WORKDIR file rules on plain directories (no mounts, no root): dockernb.build.copier."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockernb.build.copier import copy_into, make_workdir, resolve_chown
from dockernb.build.executor import CopySource, CopySpec
from dockernb.errors import BuildStepFailed, InvalidArgument

pytestmark = pytest.mark.rootless

ME = f"{os.getuid()}:{os.getgid()}"  # owners an unprivileged test may give
IDS = (os.getuid(), os.getgid())


def _spec(*sources: CopySource, dest: str, **kw: object) -> CopySpec:
    kw.setdefault("chown", ME)
    return CopySpec(sources=sources, dest=dest, **kw)  # type: ignore[arg-type]


def _file(path: Path, data: str = "x", mtime: int = 1_500_000_000, mode: int = 0o644) -> CopySource:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    path.chmod(mode)
    os.utime(path, (mtime, mtime))
    return CopySource(name=path.name, path=path)


def _image(tmp: Path) -> Path:
    """A tiny image tree: /etc, /usr/bin with /bin -> usr/bin (merged /usr), a dated /opt."""
    root = tmp / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "opt").mkdir()
    (root / "bin").symlink_to("usr/bin")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/w:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nweb:x:1002:\nstaff:x:50:\n")
    os.utime(root / "opt", (1_000_000_000, 1_000_000_000))
    return root


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_file_destination_rules(tmp_path: Path) -> None:
    root = _image(tmp_path)
    src = _file(tmp_path / "ctx" / "f.txt", "data", mode=0o640)
    copy_into(str(root), _spec(src, dest="/opt/"))  # trailing slash: into the directory
    copy_into(str(root), _spec(src, dest="/opt"))  # an existing directory: into it too
    copy_into(str(root), _spec(src, dest="/opt/renamed"))  # otherwise the destination is the file
    copy_into(str(root), _spec(src, dest="/new/deep/f2"))  # parents made
    copy_into(str(root), _spec(src, dest="/bin/"))  # through the image's symlink, which stays one
    assert (root / "opt" / "f.txt").read_text() == "data" and (root / "opt" / "renamed").read_text() == "data"
    assert _mode(root / "opt" / "f.txt") == 0o640 and os.stat(root / "opt" / "f.txt").st_mtime == 1_500_000_000
    assert os.stat(root / "opt").st_mtime == 1_000_000_000  # a directory that existed keeps its time
    assert (root / "usr" / "bin" / "f.txt").exists() and (root / "bin").is_symlink()
    for made in (root / "new", root / "new" / "deep"):
        assert _mode(made) == 0o755 and os.stat(made).st_mtime == 0  # made here: 0755, the epoch


def test_directory_sources_merge_and_replace(tmp_path: Path) -> None:
    root = _image(tmp_path)
    ctx = tmp_path / "ctx"
    _file(ctx / "d" / "a", "A")
    _file(ctx / "d" / "sub" / "b", "B")
    (ctx / "d" / "link").symlink_to("sub/b")
    os.link(ctx / "d" / "a", ctx / "d" / "hard")
    os.chmod(ctx / "d" / "sub", 0o750)
    os.utime(ctx / "d" / "sub", (1_400_000_000, 1_400_000_000))
    (root / "opt" / "sub").mkdir()
    (root / "opt" / "sub" / "old").write_text("kept")
    (root / "opt" / "a").mkdir()  # a directory where the source has a file: replaced (docker's untar)
    members = ("a", "hard", "link", "sub", "sub/b")
    copy_into(str(root), _spec(CopySource(name="d", path=ctx / "d", is_dir=True, members=members), dest="/opt"))
    assert (root / "opt" / "a").read_text() == "A" and os.readlink(root / "opt" / "link") == "sub/b"
    assert os.stat(root / "opt" / "a").st_ino == os.stat(root / "opt" / "hard").st_ino  # a hardlink stays one
    assert (root / "opt" / "sub" / "old").read_text() == "kept" and (root / "opt" / "sub" / "b").read_text() == "B"
    assert _mode(root / "opt" / "sub") == 0o750 and os.stat(root / "opt" / "sub").st_mtime == 1_400_000_000
    assert not (root / "opt" / "d").exists()  # the contents, not the directory
    # only the selection is copied (what .dockerignore left out is not in members)
    copy_into(str(root), _spec(CopySource(name="d", path=ctx / "d", is_dir=True, members=("sub", "sub/b")),
                               dest="/sel/"))  # fmt: skip
    assert sorted(os.listdir(root / "sel")) == ["sub"]
    with pytest.raises(BuildStepFailed, match="cannot copy to non-directory: /etc/passwd"):
        copy_into(str(root), _spec(CopySource(name="d", path=ctx / "d", is_dir=True, members=()), dest="/etc/passwd"))


def test_chmod_inline_documents_and_workdir(tmp_path: Path) -> None:
    root = _image(tmp_path)
    ctx = tmp_path / "ctx"
    _file(ctx / "d" / "x", "x")
    copy_into(str(root), _spec(CopySource(name="d", path=ctx / "d", is_dir=True, members=("x",)), dest="/m/n/",
                               chmod=0o700))  # fmt: skip
    assert _mode(root / "m" / "n" / "x") == 0o700 and _mode(root / "m") == 0o755  # made parents: 0755
    copy_into(str(root), _spec(CopySource(name="doc", content=b"inline\n"), dest="/etc/"))
    assert (root / "etc" / "doc").read_text() == "inline\n" and _mode(root / "etc" / "doc") == 0o644
    assert os.stat(root / "etc" / "doc").st_mtime == 0
    assert make_workdir(str(root), "/srv/app", owner=IDS) and not make_workdir(str(root), "/srv/app", owner=IDS)
    assert not make_workdir(str(root), "/bin", owner=IDS)  # a symlink to a directory is one
    with pytest.raises(BuildStepFailed, match="Cannot mkdir: /etc/passwd/x is not a directory"):
        make_workdir(str(root), "/etc/passwd/x", owner=IDS)


def test_destinations_never_leave_the_root(tmp_path: Path) -> None:
    root = _image(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "abs").symlink_to(str(outside))  # absolute: means <root>/<tmp>/outside inside the image
    (root / "up").symlink_to("../../../../../../../../" + str(outside))
    (root / "dangling").symlink_to("/made/by/copy")
    src = _file(tmp_path / "ctx" / "f", "payload")
    for dest in ("/abs/", "/up/", "/../../../../outside/", "/dangling/"):
        copy_into(str(root), _spec(src, dest=dest))
    assert list(outside.iterdir()) == []
    inside = root / str(outside).lstrip("/")
    assert (inside / "f").read_text() == "payload" and (root / "outside" / "f").exists()
    assert (root / "made" / "by" / "copy" / "f").exists()  # a dangling link's target is made, inside
    assert make_workdir(str(root), "/abs/w", owner=IDS) and (inside / "w").is_dir() and not (outside / "w").exists()


def test_from_image_sources(tmp_path: Path) -> None:
    root = _image(tmp_path)
    src_root = _image(tmp_path / "src")
    (src_root / "usr" / "bin" / "tool").write_text("binary")
    (src_root / "usr" / "bin" / "tool2").write_text("binary2")
    (src_root / "etc" / "shadow").write_text("secret")
    (src_root / "usr" / "bin" / "escape").symlink_to("/../../../../etc/shadow")
    (src_root / "opt" / "dir").mkdir()
    (src_root / "opt" / "dir" / "in").write_text("in")

    def copy(path: str, dest: str) -> None:
        copy_into(str(root), _spec(CopySource(name=os.path.basename(path), image_path=path), dest=dest,
                                   preserve_ownership=True), from_root=str(src_root))  # fmt: skip

    copy("/bin/tool", "/out/")  # the source's symlinks are followed inside the source image
    copy("/usr/bin/tool*", "/globbed/")
    copy("/usr/bin/escape", "/esc")  # an absolute link resolves inside the source image, never the host's
    copy("/opt/dir", "/d/")
    assert (root / "out" / "tool").read_text() == "binary"
    assert sorted(os.listdir(root / "globbed")) == ["tool", "tool2"]
    assert (root / "esc").read_text() == "secret" and (root / "d" / "in").read_text() == "in"
    with pytest.raises(InvalidArgument, match="^COPY failed: stat nosuch: file does not exist$"):
        copy("/nosuch", "/x")
    with pytest.raises(InvalidArgument, match="^COPY failed: no source files were specified$"):
        copy("/usr/bin/none*", "/x/")


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, 1_234_567_890
            info.uid, info.gid = os.getuid(), os.getgid()
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_add_unpacks_local_archives(tmp_path: Path) -> None:
    root = _image(tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    raw = _tar({"t/one": b"1"})
    archives = {"a.tar": raw, "a.tgz": gzip.compress(raw), "a.tbz": bz2.compress(raw), "a.txz": lzma.compress(raw)}
    for name, data in archives.items():
        (ctx / name).write_bytes(data)
        copy_into(str(root), _spec(CopySource(name=name, path=ctx / name, extract=True), dest=f"/x/{name}/",
                                   instruction="ADD"))  # fmt: skip
        assert (root / "x" / name / "t" / "one").read_text() == "1", name
        assert os.stat(root / "x" / name / "t" / "one").st_mtime == 1_234_567_890
    (ctx / "notar.gz").write_bytes(gzip.compress(b"plain text"))
    copy_into(str(root), _spec(CopySource(name="notar.gz", path=ctx / "notar.gz", extract=True), dest="/y/"))
    assert gzip.decompress((root / "y" / "notar.gz").read_bytes()) == b"plain text"
    (ctx / "evil.tar").write_bytes(_tar({"../../evil": b"x"}))
    with pytest.raises(InvalidArgument, match="evil"):
        copy_into(str(root), _spec(CopySource(name="evil.tar", path=ctx / "evil.tar", extract=True), dest="/z/"))
    assert not (tmp_path / "evil").exists()


def test_chown_lookups_like_docker() -> None:
    passwd = "root:x:0:0::/root:/bin/sh\nweb:x:1000:1001::/w:/bin/sh\n"
    group = "root:x:0:\nweb:x:1002:\nstaff:x:50:\n"
    assert resolve_chown("1:2", passwd, group) == (1, 2)
    assert resolve_chown("web", passwd, group) == (1000, 1002)  # a lone user also names the group
    assert resolve_chown("web:staff", passwd, group) == (1000, 50)
    assert resolve_chown("42", passwd, group) == (42, 42)
    with pytest.raises(InvalidArgument, match="can't find uid for user nobody: no such user: nobody$"):
        resolve_chown("nobody", passwd, group)
    with pytest.raises(InvalidArgument, match="can't find gid for group nogroup: no such group: nogroup$"):
        resolve_chown("web:nogroup", passwd, group)
    with pytest.raises(InvalidArgument, match="^invalid chown string format: a:b:c$"):
        resolve_chown("a:b:c", passwd, group)
    with pytest.raises(InvalidArgument, match="open /etc/passwd: no such file or directory"):
        resolve_chown("web", None, None)
