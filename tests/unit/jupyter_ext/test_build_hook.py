"""The wheel's build step: editable installs skip npm unless asked; stale output is rebuilt."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import types
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HOOK = Path(__file__).resolve().parents[3] / "labextension" / "hatch_build.py"

pytestmark = pytest.mark.rootless


@pytest.fixture
def hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[tuple[Any, ...]]]:
    spec = importlib.util.spec_from_file_location("dockernb_test_hatch_build", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    src = tmp_path / "labextension"
    (src / "src").mkdir(parents=True)
    (src / "src" / "index.ts").write_text("export {};\n")
    (src / "package.json").write_text("{}")
    monkeypatch.setattr(module, "HERE", src)
    monkeypatch.setattr(module, "OUTPUT", tmp_path / "out")
    calls: list[tuple[Any, ...]] = []
    fake = types.ModuleType("hatch_jupyter_builder")
    fake.npm_builder = lambda target, version, **kw: calls.append((target, version, kw))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hatch_jupyter_builder", fake)
    monkeypatch.delenv("DOCKERNB_BUILD_LABEXTENSION", raising=False)
    return module, calls


def test_editable_installs_skip_the_npm_build(hook: tuple[ModuleType, list[tuple[Any, ...]]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    module, calls = hook
    module.build("wheel", "editable", path="labextension")
    assert calls == []
    monkeypatch.setenv("DOCKERNB_BUILD_LABEXTENSION", "1")
    module.build("wheel", "editable", path="labextension")
    assert calls == [("wheel", "editable", {"path": "labextension"})]


def test_regular_builds_run_npm_when_the_output_is_missing_or_stale(
        hook: tuple[ModuleType, list[tuple[Any, ...]]]) -> None:
    module, calls = hook
    module.build("wheel", "standard", path="labextension", build_cmd="build:prod")
    assert len(calls) == 1
    out = module.OUTPUT
    out.mkdir()
    (out / "package.json").write_text("{}")
    later = time.time() + 10
    os.utime(out / "package.json", (later, later))
    module.build("wheel", "standard")
    assert len(calls) == 1  # up to date: an sdist's prebuilt extension needs no npm
    newer = module.HERE / "src" / "index.ts"
    os.utime(newer, (later + 10, later + 10))
    module.build("sdist", "standard")
    assert len(calls) == 2
