"""Variable substitution (docker's shell.Lex) and build-argument scoping (docker's BuildArgs)."""

from __future__ import annotations

import pytest

from dockernb.build.expand import BuildArgs, Lexer, expand_from, expand_instruction
from dockernb.build.parse import CopyInstr, EnvInstr, ExposeInstr, RunInstr, parse_dockerfile
from dockernb.errors import SubstitutionError

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless

ENV = {"A": "a", "EMPTY": "", "SP": "x y", "PATH": "/bin"}


@pytest.mark.parametrize(
    ("word", "want"),
    [
        ("$A", "a"),
        ("${A}", "a"),
        ("pre${A}post", "preapost"),
        ("$A$A", "aa"),
        ("$NOPE", ""),
        ("${NOPE}x", "x"),
        ("${NOPE:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${A:-def}", "a"),
        ("${NOPE:+alt}", ""),
        ("${EMPTY:+alt}", ""),
        ("${A:+alt}", "alt"),
        ("${NOPE-def}", "def"),  # BuildKit's forms without the colon: unset only
        ("${EMPTY-def}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${A:-${NOPE:-nested}}", "a"),
        ("${NOPE:-${A}}", "a"),
        ("\\$A", "$A"),
        ("'$A'", "$A"),
        ('"$A"', "a"),
        ('"\\$A"', "$A"),
        ('"a\\nb"', "a\\nb"),  # inside double quotes only \" \$ \\ are escapes
        ("a\\ b", "a b"),
        ("\"x\"y'z'", "xyz"),
        ("$", "$"),
        ("$1", ""),
        ("100%", "100%"),
        ("${A}/${SP}", "a/x y"),
    ],
)
def test_process_word(word: str, want: str) -> None:
    assert Lexer().process_word(word, ENV) == want


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("${A", "syntax error: missing '}'"),
        ("${", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:a}", "syntax error: bad substitution"),
        ("${A:-x", "syntax error: missing '}'"),
        ("${A!x}", "missing ':' in substitution"),
        ("${A:=x}", "unsupported modifier (=) in substitution"),
        ("${NOPE:?}", "NOPE: is not allowed to be unset"),
        ("${NOPE:?must be set}", "NOPE: must be set"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${NOPE?}", "NOPE: is not allowed to be unset"),
        ("'open", "unexpected end of statement while looking for matching single-quote"),
        ('"open', "unexpected end of statement while looking for matching double-quote"),
    ],
)
def test_substitution_errors_in_dockers_words(word: str, reason: str) -> None:
    with pytest.raises(SubstitutionError) as err:
        Lexer().process_word(word, ENV)
    assert str(err.value) == f'failed to process "{word}": {reason}'.replace('"' + word + '"', _q(word))


