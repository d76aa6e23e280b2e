"""Variable substitution and build-argument scoping, as docker's builder does them (layer L5).

Substitution is docker's ``shell.Lex``: quotes are removed, the escape token escapes, and
``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR:+x}``, ``${VAR:?msg}``, ``${VAR?msg}`` are replaced
(plus BuildKit's ``${VAR-x}`` and ``${VAR+x}``). It applies to the instructions docker expands:
ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR ARG, never to RUN CMD ENTRYPOINT
SHELL HEALTHCHECK ONBUILD (their shell expands at run time).

Scoping is docker's ``BuildArgs``: ARGs before the first FROM are *meta* args, usable in FROM;
inside a stage an ARG must be declared (again) to be visible; ``--build-arg`` overrides a
declared default; the predefined proxy args (HTTP_PROXY...) are visible without a declaration
but stay out of the image history and cache key unless declared; a ``--build-arg`` that no
ARG declared is reported once the build is done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from dockernb.build.parse import (
    ArgInstr,
    Command,
    CopyInstr,
    EnvInstr,
    ExposeInstr,
    FromInstr,
    Heredoc,
    LabelInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
)
from dockernb.errors import SubstitutionError

__all__ = [
    "BUILTIN_ARGS",
    "BuildArgs",
    "Lexer",
    "expand_from",
    "expand_instruction",
]

#: args docker accepts without an ARG and keeps out of the history (builder/dockerfile/buildargs.go)
BUILTIN_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"}
)

_SPECIAL_PARAMS = "@*#?-$!0"


class _Fail(Exception):
    """A substitution error before it is wrapped with the word it happened in."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch


class _Words:
    """docker's wordsStruct: splits the expansion result on unquoted whitespace."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append("".join(self.word))
                self.word = []
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.word:
            self.words.append("".join(self.word))
            self.word = []
            self.in_word = False
        return self.words


class Lexer:
    """docker's ``shell.Lex`` for one escape token (``\\`` or the backtick of ``# escape=```)."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: Mapping[str, str], *, raw_quotes: bool = False) -> str:
        """Substitute in one word and remove its quotes (``raw_quotes``: quotes are plain text,
        as for heredoc bodies)."""
        return self._process(word, env, raw_quotes)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Substitute, then split on whitespace outside quotes (EXPOSE ``$PORTS``)."""
        return self._process(word, env, False)[1]

    def _process(self, word: str, env: Mapping[str, str], raw_quotes: bool) -> tuple[str, list[str]]:
        state = _Run(_Scanner(word), env, self.escape, raw_quotes)
        try:
            return state.stop_on("")
        except _Fail as err:
            raise SubstitutionError(word, str(err)) from None


class _Run:
    def __init__(self, scan: _Scanner, env: Mapping[str, str], escape: str, raw_quotes: bool) -> None:
        self.scan = scan
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes

    def stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        scan = self.scan
        while scan.peek():
            ch = scan.peek()
            if stop and ch == stop:
                scan.next()
                return "".join(result), words.result()
            if ch == "$":
                tmp = self.dollar()
                result.append(tmp)
                words.add_string(tmp)
            elif ch in "'\"" and not self.raw_quotes:
                tmp = self.single_quote() if ch == "'" else self.double_quote()
                result.append(tmp)
                words.add_raw_string(tmp)
            else:
                ch = scan.next()
                if ch == self.escape:
                    ch = scan.next()
                    if not ch:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        scan = self.scan
        scan.next()
        out: list[str] = []
        while True:
            ch = scan.next()
            if not ch:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        scan = self.scan
        scan.next()
        out: list[str] = []
        while True:
            ch = scan.peek()
            if not ch:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                scan.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = scan.next()
            if ch == self.escape:
                nxt = scan.peek()
                if not nxt:
                    continue  # a lone escape at the end of the word is dropped
                if nxt in ('"', "$", self.escape):
                    ch = scan.next()
            out.append(ch)

    def name(self) -> str:
        scan = self.scan
        out: list[str] = []
        while scan.peek():
            ch = scan.peek()
            if not out and ch.isdigit():
                while scan.peek() and scan.peek().isdigit():
                    out.append(scan.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return scan.next()
            if not (ch.isalnum() or ch == "_"):
                break
            out.append(scan.next())
        return "".join(out)

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        scan = self.scan
        scan.next()
        if scan.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        scan.next()
        if not scan.peek():
            raise _Fail("syntax error: missing '}'")
        if scan.peek() in "{}:":
            raise _Fail("syntax error: bad substitution")
        name = self.name()
        ch = scan.next()
        if ch == "}":
            return self.lookup(name)[0]
        if ch == ":":
            modifier = scan.next()
            word = self.operand()
            value, found = self.lookup(name)
            if modifier == "+":
                return word if value != "" else value
            if modifier == "-":
                return word if value == "" else value
            if modifier == "?":
                if not found:
                    raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
                if value == "":
                    raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise _Fail(f"unsupported modifier ({modifier}) in substitution")
        if ch in "?-+":
            word = self.operand()
            value, found = self.lookup(name)
            if ch == "-":
                return value if found else word
            if ch == "+":
                return word if found else ""
            if not found:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        raise _Fail("missing ':' in substitution")

    def operand(self) -> str:
        try:
            return self.stop_on("}")[0]
        except _Fail:
            if not self.scan.peek():
                raise _Fail("syntax error: missing '}'") from None
            raise


# --- build arguments -----------------------------------------------------------------


class BuildArgs:
    """docker's BuildArgs: what ``--build-arg`` gave, what ARGs declared, what was used.

    One instance lives for the build (``meta`` args, ``referenced`` names); each stage works
    on :meth:`for_stage`, whose ``allowed`` starts empty, and hands its references back with
    :meth:`merge_referenced`.
    """

    def __init__(self, options: Mapping[str, str | None] | None = None) -> None:
        #: --build-arg values; None: given without a value and absent from the environment
        self.options: dict[str, str | None] = dict(options or {})
        self.allowed: dict[str, str | None] = {}
        self.meta: dict[str, str | None] = {}
        self.referenced: set[str] = set()

    def clone(self) -> BuildArgs:
        new = BuildArgs(self.options)
        new.allowed = dict(self.allowed)
        new.meta = dict(self.meta)
        new.referenced = set(self.referenced)
        return new

    def for_stage(self) -> BuildArgs:
        new = self.clone()
        new.allowed = {}
        return new

    def merge_referenced(self, other: BuildArgs) -> None:
        self.referenced |= other.referenced

    def add_arg(self, key: str, value: str | None) -> None:
        self.allowed[key] = value
        self.referenced.add(key)

    def add_meta_arg(self, key: str, value: str | None) -> None:
        self.meta[key] = value

    def _get(self, key: str, mapping: Mapping[str, str | None]) -> tuple[str, bool]:
        given = self.options.get(key)
        if key in self.options and given is not None:
            return given, True
        default = mapping.get(key)
        if default is None:
            meta = self.meta.get(key)
            if meta is not None:
                return meta, True
            return "", False
        return default, key in mapping

    def _all(self, mapping: Mapping[str, str | None]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in [*mapping, *sorted(BUILTIN_ARGS)]:
            value, ok = self._get(key, mapping)
            if ok:
                out[key] = value
        return out

    def all_allowed(self) -> dict[str, str]:
        """The args visible in the current stage (declared ones and given builtins)."""
        return self._all(self.allowed)

    def all_meta(self) -> dict[str, str]:
        """The args FROM lines may use (meta args and given builtins)."""
        return self._all(self.meta)

    def visible(self, env_keys: Iterable[str]) -> dict[str, str]:
        """The args a step sees besides its ENV (an ENV of the same name wins)."""
        keys = set(env_keys)
        return {k: v for k, v in self.all_allowed().items() if k not in keys}

    def for_history(self, env_keys: Iterable[str]) -> list[str]:
        """``K=V`` of the args a RUN records (sorted; undeclared builtins left out, as docker)."""
        return sorted(
            f"{k}={v}" for k, v in self.visible(env_keys).items() if k in self.allowed or k not in BUILTIN_ARGS
        )

    def unused(self) -> list[str]:
        """``--build-arg`` names no ARG declared (builtins excepted), for docker's warning."""
        return sorted(k for k in self.options if k not in self.referenced and k not in BUILTIN_ARGS)


