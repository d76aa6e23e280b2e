"""Dockerfile text -> typed instructions, with docker's parse errors (layer L5).

Tokenising is BuildKit's own parser (the ``dockerfile`` package: heredocs, the escape directive,
line continuations, JSON and shell forms). It stops at tokens; this module owns the rest, as
docker's ``instructions`` package does: instruction names in any case, each instruction's
arguments and flags, heredoc quoting and ``<<-``, the ``ARG``-before-``FROM`` rule, stages,
and line numbers for every error.

Errors: everything tied to an instruction is ``dockerfile parse error line N: <docker's words>``
(:class:`~dockernb.errors.DockerfileParseError`), including the tokenizer's own complaints, which
docker 20.10 reported without a line; a file that is empty or has no instruction is
:class:`~dockernb.errors.DockerfileInvalid` with docker's sentence. ``# syntax=`` is parsed and
ignored: :attr:`Dockerfile.notes` says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import dockerfile as _tokenizer

from dockernb.build.gosyntax import DurationError, parse_duration, quote
from dockernb.errors import DockerfileInvalid, DockerfileParseError, InvalidChange

__all__ = [
    "ArgInstr",
    "CmdInstr",
    "Command",
    "CopyInstr",
    "Dockerfile",
    "EntrypointInstr",
    "EnvInstr",
    "ExposeInstr",
    "FromInstr",
    "HealthcheckInstr",
    "Heredoc",
    "Instruction",
    "LabelInstr",
    "MaintainerInstr",
    "OnbuildInstr",
    "RunInstr",
    "ShellInstr",
    "Stage",
    "StopSignalInstr",
    "UserInstr",
    "VolumeInstr",
    "WorkdirInstr",
    "chomp",
    "parse_dockerfile",
    "parse_instructions",
]

#: docker's HEALTHCHECK minimum for --interval/--timeout/--start-period (container.MinimumDuration)
MIN_HEALTH_DURATION_NS = 1_000_000

_BUILDKIT_ONLY = (
    "the --{flag} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to "
    "build images with BuildKit enabled"
)


# --- records ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Heredoc:
    """An inline document (``<<EOF``); ``content`` is as written (``chomp`` says ``<<-``)."""

    name: str
    content: str
    expand: bool = True  # False when the delimiter word was quoted: no ${} in the body
    chomp: bool = False
    fd: int = 0


def chomp(content: str) -> str:
    """What ``<<-`` does to a heredoc body: strip the leading tabs of every line."""
    return re.sub(r"(?m)^\t+", "", content)


@dataclass(frozen=True, slots=True, kw_only=True)
class Instruction:
    """What every instruction has: its name, where it is, and how docker shows it."""

    keyword: str  # upper case: "RUN"
    text: str  # what "Step 3/6 : ..." shows: the instruction as written, continuations joined
    source: str  # the whole instruction including heredoc bodies
    line: int  # first line, 1-based


@dataclass(frozen=True, slots=True, kw_only=True)
class FromInstr(Instruction):
    image: str
    name: str = ""  # the stage name, lower case ("" when the stage has none)
    platform: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgInstr(Instruction):
    #: (name, default or None); names and defaults are expanded when the step runs
    args: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]  # raw words: quotes and ${} are processed when the step runs


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]
    expand: bool = True  # False for the labels of --label (docker does not expand those)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInstr(Instruction):
    args: tuple[str, ...]  # exec form: argv; shell form: one string for the shell
    json_form: bool = False
    network: str = "default"
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CmdInstr(Instruction):
    args: tuple[str, ...]
    json_form: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EntrypointInstr(Instruction):
    args: tuple[str, ...] | None  # None: `ENTRYPOINT []` clears it
    json_form: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellInstr(Instruction):
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyInstr(Instruction):
    """COPY, or ADD when ``add``: sources (paths, globs, URLs for ADD) and inline documents."""

    add: bool = False
    sources: tuple[str, ...]
    contents: tuple[Heredoc, ...] = ()  # heredoc sources: file name = heredoc name
    dest: str
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    checksum: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkdirInstr(Instruction):
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInstr(Instruction):
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeInstr(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExposeInstr(Instruction):
    ports: tuple[str, ...]  # sorted as docker sorts them; expanded (word splitting) when the step runs


@dataclass(frozen=True, slots=True, kw_only=True)
class StopSignalInstr(Instruction):
    signal: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthcheckInstr(Instruction):
    """``test`` is docker's HealthConfig.Test: ``("NONE",)``, ``("CMD", ...)`` or ``("CMD-SHELL", cmd)``."""

    test: tuple[str, ...]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OnbuildInstr(Instruction):
    expression: str  # the trigger as written, without "ONBUILD " (docker stores exactly this)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintainerInstr(Instruction):
    name: str