def _q(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_backtick_escape() -> None:
    assert Lexer("`").process_word("`$A \\n", ENV) == "$A \\n"


def test_process_words_splits_after_substitution() -> None:
    assert Lexer().process_words("$SP 'q r' ${A}", ENV) == ["x", "y", "q r", "a"]


def test_heredoc_bodies_keep_quotes() -> None:
    assert Lexer().process_word("echo '$A' \"$A\"\n", ENV, raw_quotes=True) == "echo 'a' \"a\"\n"


def commands(text: str):
    return parse_dockerfile("FROM x\n" + text).stages[0].commands


def test_expanded_instructions() -> None:
    lexer = Lexer()
    env_cmd, copy_cmd, expose, run = commands(
        'ENV K_$A="v $A" PLAIN=$EMPTY\nCOPY --chown=$A:$A ${A}.txt /dst/$A/\nEXPOSE $PORTS 22\nRUN echo $A\n'
    )
    e = expand_instruction(env_cmd, ENV, lexer)
    assert isinstance(e, EnvInstr) and e.pairs == (("K_a", "v a"), ("PLAIN", ""))
    c = expand_instruction(copy_cmd, ENV, lexer)
    assert isinstance(c, CopyInstr) and (c.chown, c.sources, c.dest) == ("a:a", ("a.txt",), "/dst/a/")
    x = expand_instruction(expose, {"PORTS": "80 443/udp"}, lexer)
    # docker sorts the words as written ("$PORTS" < "22"), then substitutes
    assert isinstance(x, ExposeInstr) and x.ports == ("80", "443/udp", "22")
    # RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD are left to the shell
    r = expand_instruction(run, ENV, lexer)
    assert isinstance(r, RunInstr) and r.args == ("echo $A",)
    for text in ("CMD echo $A\n", 'ENTRYPOINT ["$A"]\n', "HEALTHCHECK CMD $A\n", "ONBUILD RUN $A\n", 'SHELL ["$A"]\n'):
        (cmd,) = commands(text)
        assert expand_instruction(cmd, ENV, lexer) is cmd


def test_expanded_in_docker_s_list() -> None:
    lexer = Lexer()
    text = "LABEL l=$A\nWORKDIR /w/$A\nUSER $A\nVOLUME /v/$A\nSTOPSIGNAL SIG$A\nARG X=$A\n"
    out = [expand_instruction(c, ENV, lexer) for c in commands(text)]
    assert [o.text for o in out] == [c.text for c in commands(text)]  # the step text stays as written
    label, workdir, user, volume, stopsignal, arg = out
    assert label.pairs == (("l", "a"),)
    assert (workdir.path, user.user, volume.paths, stopsignal.signal) == ("/w/a", "a", ("/v/a",), "SIGa")
    assert arg.args == (("X", "a"),)


def test_from_uses_meta_args_only() -> None:
    df = parse_dockerfile("ARG TAG=1\nFROM --platform=$P busybox:${TAG}\n")
    f = expand_from(df.stages[0].from_, {"TAG": "2", "P": "linux/amd64"}, Lexer())
    assert (f.image, f.platform) == ("busybox:2", "linux/amd64")


# --- build args ----------------------------------------------------------------------------------


def test_args_are_scoped_per_stage() -> None:
    args = BuildArgs({"V": "from-cli", "HTTP_PROXY": "http://proxy:3128", "UNUSED": "1"})
    args.add_arg("V", "meta-default")
    args.add_meta_arg("V", "meta-default")
    assert args.all_meta() == {"V": "from-cli", "HTTP_PROXY": "http://proxy:3128"}
    stage = args.for_stage()
    # inside a stage nothing declared is visible except the builtin proxies
    assert stage.visible([]) == {"HTTP_PROXY": "http://proxy:3128"}
    stage.add_arg("V", None)  # redeclared without default: the --build-arg value
    stage.add_arg("LOCAL", "x")
    assert stage.visible([]) == {"V": "from-cli", "LOCAL": "x", "HTTP_PROXY": "http://proxy:3128"}
    # an ENV of the same name wins
    assert "V" not in stage.visible(["V"])
    # history records declared args; undeclared proxies stay out
    assert stage.for_history([]) == ["LOCAL=x", "V=from-cli"]
    args.merge_referenced(stage)
    assert args.unused() == ["UNUSED"]


def test_redeclared_arg_without_default_gets_the_meta_default() -> None:
    args = BuildArgs({})
    args.add_arg("V", "1")
    args.add_meta_arg("V", "1")
    stage = args.for_stage()
    stage.add_arg("V", None)
    assert stage.visible([]) == {"V": "1"}


def test_declared_proxy_is_recorded() -> None:
    stage = BuildArgs({"http_proxy": "p"}).for_stage()
    assert stage.for_history([]) == []
    stage.add_arg("http_proxy", None)
    assert stage.for_history([]) == ["http_proxy=p"]


def test_build_arg_without_value() -> None:
    stage = BuildArgs({"NOVAL": None}).for_stage()
    stage.add_arg("NOVAL", "default")
    assert stage.visible([]) == {"NOVAL": "default"}
