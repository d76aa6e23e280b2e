"""The CLI's own words (no engine work): help, unknown commands and flags, arity, per golden."""

from __future__ import annotations

import io

import pytest

from dockernb.present.args import UsageError, Verb, check_arity
from dockernb.present.context import Context
from dockernb.present.dispatch import dispatch
from tests import golden


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(argv, Context(prog="dockernb", out=out, err=err))
    return code, out.getvalue(), err.getvalue()


def test_golden_is_present() -> None:
    assert golden.available(), f"golden transcripts missing at {golden.GOLDEN_FILE}"


def test_unknown_command_like_docker() -> None:
    case = golden.expected("unknown-command")
    code, out, err = run(case["argv"][1:])
    assert (code, out, err) == (case["exit_code"], case["stdout"], case["stderr"])


def test_unknown_flag_exits_125() -> None:
    code, _, err = run(["version", "--bogus-flag"])
    assert code == 125
    assert err == "unknown flag: --bogus-flag\nSee 'dockernb version --help'.\n"


def test_arity_messages_like_cobra() -> None:
    case = golden.expected("ps-extra-arg")
    verb = Verb("ps", "ps [OPTIONS]", "List containers", 0, 0)
    with pytest.raises(UsageError) as err:
        check_arity(verb, ["extra"])
    assert err.value.exit_code == case["exit_code"] == 1
    assert err.value.message + "\n" == case["stderr"]
    run_verb = Verb("run", "run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container", 1)
    with pytest.raises(UsageError) as err:
        check_arity(run_verb, [])
    assert err.value.message + "\n" == golden.expected("run-no-args")["stderr"]


def test_help_and_version_flag() -> None:
    code, out, _ = run(["--help"])
    assert code == 0 and "Usage:  dockernb [OPTIONS] COMMAND" in out and "version" in out
    code, out, _ = run(["--version"])
    assert code == 0 and out.startswith("dockernb version ")
    code, out, _ = run(["version", "--help"])
    assert code == 0 and "--format" in out
