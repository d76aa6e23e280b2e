"""Dockerfile parsing: every instruction, and every parse error class, in docker's words."""

from __future__ import annotations

import pytest

from dockernb.build.parse import (
    ArgInstr,
    CmdInstr,
    CopyInstr,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    FromInstr,
    HealthcheckInstr,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    RunInstr,
    ShellInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
    chomp,
    parse_dockerfile,
    parse_instructions,
)
from dockernb.errors import DockerfileInvalid, DockerfileParseError, InvalidChange
from tests import golden

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless

NO_DEST = "requires at least two arguments, but only one was provided. Destination could not be determined"
BUILDKIT = (
    "the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build "
    "images with BuildKit enabled"
)
STRINGS = "arrays must be comprised of strings only"
CHMOD = "it should be octal string and between 0 and 07777"


def one(text: str):  # the single instruction after a FROM
    df = parse_dockerfile("FROM busybox\n" + text)
    (cmd,) = df.stages[0].commands
    return cmd


def error(text: str) -> str:
    with pytest.raises(DockerfileParseError) as err:
        parse_dockerfile(text)
    return str(err.value)


# --- every instruction ----------------------------------------------------------------------


def test_from_forms() -> None:
    df = parse_dockerfile("from --platform=linux/arm64 Busybox:1.36 As Builder\nFROM builder\nFROM scratch\n")
    first, second, third = (s.from_ for s in df.stages)
    assert isinstance(first, FromInstr)
    assert (first.image, first.name, first.platform) == ("Busybox:1.36", "builder", "linux/arm64")
    assert first.text == "from --platform=linux/arm64 Busybox:1.36 As Builder"  # shown as written
    assert (second.image, second.name) == ("builder", "")
    assert third.image == "scratch"
    assert [s.index for s in df.stages] == [0, 1, 2]


def test_from_digest_and_line_numbers() -> None:
    df = parse_dockerfile("# comment\n\nFROM busybox@sha256:" + "a" * 64 + "\nRUN a \\\n  b\nENV X=1\n")
    assert df.stages[0].from_.line == 3
    run, env = df.stages[0].commands
    assert (run.line, env.line) == (4, 6)
    assert run.text == "RUN a   b"  # continuation joined, as docker shows it


def test_run_shell_exec_and_network() -> None:
    shell = one("RUN echo  hi   \n")
    assert isinstance(shell, RunInstr) and shell.args == ("echo  hi",) and not shell.json_form
    exec_form = one('RUN ["echo", "a b"]\n')
    assert exec_form.args == ("echo", "a b") and exec_form.json_form
    assert one("RUN --network=none true\n").network == "none"
    # a JSON array with non-strings is an error; anything else not JSON is shell form (docker)
    assert one("RUN [\"echo\", 'a']\n").args == ("[\"echo\", 'a']",)


def test_cmd_entrypoint_shell() -> None:
    cmd = one('CMD ["cat", "/hello.txt"]\n')
    assert isinstance(cmd, CmdInstr) and cmd.args == ("cat", "/hello.txt") and cmd.json_form
    assert one("CMD echo hi\n").args == ("echo hi",)
    ep = one("ENTRYPOINT []\n")
    assert isinstance(ep, EntrypointInstr) and ep.args is None
    assert one('ENTRYPOINT ["nginx", "-g"]\n').args == ("nginx", "-g")
    sh = one('SHELL ["bash", "-eu", "-c"]\n')
    assert isinstance(sh, ShellInstr) and sh.args == ("bash", "-eu", "-c")


def test_env_label_arg() -> None:
    env = one('ENV A=1 B="two words" C=${A}\n')
    assert isinstance(env, EnvInstr)
    assert env.pairs == (("A", "1"), ("B", '"two words"'), ("C", "${A}"))  # quotes go at expansion
    assert one("ENV OLD form with spaces\n").pairs == (("OLD", "form with spaces"),)
    label = one('LABEL a=b "c d"=e\n')
    assert isinstance(label, LabelInstr) and label.pairs == (("a", "b"), ('"c d"', "e"))
    arg = one("ARG A B=2 C=\n")
    assert isinstance(arg, ArgInstr) and arg.args == (("A", None), ("B", "2"), ("C", ""))


