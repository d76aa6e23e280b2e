"""What the extractor writes: whiteouts in both modes, links, metadata, compression, tar dialects."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockernb.errors import InvalidLayer
from dockernb.layers.apply import WhiteoutMode, apply_layer
from dockernb.layers.compression import Compression, detect
from tests.unit.layers.tarmaker import d, entry, f, hard, make, sym

pytestmark = pytest.mark.rootless


def apply(data: bytes, target: Path, **kw: object):  # type: ignore[no-untyped-def]
    return apply_layer(io.BytesIO(data), str(target), chown=False, **kw)  # type: ignore[arg-type]


def tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath, n)
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "-> " + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "<dir>"
            elif stat.S_ISCHR(st.st_mode):
                out[rel] = f"<chr {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}>"
            else:
                out[rel] = p.read_text()
    return out


LAYER1 = make(d("a"), d("a/b"), f("a/b/c", b"c"), f("a/keep", b"k"), d("o"), f("o/old", b"o"), f("top", b"t"))
LAYER2 = make(f("a/.wh.b", b""), d("o"), f("o/.wh..wh..opq", b""), f("o/new", b"n"), f(".wh.top", b""),
              f(".wh..wh.plnk", b""))


def test_whiteouts_delete_mode(tmp_path: Path) -> None:
    apply(LAYER1, tmp_path)
    apply(LAYER2, tmp_path)
    assert tree(tmp_path) == {"a": "<dir>", "a/keep": "k", "o": "<dir>", "o/new": "n"}


def test_opaque_keeps_what_the_same_layer_brought(tmp_path: Path) -> None:
    apply(make(d("o"), f("o/old", b"o")), tmp_path)
    apply(make(d("o"), f("o/first", b"1"), f("o/.wh..wh..opq", b""), f("o/second", b"2")), tmp_path)
    assert tree(tmp_path) == {"o": "<dir>", "o/first": "1", "o/second": "2"}


def test_whiteouts_overlay_mode(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    lower.mkdir()
    upper.mkdir()
    apply(LAYER1, lower)
    apply(LAYER2, upper, lowers=[str(lower)], whiteouts=WhiteoutMode.OVERLAY, xattr_prefix="user.")
    assert tree(upper) == {"a": "<dir>", "a/b": "<chr 0/0>", "o": "<dir>", "o/new": "n", "top": "<chr 0/0>"}
    assert os.getxattr(upper / "o", "user.overlay.opaque") == b"y"
    # the copied-up parent keeps the lower's mode and mtime
    assert (upper / "a").stat().st_mtime_ns == (lower / "a").stat().st_mtime_ns
    assert stat.S_IMODE((upper / "a").stat().st_mode) == 0o755


def test_hardlinks_symlinks_modes_and_times(tmp_path: Path) -> None:
    apply(make(d("bin", mode=0o711), f("bin/tool", b"#!", mode=0o4755, mtime=1234567890), hard("bin/alias", "bin/tool"),
               sym("bin/sl", "tool"), entry("fifo", tarfile.FIFOTYPE, mode=0o640)), tmp_path)
    tool = (tmp_path / "bin/tool").stat()
    assert stat.S_IMODE(tool.st_mode) == 0o4755
    assert tool.st_mtime == 1234567890
    assert tool.st_nlink == 2 and (tmp_path / "bin/alias").stat().st_ino == tool.st_ino
    assert os.readlink(tmp_path / "bin/sl") == "tool"
    assert stat.S_IMODE((tmp_path / "bin").stat().st_mode) == 0o711
    assert stat.S_ISFIFO((tmp_path / "fifo").lstat().st_mode)


def test_hardlink_to_a_file_of_a_lower_layer_copies_it_up(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    lower.mkdir()
    upper.mkdir()
    apply(make(d("usr"), f("usr/lib", b"payload", mode=0o600)), lower)
    apply(make(hard("usr/lib2", "usr/lib")), upper, lowers=[str(lower)], whiteouts=WhiteoutMode.OVERLAY,
          xattr_prefix="user.")
    assert (upper / "usr/lib").read_bytes() == b"payload"
    assert (upper / "usr/lib2").stat().st_ino == (upper / "usr/lib").stat().st_ino
    assert (lower / "usr/lib").stat().st_nlink == 1


def test_device_nodes_are_skipped_with_a_note_when_not_permitted(tmp_path: Path) -> None:
    data = make(entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), f("ok"))
    res = apply(data, tmp_path)
    if os.geteuid() == 0:
        assert os.major((tmp_path / "dev/null").lstat().st_rdev) == 1
        assert res.notes == ()
    else:
        assert not (tmp_path / "dev/null").exists()
        assert res.notes == ("skipped device node dev/null: operation not permitted",)
    assert (tmp_path / "ok").exists()


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_compressions_and_diff_id(tmp_path: Path, compress: str) -> None:
    raw = make(f("hello", b"world" * 1000))
    seen = []
    res = apply(make(f("hello", b"world" * 1000), compress=compress), tmp_path, progress=lambda c, u: seen.append(u))
    assert res.diff_id.hex == hashlib.sha256(raw).hexdigest()
    assert res.size == len(raw)
    assert (tmp_path / "hello").read_bytes() == b"world" * 1000
    assert seen and seen[-1] == len(raw)


def test_concatenated_gzip_members_and_padding(tmp_path: Path) -> None:
    raw = make(f("a", b"1" * 5000), f("b", b"2"))
    blob = gzip.compress(raw[:2048]) + gzip.compress(raw[2048:]) + b"\0" * 100
    res = apply(blob, tmp_path)
    assert res.diff_id.hex == hashlib.sha256(raw).hexdigest()
    assert tree(tmp_path) == {"a": "1" * 5000, "b": "2"}


def test_detection_prefers_magic_over_media_type() -> None:
    assert detect(b"\x1f\x8b\x08\x00", "application/vnd.oci.image.layer.v1.tar") is Compression.GZIP
    assert detect(b"\x28\xb5\x2f\xfd", None) is Compression.ZSTD
    assert detect(b"ustar", "application/vnd.oci.image.layer.v1.tar+gzip") is Compression.NONE


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_in_every_dialect(tmp_path: Path, fmt: int) -> None:
    long_dir = "/".join(["d" * 60] * (2 if fmt == tarfile.USTAR_FORMAT else 4))  # ustar: 155-byte prefix
    name = f"{long_dir}/{'f' * 90}"
    link = f"{long_dir}/{'l' * 90}"
    target = "../" * 30 + "t" if fmt != tarfile.USTAR_FORMAT else "t" * 90  # > 100 bytes: GNU K / pax linkpath
    target = target.replace("../" * 30, "./" * 60)
    res = apply(make(f(name, b"x"), sym(link, target), fmt=fmt), tmp_path)
    assert (tmp_path / name).read_bytes() == b"x"
    assert os.readlink(tmp_path / link) == target
    assert res.entries >= 2


def test_big_ids_use_base256_and_pax(tmp_path: Path) -> None:
    # parsed correctly even when we may not apply them
    res = apply(make(f("big", b"x", uid=3_000_000_000, gid=70000), fmt=tarfile.GNU_FORMAT), tmp_path)
    assert res.entries == 1


@pytest.mark.parametrize("bad", [
    b"not a tar at all" * 40,
    gzip.compress(b"x")[:-6],
    b"\x1f\x8b\x08\x00garbage-garbage-garbage",
])
def test_garbage_is_an_invalid_layer(tmp_path: Path, bad: bytes) -> None:
    with pytest.raises(InvalidLayer):
        apply(bad, tmp_path)


def test_truncated_tar_is_an_invalid_layer(tmp_path: Path) -> None:
    with pytest.raises(InvalidLayer, match="unexpected end"):
        apply(make(f("a", b"x" * 5000))[:1500], tmp_path)
