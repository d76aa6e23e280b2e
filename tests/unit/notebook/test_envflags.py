"""The Docker kernel's ``-e NAME``: resolved from the caller's (bash's) environment, only among the flags."""

from __future__ import annotations

import pytest

from dockernb.kernel.envflags import with_caller_env

pytestmark = pytest.mark.rootless


def test_bare_names_take_the_callers_values_and_unset_ones_are_dropped() -> None:
    env = {"G": "hi", "H": "x y"}
    argv = ["run", "--rm", "-e", "G", "-e", "NOPE", "--env=H", "-eG", "-e", "A=1", "busybox", "sh", "-c", "echo -e G"]
    assert with_caller_env(argv, env) == ["run", "--rm", "-e", "G=hi", "--env=H=x y", "-eG=hi", "-e", "A=1",
                                          "busybox", "sh", "-c", "echo -e G"]  # fmt: skip
    assert with_caller_env(["container", "exec", "--env", "G", "c1", "env"], env) == [
        "container", "exec", "--env", "G=hi", "c1", "env"]  # fmt: skip


def test_other_lines_and_bad_lines_are_left_alone() -> None:
    assert with_caller_env(["ps", "-a"], {"G": "1"}) == ["ps", "-a"]
    assert with_caller_env(["run", "--bogus", "-e", "G"], {"G": "1"}) == ["run", "--bogus", "-e", "G"]
    assert with_caller_env(["nosuchverb", "-e", "G"], {"G": "1"}) == ["nosuchverb", "-e", "G"]