def test_copy_add() -> None:
    cp = one("COPY --from=builder --chown=app:app --chmod=0755 a b /dst/\n")
    assert isinstance(cp, CopyInstr) and not cp.add
    assert (cp.sources, cp.dest, cp.from_, cp.chown, cp.chmod) == (("a", "b"), "/dst/", "builder", "app:app", "0755")
    js = one('COPY ["a b", "/c d/"]\n')
    assert (js.sources, js.dest) == (("a b",), "/c d/")
    add = one("ADD --checksum=sha256:" + "0" * 64 + " https://example.com/x.tgz /x\n")
    assert add.add and add.checksum == "sha256:" + "0" * 64 and add.sources == ("https://example.com/x.tgz",)


def test_simple_instructions() -> None:
    assert isinstance(w := one("WORKDIR /app dir\n"), WorkdirInstr) and w.path == "/app dir"
    assert isinstance(u := one("USER app:app\n"), UserInstr) and u.user == "app:app"
    assert isinstance(s := one("STOPSIGNAL SIGQUIT\n"), StopSignalInstr) and s.signal == "SIGQUIT"
    assert isinstance(m := one("MAINTAINER me <me@x>\n"), MaintainerInstr) and m.name == "me <me@x>"
    assert isinstance(v := one('VOLUME ["/a", "/b"]\n'), VolumeInstr) and v.paths == ("/a", "/b")
    assert one("VOLUME /c /d\n").paths == ("/c", "/d")
    assert isinstance(e := one("EXPOSE 80/udp 443 80\n"), ExposeInstr) and e.ports == ("443", "80", "80/udp")


def test_healthcheck() -> None:
    hc = one("HEALTHCHECK --interval=1m30s --timeout=5s --start-period=0.5s --retries=3 CMD curl -f x\n")
    assert isinstance(hc, HealthcheckInstr)
    assert hc.test == ("CMD-SHELL", "curl -f x")
    assert (hc.interval_ns, hc.timeout_ns, hc.start_period_ns, hc.retries) == (90e9, 5e9, 0.5e9, 3)
    assert one('HEALTHCHECK CMD ["true"]\n').test == ("CMD", "true")
    assert one("HEALTHCHECK none\n").test == ("NONE",)


def test_onbuild() -> None:
    ob = one("ONBUILD COPY --from=x a /b\n")
    assert isinstance(ob, OnbuildInstr) and ob.expression == "COPY --from=x a /b"
    (trigger,) = parse_instructions(ob.expression)
    assert isinstance(trigger, CopyInstr) and trigger.from_ == "x"


def test_heredocs_keep_quoting_and_chomp() -> None:
    df = parse_dockerfile(
        'FROM a\nRUN <<"EOF" bash\necho $X\nEOF\nCOPY <<-EOT /x\n\thello\n\tEOT\nRUN 3<<A cat <&3\na\nA\n'
    )
    run, copy, fd = df.stages[0].commands
    assert isinstance(run, RunInstr) and run.text == 'RUN <<"EOF" bash'
    (doc,) = run.heredocs
    assert (doc.name, doc.content, doc.expand, doc.chomp) == ("EOF", "echo $X\n", False, False)
    assert isinstance(copy, CopyInstr) and copy.sources == () and copy.dest == "/x"
    (inline,) = copy.contents
    assert (inline.name, inline.expand, inline.chomp) == ("EOT", True, True)
    assert chomp(inline.content) == "hello\n"
    assert fd.heredocs[0].fd == 3


def test_escape_directive_and_syntax_note() -> None:
    df = parse_dockerfile("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN echo `\n  hi\n")
    assert df.escape == "`"
    assert df.syntax == "docker/dockerfile:1"
    assert df.notes and "ignored" in df.notes[0]
    assert df.stages[0].commands[0].text == "RUN echo   hi"