Command = (
    FromInstr
    | ArgInstr
    | EnvInstr
    | LabelInstr
    | RunInstr
    | CmdInstr
    | EntrypointInstr
    | ShellInstr
    | CopyInstr
    | WorkdirInstr
    | UserInstr
    | VolumeInstr
    | ExposeInstr
    | StopSignalInstr
    | HealthcheckInstr
    | OnbuildInstr
    | MaintainerInstr
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One ``FROM`` and the instructions up to the next one."""

    index: int
    from_: FromInstr
    commands: tuple[Command, ...] = ()

    @property
    def name(self) -> str:
        return self.from_.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Dockerfile:
    """A parsed Dockerfile: the ARGs before the first FROM, then the stages."""

    meta_args: tuple[ArgInstr, ...]
    stages: tuple[Stage, ...]
    escape: str = "\\"
    #: lines docker prints on stderr before the build (empty continuation lines)
    warnings: tuple[str, ...] = ()
    #: things the builder tells the user it did not do (the ``# syntax=`` directive)
    notes: tuple[str, ...] = field(default=())
    syntax: str = ""


# --- entry points ---------------------------------------------------------------------


def parse_dockerfile(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile (``name`` is only for docker's messages about the file).

    Raises DockerfileParseError (with the line) or DockerfileInvalid (empty file, no instruction).
    """
    if text == "":
        raise DockerfileInvalid(f"the Dockerfile ({name}) cannot be empty")
    commands, escape, warnings = _tokenize(text, name)
    meta: list[ArgInstr] = []
    stages: list[Stage] = []
    current: list[Command] = []
    for cmd in commands:
        if isinstance(cmd, FromInstr):
            if stages:
                stages[-1] = Stage(index=stages[-1].index, from_=stages[-1].from_, commands=tuple(current))
            stages.append(Stage(index=len(stages), from_=cmd))
            current = []
        elif not stages:
            if isinstance(cmd, ArgInstr):
                meta.append(cmd)
            else:
                raise DockerfileParseError(cmd.line, "no build stage in current context")
        else:
            current.append(cmd)
    if stages:
        stages[-1] = Stage(index=stages[-1].index, from_=stages[-1].from_, commands=tuple(current))
    else:
        last = meta[-1].line if meta else 1
        raise DockerfileParseError(last, "no build stage in current context")
    syntax = _syntax_directive(text)
    notes: tuple[str, ...] = ()
    if syntax:
        notes = (f"# syntax={syntax} ignored: dockernb's builder reads the Dockerfile syntax itself",)
    return Dockerfile(
        meta_args=tuple(meta), stages=tuple(stages), escape=escape, warnings=warnings, notes=notes, syntax=syntax
    )


def parse_instructions(text: str, *, allow: Sequence[str] | None = None) -> list[Command]:
    """Parse instructions without the stage rules (ONBUILD triggers, ``commit --change``).

    ``allow`` limits the instruction names (upper case); others raise InvalidChange (``run is
    not a valid change command``) as docker's commit does, before anything else is checked.
    """
    _check_text(text)
    if allow is not None:
        try:
            raw_commands = _tokenizer.parse_string(text)
        except _tokenizer.GoParseError:
            raw_commands = ()  # reported with its line just below
        for raw in raw_commands:
            if str(raw.cmd).upper() not in allow:
                raise InvalidChange(str(raw.cmd).lower())
    commands, _, _ = _tokenize(text, "Dockerfile")
    return commands


# --- tokenizer glue -------------------------------------------------------------------

_KNOWN = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")


def _directives(text: str) -> tuple[dict[str, tuple[str, int]], int]:
    """Leading parser directives (name -> (value, line)) and how many lines they span."""
    found: dict[str, tuple[str, int]] = {}
    lineno = 0
    for lineno, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        m = _DIRECTIVE.match(raw.strip())
        if not m or m.group(1).lower() not in ("escape", "syntax"):
            return found, lineno - 1
        found.setdefault(m.group(1).lower(), (m.group(2), lineno))
    return found, lineno


def _syntax_directive(text: str) -> str:
    return _directives(text)[0].get("syntax", ("", 0))[0]


def _check_text(text: str) -> None:
    """Refuse what the tokenizer cannot take: it crashes the process on text that is not valid
    UTF-8 (a surrogate from a bad byte) and silently stops at a NUL byte."""
    for number, line in enumerate(text.split("\n"), start=1):
        if "\x00" in line:
            raise DockerfileParseError(number, "the Dockerfile contains a NUL byte")
        if any("\ud800" <= ch <= "\udfff" for ch in line):
            raise DockerfileParseError(number, "the Dockerfile is not valid UTF-8")


def _tokenize(text: str, name: str) -> tuple[list[Command], str, tuple[str, ...]]:
    _check_text(text)
    directives, _ = _directives(text)
    escape = directives.get("escape", ("\\", 0))[0]
    try:
        raw = _tokenizer.parse_string(text)
    except _tokenizer.GoParseError as err:
        message = str(err)
        if message == "file with no instructions":
            raise DockerfileInvalid(f"failed to parse {name}: file with no instructions") from None
        raise DockerfileParseError(_error_line(text, message, directives), message) from None
    if escape not in ("\\", "`"):  # the tokenizer refused it already; keep mypy and readers sure
        escape = "\\"
    lines = text.splitlines()
    commands = [_convert(c, escape, lines) for c in raw]
    return commands, escape, _empty_continuation_warnings(raw, lines, escape)


def _error_line(text: str, message: str, directives: dict[str, tuple[str, int]]) -> int:
    """The line docker would blame for a tokenizer error (the tokenizer does not say).

    Directive errors blame the directive. Otherwise: the longest prefix of the file that
    tokenizes cleanly ends just before the failing instruction, or cuts it in the middle of a
    continuation (then the prefix's last instruction is the culprit). Only runs on errors.
    """
    if "escape" in message and "escape" in directives:
        return directives["escape"][1]
    if "parser directive" in message:
        return max((line for _, line in directives.values()), default=1) + 1
    lines = text.splitlines()
    escape = directives.get("escape", ("\\", 0))[0]
    for k in range(len(lines) - 1, -1, -1):
        try:
            parsed = _tokenizer.parse_string("\n".join(lines[:k]) + "\n")
        except _tokenizer.GoParseError as err:
            if str(err) != "file with no instructions":
                continue
            parsed = ()
        real = [i for i in range(k) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
        if parsed and real and _continues(lines[real[-1]], escape):
            return int(parsed[-1].start_line)
        for i in range(k, len(lines)):
            if lines[i].strip() and not lines[i].lstrip().startswith("#"):
                return i + 1
        return k + 1
    return 1


def _continues(line: str, escape: str) -> bool:
    s = line.rstrip(" \t")
    return s.endswith(escape) and (len(s) == 1 or s[-2] != escape)


def _empty_continuation_warnings(raw: Sequence[_tokenizer.Command], lines: list[str], escape: str) -> tuple[str, ...]:
    found: list[str] = []
    for c in raw:
        if c.heredocs or c.end_line <= c.start_line:
            continue
        body = lines[c.start_line : c.end_line]
        if any(not line.strip() for line in body):
            found.append("[WARNING]: Empty continuation line found in:\n    " + c.original.rstrip("\n"))
    if found:
        found.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return tuple(found)


# --- one instruction ----------------------------------------------------------------------


class _Base(TypedDict):
    keyword: str
    text: str
    source: str
    line: int


class _Req:
    """What each instruction parser gets (docker's parseRequest)."""

    def __init__(self, c: _tokenizer.Command, keyword: str, escape: str, lines: list[str]) -> None:
        self.keyword = keyword
        self.args: list[str] = list(c.value)
        self.json = bool(c.json)
        self.flags_raw: list[str] = list(c.flags)
        self.line = int(c.start_line)
        self.source = str(c.original).rstrip("\n") if c.heredocs else str(c.original).strip()
        self.text = self.source.split("\n", 1)[0].strip() if c.heredocs else self.source
        self.heredocs = _heredocs(c, escape)
        self.raw = c

    def base(self) -> _Base:
        return {"keyword": self.keyword, "text": self.text, "source": self.source, "line": self.line}

    def fail(self, reason: str) -> DockerfileParseError:
        return DockerfileParseError(self.line, reason)


def _convert(c: _tokenizer.Command, escape: str, lines: list[str]) -> Command:
    keyword = str(c.cmd).upper()
    req = _Req(c, keyword, escape, lines)
    if keyword not in _KNOWN:
        raise req.fail(f"unknown instruction: {keyword}")
    parser = _PARSERS[keyword]
    return parser(req)


def _flags(req: _Req, spec: dict[str, str]) -> dict[str, str | list[str]]:
    """docker's BFlags.Parse: ``--name=value`` flags before the arguments, with its error words."""
    values: dict[str, str | list[str]] = {}
    for arg in req.flags_raw:
        if not arg.startswith("--"):
            raise req.fail(f"Arg should start with -- : {arg}")
        if arg == "--":
            break
        body = arg[2:]
        name, eq, value = body.partition("=")
        kind = spec.get(name)
        if kind is None:
            raise req.fail(f"Unknown flag: {name}")
        if name in values and kind != "strings":
            raise req.fail(f"Duplicate flag specified: {name}")
        if kind == "bool":
            if eq and value == "":
                raise req.fail(f"Missing a value on flag: {name}")
            low = value.lower()
            if low not in ("", "true", "false"):
                raise req.fail(f"Expecting boolean value for flag {name}, not: {value}")
            values[name] = low or "true"
        elif not eq:
            raise req.fail(f"Missing a value on flag: {name}")
        elif kind == "strings":
            existing = values.setdefault(name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            values[name] = value
    return values


def _str(flags: dict[str, str | list[str]], name: str) -> str:
    value = flags.get(name, "")
    return value if isinstance(value, str) else ""


def _no_flags(req: _Req) -> None:
    _flags(req, {})


def _json_args(req: _Req) -> tuple[str, ...]:
    """docker's handleJSONArgs: exec form as is, shell form joined into one string."""
    if not req.args:
        return ()
    if req.json:
        return tuple(req.args)
    return (" ".join(req.args),)


def _parse_from(req: _Req) -> FromInstr:
    args = req.args
    stage = ""
    if len(args) == 3 and args[1].lower() == "as":
        stage = args[2].lower()
        if not re.fullmatch(r"[a-z][a-z0-9\-_.]*", stage):
            raise req.fail(
                f"invalid name for build stage: {quote(args[2])}, name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise req.fail("FROM requires either one or three arguments")
    flags = _flags(req, {"platform": "string"})
    return FromInstr(**req.base(), image=args[0], name=stage, platform=_str(flags, "platform"))


def _pairs(req: _Req) -> tuple[tuple[str, str], ...]:
    _no_flags(req)
    args = req.args
    if not args:
        raise req.fail(f"{req.keyword} requires at least one argument")
    if len(args) % 2:
        raise req.fail(f"Bad input to {req.keyword}, too many arguments")
    pairs = []
    for i in range(0, len(args), 2):
        if args[i] == "":
            raise req.fail(f"{req.keyword} names can not be blank")
        pairs.append((args[i], args[i + 1]))
    return tuple(pairs)


def _parse_env(req: _Req) -> EnvInstr:
    return EnvInstr(**req.base(), pairs=_pairs(req))


def _parse_label(req: _Req) -> LabelInstr:
    return LabelInstr(**req.base(), pairs=_pairs(req))


def _parse_arg(req: _Req) -> ArgInstr:
    if not req.args:
        raise req.fail("ARG requires at least one argument")
    pairs: list[tuple[str, str | None]] = []
    for word in req.args:
        if "=" in word:
            key, _, value = word.partition("=")
            if not key:
                raise req.fail("ARG names can not be blank")
            pairs.append((key, value))
        else:
            pairs.append((word, None))
    _no_flags(req)
    return ArgInstr(**req.base(), args=tuple(pairs))


def _parse_run(req: _Req) -> RunInstr:
    flags = _flags(req, {"mount": "strings", "network": "string", "security": "string"})
    for unsupported in ("mount", "security"):
        if unsupported in flags:
            raise req.fail(_BUILDKIT_ONLY.format(flag=unsupported))
    network = _str(flags, "network") or "default"
    if network not in ("default", "none", "host"):
        raise req.fail(f"unsupported network mode {quote(network)}")
    args = _json_args(req)
    if req.heredocs and (len(args) != 1 or req.json):
        raise req.fail(f"parsing produced an invalid run command: [{' '.join(args)}]")
    return RunInstr(**req.base(), args=args, json_form=req.json, network=network, heredocs=req.heredocs)


def _parse_cmd(req: _Req) -> CmdInstr:
    _no_flags(req)
    return CmdInstr(**req.base(), args=_json_args(req), json_form=req.json)


def _parse_entrypoint(req: _Req) -> EntrypointInstr:
    _no_flags(req)
    args = _json_args(req)
    return EntrypointInstr(**req.base(), args=args or None, json_form=req.json)


def _parse_shell(req: _Req) -> ShellInstr:
    _no_flags(req)
    args = _json_args(req)
    if not args:
        raise req.fail("SHELL requires at least one argument")
    if not req.json:
        raise req.fail("SHELL requires the arguments to be in JSON form")
    return ShellInstr(**req.base(), args=args)


def _valid_chmod(value: str) -> bool:
    return bool(re.fullmatch(r"[0-7]+", value)) and int(value, 8) <= 0o7777


def _parse_copy(req: _Req) -> CopyInstr:
    add = req.keyword == "ADD"
    if len(req.args) < 2:
        raise req.fail(
            f"{req.keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    spec = {"chown": "string", "chmod": "string"}
    spec.update({"checksum": "string"} if add else {"from": "string"})
    flags = _flags(req, spec)
    chmod = _str(flags, "chmod")
    if chmod and "$" not in chmod and not _valid_chmod(chmod):
        raise req.fail(f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777")
    *srcs, dest = req.args
    by_name = {h.name: h for h in req.heredocs}
    if not req.json and _heredoc_word(dest):
        raise req.fail(f"{req.keyword} cannot accept a heredoc as a destination")
    sources: list[str] = []
    contents: list[Heredoc] = []
    for src in srcs:
        doc = _heredoc_word(src) if not req.json else None
        if doc is not None and doc.name in by_name:
            contents.append(by_name[doc.name])
        else:
            sources.append(src)
    checksum = _str(flags, "checksum")
    if checksum:
        if len(srcs) != 1:
            raise req.fail("checksum can't be specified for multiple sources")
        if "$" not in srcs[0] and not re.match(r"^https?://", srcs[0]):
            raise req.fail("checksum requires HTTP(S) or Git sources")
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
            raise req.fail(f"invalid checksum digest format {quote(checksum)}")
    return CopyInstr(
        **req.base(),
        add=add,
        sources=tuple(sources),
        contents=tuple(contents),
        dest=dest,
        from_=_str(flags, "from"),
        chown=_str(flags, "chown"),
        chmod=chmod,
        checksum=checksum,
    )


def _one(req: _Req) -> str:
    if len(req.args) != 1:
        raise req.fail(f"{req.keyword} requires exactly one argument")
    _no_flags(req)
    return req.args[0]


def _parse_workdir(req: _Req) -> WorkdirInstr:
    return WorkdirInstr(**req.base(), path=_one(req))


def _parse_user(req: _Req) -> UserInstr:
    return UserInstr(**req.base(), user=_one(req))


def _parse_stopsignal(req: _Req) -> StopSignalInstr:
    return StopSignalInstr(**req.base(), signal=_one(req))


def _parse_maintainer(req: _Req) -> MaintainerInstr:
    return MaintainerInstr(**req.base(), name=_one(req))


def _parse_volume(req: _Req) -> VolumeInstr:
    if not req.args:
        raise req.fail("VOLUME requires at least one argument")
    _no_flags(req)
    paths = tuple(v.strip() for v in req.args)
    if any(p == "" for p in paths):
        raise req.fail("VOLUME specified can not be an empty string")
    return VolumeInstr(**req.base(), paths=paths)


def _parse_expose(req: _Req) -> ExposeInstr:
    if not req.args:
        raise req.fail("EXPOSE requires at least one argument")
    _no_flags(req)
    return ExposeInstr(**req.base(), ports=tuple(sorted(req.args)))


def _duration(req: _Req, flags: dict[str, str | list[str]], name: str) -> int:
    value = _str(flags, name)
    if not value:
        return 0
    try:
        ns = parse_duration(value)
    except DurationError as err:
        raise req.fail(str(err)) from None
    if ns < MIN_HEALTH_DURATION_NS:
        raise req.fail(f"Interval {quote(name)} cannot be less than 1ms")
    return ns


def _parse_healthcheck(req: _Req) -> HealthcheckInstr:
    if not req.args:
        raise req.fail("HEALTHCHECK requires at least one argument")
    kind = req.args[0].upper()
    rest = req.args[1:]
    if kind == "NONE":
        if rest:
            raise req.fail("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstr(**req.base(), test=("NONE",))
    flags = _flags(req, {"interval": "string", "timeout": "string", "start-period": "string", "retries": "string"})
    if kind != "CMD":
        raise req.fail(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    cmd = tuple(rest) if req.json else ((" ".join(rest),) if rest else ())
    if not cmd:
        raise req.fail("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *cmd) if req.json else ("CMD-SHELL", *cmd)
    interval = _duration(req, flags, "interval")
    timeout = _duration(req, flags, "timeout")
    start = _duration(req, flags, "start-period")
    retries = 0
    raw = _str(flags, "retries")
    if raw:
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise req.fail(f"strconv.ParseInt: parsing {quote(raw)}: invalid syntax")
        retries = int(raw)
        if retries < 1:
            raise req.fail(f"--retries must be at least 1 (not {retries})")
    return HealthcheckInstr(
        **req.base(),
        test=test,
        interval_ns=interval,
        timeout_ns=timeout,
        start_period_ns=start,
        retries=retries,
    )


def _parse_onbuild(req: _Req) -> OnbuildInstr:
    sub = req.raw.sub_cmd
    if not sub:
        raise req.fail("ONBUILD requires at least one argument")
    _no_flags(req)
    trigger = str(sub).upper()
    if trigger == "ONBUILD":
        raise req.fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise req.fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", req.source)
    return OnbuildInstr(**req.base(), expression=expression)


_PARSERS: dict[str, Callable[[_Req], Command]] = {
    "ADD": _parse_copy,
    "ARG": _parse_arg,
    "CMD": _parse_cmd,
    "COPY": _parse_copy,
    "ENTRYPOINT": _parse_entrypoint,
    "ENV": _parse_env,
    "EXPOSE": _parse_expose,
    "FROM": _parse_from,
    "HEALTHCHECK": _parse_healthcheck,
    "LABEL": _parse_label,
    "MAINTAINER": _parse_maintainer,
    "ONBUILD": _parse_onbuild,
    "RUN": _parse_run,
    "SHELL": _parse_shell,
    "STOPSIGNAL": _parse_stopsignal,
    "USER": _parse_user,
    "VOLUME": _parse_volume,
    "WORKDIR": _parse_workdir,
}


# --- heredocs -------------------------------------------------------------------------------


def _heredoc_word(word: str) -> Heredoc | None:
    """A word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` as BuildKit reads it (body not attached)."""
    m = _HEREDOC_WORD.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    name = _unquote(rest)
    if not name or any(ch.isspace() for ch in name):
        return None
    return Heredoc(
        name=name,
        content="",
        expand=not any(q in rest for q in "'\""),
        chomp=m.group(2) == "-",
        fd=int(m.group(1) or 0),
    )


def _unquote(word: str) -> str:
    out: list[str] = []
    quote_ch = ""
    i = 0
    while i < len(word):
        ch = word[i]
        if quote_ch:
            if ch == quote_ch:
                quote_ch = ""
            elif ch == "\\" and quote_ch == '"' and i + 1 < len(word):
                i += 1
                out.append(word[i])
            else:
                out.append(ch)
        elif ch in "'\"":
            quote_ch = ch
        elif ch == "\\" and i + 1 < len(word):
            i += 1
            out.append(word[i])
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _shell_words(line: str) -> list[str]:
    """Split a line into words the way BuildKit finds heredoc markers: quotes kept in the words."""
    words: list[str] = []
    word: list[str] = []
    quote_ch = ""
    in_word = False
    i = 0
    while i < len(line):
        ch = line[i]
        if quote_ch:
            word.append(ch)
            if ch == quote_ch:
                quote_ch = ""
            elif ch == "\\" and quote_ch == '"' and i + 1 < len(line):
                i += 1
                word.append(line[i])
        elif ch.isspace():
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            word.append(ch)
            if ch in "'\"":
                quote_ch = ch
            elif ch == "\\" and i + 1 < len(line):
                i += 1
                word.append(line[i])
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def _heredocs(c: _tokenizer.Command, escape: str) -> tuple[Heredoc, ...]:
    """The tokenizer's heredoc bodies, with the quoting and ``<<-`` it drops read from the line."""
    if not c.heredocs:
        return ()
    first = str(c.original).split("\n", 1)[0]
    markers = [h for h in (_heredoc_word(w) for w in _shell_words(first)) if h is not None]
    by_name = {m.name: m for m in markers}
    docs = []
    for h in c.heredocs:
        marker = by_name.get(str(h.name))
        docs.append(
            Heredoc(
                name=str(h.name),
                content=str(h.content),
                expand=marker.expand if marker else True,
                chomp=marker.chomp if marker else False,
                fd=int(h.file_descriptor),
            )
        )
    return tuple(docs)
