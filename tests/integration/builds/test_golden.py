"""Every golden ``build-*`` case end to end: the real executor, the CLI, docker's words and exit codes.

The classic builder's cases (``DOCKER_BUILDKIT=0``, docker 20.10's default) and BuildKit's
(``DOCKER_BUILDKIT=1``: its plain progress on stderr) run as recorded; ids, digests, vertex numbers
and timings are matched by the recorded regular expressions. After each
case the fixture checks that no build step left anything behind (docker's classic builder keeps a
failed RUN's container; dockernb, like BuildKit, does not).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import golden
from tests.integration.builds.conftest import BuildCli, write_context

pytestmark = pytest.mark.rootless

if not golden.available():
    pytest.fail(f"the golden transcripts are missing: {golden.GOLDEN_FILE}")


def _check(bcli: BuildCli, tmp: Path, case_id: str, cwd: Path | None = None) -> tuple[int, str, str]:
    case = golden.expected(case_id)
    where = cwd or write_context(tmp / case_id, case.get("files") or {})
    code, out, err = bcli.in_dir(where, *case["argv"][1:], env=case.get("env"))
    assert code == case["exit_code"], (case_id, code, out, err)
    if "stdout_regex" in case:
        assert re.fullmatch(case["stdout_regex"], out), (case_id, out)
    else:
        assert out == case["stdout"], (case_id, out)
    if "stderr_regex" in case:
        assert re.fullmatch(case["stderr_regex"], err), (case_id, err)
    else:
        assert err == case["stderr"].replace(case.get("cwd", "") + "/", str(where) + "/"), (case_id, err)
    return code, out, err


def test_classic_builds_as_recorded(bcli: BuildCli, tmp_path: Path) -> None:
    ok = write_context(tmp_path / "ok", golden.expected("build-classic-ok")["files"])
    _check(bcli, tmp_path, "build-classic-ok", ok)
    assert bcli.ok("run", "--rm", "golden-ok") == "hello from golden\n"
    assert bcli.ok("run", "--rm", "golden-ok", "sh", "-c", "cat /built.txt; echo $GREETING") == "built\nhi\n"
    _, cached, _ = _check(bcli, tmp_path, "build-classic-cached", ok)
    _, quiet, _ = _check(bcli, tmp_path, "build-classic-q", ok)
    # the same image each time: the cache is on disk, under the root
    assert quiet.strip()[7:19] in cached and bcli.ok("images", "-q", "golden-ok").strip() == quiet.strip()[7:19]


def test_classic_failures_as_recorded(bcli: BuildCli, tmp_path: Path) -> None:
    for case_id in ("build-classic-unknown-instruction", "build-classic-run-fails", "build-classic-copy-missing",
                    "build-classic-from-missing"):
        _check(bcli, tmp_path, case_id)
    # nothing tagged, no intermediate container kept (BuildKit's rule, not the classic builder's)
    assert bcli.ok("ps", "-aq") == ""


def test_dockerignore_as_recorded(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ign", golden.expected("build-classic-dockerignore")["files"])
    _check(bcli, tmp_path, "build-classic-dockerignore", ctx)
    _check(bcli, tmp_path, "build-classic-copy-ignored", ctx)
    assert bcli.ok("run", "--rm", "golden-ign", "ls", "-A", "/ctx").split() == [
        ".dockerignore", "Dockerfile", "Dockerfile.secret", "a.txt"]


def test_buildkit_progress_as_recorded(bcli: BuildCli, tmp_path: Path) -> None:
    ok = write_context(tmp_path / "ok", golden.expected("build-buildkit-ok")["files"])
    _check(bcli, tmp_path, "build-buildkit-ok", ok)
    assert bcli.ok("run", "--rm", "golden-okbk") == "hello from golden\n"
    for case_id in ("build-buildkit-unknown-instruction", "build-buildkit-run-fails", "build-buildkit-copy-missing"):
        _check(bcli, tmp_path, case_id)
    assert bcli.ok("ps", "-aq") == ""


def test_unused_build_arg_and_client_errors(bcli: BuildCli, tmp_path: Path) -> None:
    _check(bcli, tmp_path, "build-classic-unused-build-arg")
    empty = tmp_path / "empty"
    empty.mkdir()
    _check(bcli, tmp_path, "build-no-dockerfile", empty)
    _check(bcli, tmp_path, "build-no-context", tmp_path)
    _check(bcli, tmp_path, "build-bad-tag")
