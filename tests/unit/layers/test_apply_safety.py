"""Every way a layer tar might try to write outside its root, in both whiteout modes.

Each test has a sentinel directory *outside* the target and checks it is untouched afterwards.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dockernb.errors import InvalidLayer
from dockernb.layers.apply import WhiteoutMode, apply_layer
from tests.unit.layers.tarmaker import d, f, hard, make, sym

pytestmark = pytest.mark.rootless


@pytest.fixture(params=["python", "openat2"])
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path]:
    target, outside = tmp_path / "target", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("keep")
    return target, outside


def apply(data: bytes, target: Path, **kw: object) -> object:
    return apply_layer(io.BytesIO(data), str(target), chown=False, **kw)  # type: ignore[arg-type]


def untouched(outside: Path) -> None:
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "keep"
    assert not (outside / "secret").is_symlink()


def test_dotdot_names_are_refused(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    for name in ("../outside/evil", "a/../../outside/evil", "./../x"):
        with pytest.raises(InvalidLayer, match="outside of the root"):
            apply(make(f(name)), target, strategy=strategy)
    untouched(outside)


def test_absolute_names_land_inside(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    apply(make(f(f"{outside}/evil", b"in")), target, strategy=strategy)
    assert (target / str(outside).lstrip("/") / "evil").read_bytes() == b"in"
    untouched(outside)


def test_symlinked_parent_from_an_earlier_entry_stays_inside(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    apply(make(sym("esc", str(outside)), f("esc/evil", b"1"), sym("root", "/"), f("root/evil2", b"2")),
          target, strategy=strategy)
    assert (target / str(outside).lstrip("/") / "evil").read_bytes() == b"1"
    assert (target / "evil2").read_bytes() == b"2"
    untouched(outside)


def test_relative_symlink_climbing_out_is_refused(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    with pytest.raises(InvalidLayer, match="invalid symlink"):
        apply(make(d("a"), sym("a/up", "../../outside")), target, strategy=strategy)
    untouched(outside)


def test_dangling_and_absolute_symlink_targets_are_kept_verbatim(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    apply(make(sym("abs", "/etc/passwd"), d("a"), sym("a/rel", "../abs")), target, strategy=strategy)
    assert os.readlink(target / "abs") == "/etc/passwd"
    assert os.readlink(target / "a/rel") == "../abs"
    untouched(outside)


def test_a_file_replaces_a_symlink_instead_of_writing_through_it(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    apply(make(sym("f", str(outside / "secret")), f("f", b"new")), target, strategy=strategy)
    assert not (target / "f").is_symlink()
    assert (target / "f").read_bytes() == b"new"
    untouched(outside)


def test_hardlinks_climbing_out_are_refused(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    with pytest.raises(InvalidLayer, match="invalid hardlink"):
        apply(make(hard("h", "../outside/secret")), target, strategy=strategy)
    # through an absolute symlink parent: resolved inside the root, where there is no such file
    with pytest.raises(InvalidLayer, match="invalid hardlink"):
        apply(make(sym("sl", str(outside)), hard("h2", "sl/secret")), target, strategy=strategy)
    untouched(outside)


def test_hardlink_to_a_symlink_links_the_symlink(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    apply(make(sym("s", str(outside / "secret")), hard("h", "s"), f("h", b"overwrite")), target, strategy=strategy)
    assert os.readlink(target / "s") == str(outside / "secret")
    assert (target / "h").read_bytes() == b"overwrite"
    untouched(outside)


def test_symlink_loops_and_files_as_parents_fail_cleanly(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    with pytest.raises(InvalidLayer, match="symbolic links"):
        apply(make(sym("a", "b"), sym("b", "a"), f("a/x")), target, strategy=strategy)
    with pytest.raises(InvalidLayer, match="not a directory"):
        apply(make(f("plain"), f("plain/x")), target, strategy=strategy)
    untouched(outside)


def test_whiteouts_cannot_reach_out(env: tuple[Path, Path], strategy: str) -> None:
    target, outside = env
    for mode in WhiteoutMode:
        apply(make(sym("l", str(outside)), f("l/.wh.secret", b""), f(f"{outside}/.wh.secret", b"")), target,
              whiteouts=mode, strategy=strategy, xattr_prefix="user.")
        with pytest.raises(InvalidLayer):
            apply(make(f("../.wh.outside", b"")), target, whiteouts=mode, strategy=strategy)
    untouched(outside)


def test_overlay_xattrs_from_the_tar_are_dropped(env: tuple[Path, Path]) -> None:
    target, _ = env
    e = d("dir")
    e[0].pax_headers = {"SCHILY.xattr.user.overlay.opaque": "y", "SCHILY.xattr.user.ok": "v"}
    apply(make(e), target, whiteouts=WhiteoutMode.OVERLAY, xattr_prefix="user.")
    assert os.getxattr(target / "dir", "user.ok") == b"v"
    with pytest.raises(OSError):
        os.getxattr(target / "dir", "user.overlay.opaque")


def test_cross_layer_symlink_parent_in_a_lower_layer(tmp_path: Path, strategy: str) -> None:
    """The lower layer holds `lib -> <outside>`; the next layer writes `lib/x` into the upper."""
    lower, upper, outside = tmp_path / "lower", tmp_path / "upper", tmp_path / "outside"
    for p in (lower, upper, outside):
        p.mkdir()
    (outside / "secret").write_text("keep")
    apply(make(sym("lib", str(outside)), sym("rel", "lib")), lower)
    apply(make(f("lib/x", b"1"), f("rel/y", b"2")), upper, lowers=[str(lower)], whiteouts=WhiteoutMode.OVERLAY,
          xattr_prefix="user.", strategy=strategy)
    inside = upper / str(outside).lstrip("/")
    assert (inside / "x").read_bytes() == b"1"
    assert (inside / "y").read_bytes() == b"2"
    assert not (upper / "lib").exists()  # the symlink stays in the lower layer only
    untouched(outside)