# --- instructions ---------------------------------------------------------------------


def _heredoc(lexer: Lexer, doc: Heredoc, env: Mapping[str, str]) -> Heredoc:
    if not doc.expand:
        return doc
    return dataclasses.replace(doc, content=lexer.process_word(doc.content, env, raw_quotes=True))


def expand_instruction(cmd: Command, env: Mapping[str, str], lexer: Lexer) -> Command:
    """The instruction with its words substituted where docker substitutes (others unchanged).

    ``env`` is what the step sees: the stage's ENV plus the visible build args.
    Raises SubstitutionError.
    """
    w = lexer.process_word
    if isinstance(cmd, EnvInstr):
        return dataclasses.replace(cmd, pairs=tuple((w(k, env), w(v, env)) for k, v in cmd.pairs))
    if isinstance(cmd, LabelInstr):
        if not cmd.expand:
            return cmd
        return dataclasses.replace(cmd, pairs=tuple((w(k, env), w(v, env)) for k, v in cmd.pairs))
    if isinstance(cmd, ArgInstr):
        return dataclasses.replace(cmd, args=tuple((w(k, env), None if v is None else w(v, env)) for k, v in cmd.args))
    if isinstance(cmd, CopyInstr):
        return dataclasses.replace(
            cmd,
            sources=tuple(w(s, env) for s in cmd.sources),
            dest=w(cmd.dest, env),
            chown=w(cmd.chown, env),
            chmod=w(cmd.chmod, env),
            from_=w(cmd.from_, env),
            contents=tuple(_heredoc(lexer, d, env) for d in cmd.contents),
        )
    if isinstance(cmd, WorkdirInstr):
        return dataclasses.replace(cmd, path=w(cmd.path, env))
    if isinstance(cmd, UserInstr):
        return dataclasses.replace(cmd, user=w(cmd.user, env))
    if isinstance(cmd, StopSignalInstr):
        return dataclasses.replace(cmd, signal=w(cmd.signal, env))
    if isinstance(cmd, VolumeInstr):
        return dataclasses.replace(cmd, paths=tuple(w(p, env) for p in cmd.paths))
    if isinstance(cmd, ExposeInstr):
        ports: list[str] = []
        for p in cmd.ports:
            ports.extend(lexer.process_words(p, env))
        return dataclasses.replace(cmd, ports=tuple(ports))
    return cmd


def expand_from(cmd: FromInstr, meta: Mapping[str, str], lexer: Lexer) -> FromInstr:
    """FROM's image and --platform, substituted with the meta args only (docker's rule)."""
    return dataclasses.replace(
        cmd, image=lexer.process_word(cmd.image, meta), platform=lexer.process_word(cmd.platform, meta)
    )
