"""Diffs: deterministic layer tars that reproduce the change when applied."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest

from dockernb.layers.apply import WhiteoutMode, apply_layer
from dockernb.layers.diff import diff_overlay, diff_trees
from tests.unit.layers.tarmaker import d, f, hard, make, sym
from tests.unit.layers.test_apply_behaviour import tree

pytestmark = pytest.mark.rootless

BASE = make(d("etc"), f("etc/conf", b"1"), f("etc/gone", b"g"), d("var"), d("var/cache"), f("var/cache/x", b"x"),
            d("usr"), f("usr/bin", b"b"))
CHANGE = make(f("etc/conf", b"2", mtime=2_000_000_000), f("etc/.wh.gone", b""), d("var"), f("var/.wh..wh..opq", b""),
              f("var/fresh", b"f"), f("new", b"n"), hard("new2", "new"), sym("lnk", "new"))


def apply(data: bytes, target: Path, **kw: object) -> None:
    apply_layer(io.BytesIO(data), str(target), chown=False, **kw)  # type: ignore[arg-type]


def test_diff_trees_round_trip_and_determinism(tmp_path: Path) -> None:
    before, after, replay = tmp_path / "before", tmp_path / "after", tmp_path / "replay"
    for p in (before, after, replay):
        p.mkdir()
    apply(BASE, before)
    apply(BASE, after)
    apply(CHANGE, after)
    out1, out2 = io.BytesIO(), io.BytesIO()
    id1 = diff_trees(str(before), str(after), out1)
    time.sleep(0.01)
    id2 = diff_trees(str(before), str(after), out2)
    assert out1.getvalue() == out2.getvalue() and id1 == id2
    apply(BASE, replay)
    res = apply_layer(io.BytesIO(out1.getvalue()), str(replay), chown=False)
    assert res.diff_id == id1
    assert tree(replay) == tree(after)
    assert (replay / "new2").stat().st_ino == (replay / "new").stat().st_ino


def test_diff_overlay_round_trip(tmp_path: Path) -> None:
    lower, upper, replay = tmp_path / "lower", tmp_path / "upper", tmp_path / "replay"
    for p in (lower, upper, replay):
        p.mkdir()
    apply(BASE, lower)
    apply(CHANGE, upper, lowers=[str(lower)], whiteouts=WhiteoutMode.OVERLAY, xattr_prefix="user.")
    out = io.BytesIO()
    diff_id = diff_overlay(str(upper), out)
    assert diff_overlay(str(upper), io.BytesIO()) == diff_id
    shutil.copytree(lower, replay, dirs_exist_ok=True, symlinks=True)
    apply(out.getvalue(), replay)
    expected = tmp_path / "expected"
    expected.mkdir()
    apply(BASE, expected)
    apply(CHANGE, expected)
    assert tree(replay) == tree(expected)
    assert "var/cache" not in tree(replay)
    assert os.path.exists(replay / "var/fresh")