def test_meta_args_and_stages() -> None:
    df = parse_dockerfile("ARG BASE=busybox\nARG V\nFROM ${BASE}:${V} AS one\nARG V\nRUN a\nFROM one\n")
    assert [a.args for a in df.meta_args] == [(("BASE", "busybox"),), (("V", None),)]
    assert len(df.stages) == 2 and len(df.stages[0].commands) == 2 and df.stages[1].commands == ()


def test_empty_continuation_warning() -> None:
    df = parse_dockerfile("FROM a\nRUN echo \\\n\n  hi\n")
    assert df.warnings[0] == "[WARNING]: Empty continuation line found in:\n    RUN echo   hi"
    assert df.warnings[-1] == "[WARNING]: Empty continuation lines will become errors in a future release."


def test_continuation_at_end_of_file_is_accepted() -> None:
    assert one("RUN echo \\").args == ("echo",)


# --- every parse error class ------------------------------------------------------------------


def test_unknown_instruction_like_golden() -> None:
    case = golden.expected("build-classic-unknown-instruction")
    msg = error(case["files"]["Dockerfile"])
    assert case["stderr"] == f"Error response from daemon: {msg}\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("FROM a\nrunn x\n", 2, "unknown instruction: RUNN"),
        # arity
        ("FROM\n", 1, "FROM requires either one or three arguments"),
        ("FROM a b\n", 1, "FROM requires either one or three arguments"),
        ("FROM a AS 1b\n", 1, 'invalid name for build stage: "1b", name can\'t start with a number or contain symbols'),
        ("FROM a\nCOPY onlyone\n", 2, f"COPY {NO_DEST}"),
        ("FROM a\nADD x\n", 2, f"ADD {NO_DEST}"),
        ("FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
        ("FROM a\nUSER\n", 2, "USER requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nMAINTAINER\n", 2, "MAINTAINER requires exactly one argument"),
        ("FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME\n", 2, "VOLUME requires at least one argument"),
        ('FROM a\nVOLUME ["/a", ""]\n', 2, "VOLUME specified can not be an empty string"),
        ("FROM a\nARG\n", 2, "ARG requires at least one argument"),
        ("FROM a\nARG =x\n", 2, "ARG names can not be blank"),
        ("FROM a\nLABEL\n", 2, "LABEL requires at least one argument"),
        ("FROM a\nENV =1\n", 2, "ENV names can not be blank"),
        ("FROM a\nONBUILD\n", 2, "ONBUILD requires at least one argument"),
        ("FROM a\nHEALTHCHECK\n", 2, "HEALTHCHECK requires at least one argument"),
        # tokenizer errors, located by us
        ("FROM a\nRUN x\nENV A\n", 3, "ENV must have two arguments"),
        ("FROM a\nRUN x\nENV \\\n  A\n", 3, "ENV must have two arguments"),
        ("FROM a\nLABEL a\n", 2, "LABEL must have two arguments"),
        ("FROM a\nENV A=1 B\n", 2, 'Syntax error - can\'t find = in "B". Must be of the form: name=value'),
        ('FROM a\nRUN \\\n x\n\nCMD ["a", \\\n 1]\n', 5, f"when using JSON array syntax, {STRINGS}"),
        ("FROM a\nRUN <<EOF\nx\nEOF\n# c\nRUN <<X\nfoo\n", 6, "unterminated heredoc"),
        ("# escape=x\nFROM a\n", 1, "invalid escape token 'x' does not match ` or \\"),
        ("FROM a\nRUN " + "x" * 70000 + "\n", 2, "dockerfile line greater than max allowed size of 65535"),
        # ARG before FROM rules
        ("ARG X\nRUN x\n", 2, "no build stage in current context"),
        ("ENV A=1\nFROM a\n", 1, "no build stage in current context"),
        ("ARG X\n", 1, "no build stage in current context"),
        # flags
        ("FROM --bogus=x a\n", 1, "Unknown flag: bogus"),
        ("FROM a\nCOPY --bogus=1 a b\n", 2, "Unknown flag: bogus"),
        ("FROM a\nADD --from=x a b\n", 2, "Unknown flag: from"),
        ("FROM a\nRUN --bogus x\n", 2, "Unknown flag: bogus"),
        ("FROM a\nENV --x=1 A=1\n", 2, "Unknown flag: x"),
        ("FROM a\nCOPY --chown a b\n", 2, "Missing a value on flag: chown"),
        ("FROM a\nCOPY --chown=1 --chown=2 a b\n", 2, "Duplicate flag specified: chown"),
        ("FROM a\nRUN --mount=type=cache,target=/x x\n", 2, BUILDKIT),
        ("FROM a\nRUN --network=bridge x\n", 2, 'unsupported network mode "bridge"'),
        # bad --chmod
        ("FROM a\nCOPY --chmod=888 a b\n", 2, f"invalid chmod parameter: '888'. {CHMOD}"),
        ("FROM a\nCOPY --chmod=u+x a b\n", 2, f"invalid chmod parameter: 'u+x'. {CHMOD}"),
        ("FROM a\nADD --chmod=10000 a b\n", 2, f"invalid chmod parameter: '10000'. {CHMOD}"),
        # ADD --checksum
        ("FROM a\nADD --checksum=sha256:" + "0" * 64 + " a b\n", 2, "checksum requires HTTP(S) or Git sources"),
        ("FROM a\nADD --checksum=md5:1 http://x/a b\n", 2, 'invalid checksum digest format "md5:1"'),
        # heredocs
        ("FROM a\nCOPY a <<EOF\nx\nEOF\n", 2, "COPY cannot accept a heredoc as a destination"),
        # JSON-only and forms
        ("FROM a\nSHELL bash -c\n", 2, "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nSHELL []\n", 2, "SHELL requires at least one argument"),
        # HEALTHCHECK
        ("FROM a\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK FOO x\n", 2, 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        ("FROM a\nHEALTHCHECK --interval=0.5ms CMD x\n", 2, 'Interval "interval" cannot be less than 1ms'),
        ("FROM a\nHEALTHCHECK --timeout=5 CMD x\n", 2, 'time: missing unit in duration "5"'),
        ("FROM a\nHEALTHCHECK --timeout=5x CMD x\n", 2, 'time: unknown unit "x" in duration "5x"'),
        ("FROM a\nHEALTHCHECK --retries=x CMD x\n", 2, 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("FROM a\nHEALTHCHECK --retries=0 CMD x\n", 2, "--retries must be at least 1 (not 0)"),
        # ONBUILD
        ("FROM a\nONBUILD ONBUILD RUN x\n", 2, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM b\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nonbuild maintainer me\n", 2, "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_parse_error_classes(text: str, line: int, reason: str) -> None:
    assert error(text) == f"dockerfile parse error line {line}: {reason}"


def test_text_the_tokenizer_cannot_take() -> None:
    # the Go tokenizer crashes the process on a lone surrogate and truncates at a NUL: refused first
    assert error("FROM a\nRUN echo \udcff\n") == "dockerfile parse error line 2: the Dockerfile is not valid UTF-8"
    assert error("FROM a\n\nRUN echo \x00x\n") == "dockerfile parse error line 3: the Dockerfile contains a NUL byte"
    with pytest.raises(DockerfileParseError, match="line 1: the Dockerfile is not valid UTF-8"):
        parse_instructions("CMD \udcff", allow=("CMD",))


def test_whole_file_errors() -> None:
    with pytest.raises(DockerfileInvalid, match=r"^the Dockerfile \(Dockerfile\) cannot be empty$"):
        parse_dockerfile("")
    with pytest.raises(DockerfileInvalid, match="^failed to parse Dockerfile: file with no instructions$"):
        parse_dockerfile("# only a comment\n\n")


def test_commit_changes_are_limited() -> None:
    (cmd,) = parse_instructions('CMD ["cat","/tmp/new.txt"]', allow=("CMD", "ENV"))
    assert isinstance(cmd, CmdInstr)
    with pytest.raises(InvalidChange, match="^run is not a valid change command$"):
        parse_instructions("RUN x", allow=("CMD",))
