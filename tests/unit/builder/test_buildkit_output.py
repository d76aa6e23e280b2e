"""BuildKit's plain progress from the builder's events (the fake executor): the golden BuildKit cases."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from dockernb.build.builder import Builder, BuildOptions
from dockernb.build.cache import BuildCache
from dockernb.build.context import context_from_dir
from dockernb.errors import DockernbError
from dockernb.present.buildkit import PlainProgress, _size, buildkit_enabled
from dockernb.testing.fake_executor import FakeExecutor
from tests import golden

pytestmark = pytest.mark.rootless


def _run(builder: Builder, ctx_dir: Path, tags: tuple[str, ...] = ()) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    printer = PlainProgress(out, err)
    with context_from_dir(ctx_dir, cwd=ctx_dir) as ctx:
        try:
            for event in builder.build(ctx, BuildOptions(tags=tags)):
                printer.write(event)
        except DockernbError as e:
            printer.fail(e)
            return 1, out.getvalue(), err.getvalue()
    printer.finish()
    return 0, out.getvalue(), err.getvalue()


def test_golden_buildkit_cases_from_events(tmp_path: Path) -> None:
    ex = FakeExecutor()
    ex.add_base("busybox")
    builder = Builder(ex, cache=BuildCache(tmp_path / "cache"), tmp_dir=tmp_path)
    for case_id, tags in (("build-buildkit-ok", ("golden-okbk",)), ("build-buildkit-unknown-instruction", ()),
                          ("build-buildkit-run-fails", ()), ("build-buildkit-copy-missing", ())):
        case = golden.expected(case_id)
        d = tmp_path / case_id
        d.mkdir()
        for name, content in case["files"].items():
            (d / name).write_text(content)
        code, out, err = _run(builder, d, tags)
        assert (code, out) == (case["exit_code"], case["stdout"]), case_id
        assert re.fullmatch(case["stderr_regex"], err), (case_id, err)


def test_stages_outputs_and_units(tmp_path: Path) -> None:
    ex = FakeExecutor(scripts={"echo one; echo two": (0, "one\ntwo\n")})
    ex.add_base("busybox")
    (tmp_path / "Dockerfile").write_text("FROM busybox AS b\nRUN echo one; echo two\nENV X=1\n"
                                         "FROM b\nWORKDIR /w\nCOPY --from=b /x /y\n")
    code, _, err = _run(Builder(ex, tmp_dir=tmp_path), tmp_path)
    assert code == 0
    steps = re.findall(r"#\d+ (\[(?!internal).*)", err)
    assert steps == ["[b 1/2] FROM docker.io/library/busybox", "[b 2/2] RUN echo one; echo two",
                     "[stage-1 2/3] WORKDIR /w", "[stage-1 3/3] COPY --from=b /x /y"]  # a stage's own FROM: no vertex
    assert err.count("load metadata for") == 1
    assert re.search(r"#\d+ \d+\.\d{3} one\n#\d+ \d+\.\d{3} two\n", err)
    assert [_size(n) for n in (2, 999, 1000, 54_321, 1_234_567)] == ["2B", "999B", "1kB", "54.3kB", "1.23MB"]
    assert buildkit_enabled({"DOCKER_BUILDKIT": "1"}) and not buildkit_enabled({"DOCKER_BUILDKIT": "0"})
    assert not buildkit_enabled({})
