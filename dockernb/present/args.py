"""docker's command-line grammar, shared by the CLI and the notebook magics (layer L7).

One parser per verb, built from :data:`COMMANDS` (verb -> defining module), so that
``dockernb run ...`` and ``%docker run ...`` parse the same way. argparse is bent to
speak cobra's words: unknown flags exit 125 with ``unknown flag: --x``, a wrong number of
arguments exits 1 with ``"docker run" requires at least 1 argument.`` plus the usage text.

A verb module defines ``spec: Verb`` and ``def add_arguments(p: DockerParser) -> None``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

__all__ = [
    "COMMANDS",
    "GROUPS",
    "HIDDEN_ALIASES",
    "DockerParser",
    "UsageError",
    "Verb",
    "check_arity",
    "parse",
    "stop_at_positional",
    "parser_for",
    "resolve_verb",
]


class UsageError(Exception):
    """A command line docker would refuse; ``exit_code`` is docker's (125 for flags, 1 for arity)."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class HelpRequested(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True, slots=True)
class Verb:
    """What docker's help says about a verb, and how many positional arguments it takes."""

    name: str  # "run", "image ls"
    usage: str  # "run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    summary: str
    min_args: int = 0
    max_args: int | None = None  # None: unbounded


#: verb -> module under dockernb.present.verbs defining ``spec`` and ``add_arguments``;
#: management commands ("image ls") are spelled with a space.
COMMANDS: dict[str, str] = {
    "version": "system",
    "info": "system",
    "build": "build",
    "image build": "build",
    "serve": "serve",
    # the image verbs (dockernb/present/verbs/images.py)
    **{verb: "images" for verb in (
        "pull", "image pull", "push", "image push", "login", "logout", "images", "image ls", "tag",
        "image tag", "rmi", "image rm", "image inspect", "inspect", "history", "image history",
        "save", "image save", "load", "image load", "import", "image import", "image prune", "system df",
    )},
    # the container verbs (dockernb/present/verbs/containers.py)
    **{verb: "containers" for verb in (
        "ps", "container ls", "container ps", "container list", "logs", "container logs", "container inspect",
        "container remove", *(f"{prefix}{v}" for prefix in ("", "container ") for v in (
            "run", "create", "start", "stop", "restart", "kill", "wait", "rm", "exec", "attach", "port", "rename")),
    )},
    # the other container verbs, prune and events (present/verbs/containerops.py, containerfs.py, prune.py,
    # events.py)
    **{f"{prefix}{v}": "containerops" for prefix in ("", "container ") for v in (
        "top", "stats", "pause", "unpause", "update")},
    **{f"{prefix}{v}": "containerfs" for prefix in ("", "container ") for v in ("cp", "diff", "commit", "export")},
    "container prune": "prune", "system prune": "prune", "events": "events", "system events": "events",
    # volumes and networks (dockernb/present/verbs/volumes.py, networks.py)
    **{f"volume {v}": "volumes" for v in ("create", "ls", "list", "inspect", "rm", "remove", "prune")},
    **{f"network {v}": "networks" for v in ("create", "ls", "list", "inspect", "rm", "remove", "prune", "connect",
                                            "disconnect")},
}

#: other spellings of a verb, which docker's help lists under their first name only
HIDDEN_ALIASES = frozenset({"container ps", "container list", "container remove", "image list", "image remove",
                            "volume list", "volume remove", "network list", "network remove"})

#: docker's aliases: management-command spellings that map onto a top-level verb
ALIASES: dict[str, str] = {
    "system info": "info",
    "image list": "image ls",
    "image remove": "image rm",
}

#: management commands (``docker image``, ``docker container``...) and their one-line summary
GROUPS: dict[str, str] = {
    "container": "Manage containers",
    "image": "Manage images",
    "network": "Manage networks",
    "system": "Manage Docker",
    "volume": "Manage volumes",
}


class DockerParser(argparse.ArgumentParser):
    """argparse with cobra's error wording and exit codes."""

    verb: Verb | None = None
    prog_name: str = "dockernb"

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments:" in message:
            bad = message.split(":", 1)[1].split()[0]
            if bad.startswith("--"):
                text = f"unknown flag: {bad.split('=', 1)[0]}"
            elif bad.startswith("-"):
                text = f"unknown shorthand flag: {bad[1:2]!r} in {bad}"
            else:
                text = f"unexpected argument: {bad}"
        elif "expected one argument" in message:
            flag = message.split("argument ", 1)[1].split(":", 1)[0].split("/")[-1]
            text = f"flag needs an argument: {flag}"
        elif message.startswith("argument ") and ": invalid" in message:
            flag, _, rest = message[len("argument ") :].partition(": ")
            text = f"invalid argument for {flag!r} flag: {rest}"
        else:
            text = message
        raise UsageError(f"{text}\nSee '{self.prog_name} {self._verb_name()} --help'.", 125)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "", status)

    def print_help(self, file: object = None) -> None:
        raise HelpRequested(self.format_help())

    def _verb_name(self) -> str:
        return self.verb.name if self.verb else ""


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def check_arity(verb: Verb, args: Sequence[str], prog: str = "dockernb") -> None:
    """Raise docker's arity error (exit 1) when ``args`` does not fit ``verb``."""
    n, lo, hi = len(args), verb.min_args, verb.max_args
    if lo <= n and (hi is None or n <= hi):
        return
    cmd = f'"{prog} {verb.name}"'
    if hi == 0:
        head = f"{cmd} accepts no arguments."
    elif hi is None:
        head = f"{cmd} requires at least {lo} {_plural(lo)}."
    elif lo == hi:
        head = f"{cmd} requires exactly {lo} {_plural(lo)}."
    elif lo == 0:
        head = f"{cmd} requires at most {hi} {_plural(hi)}."
    else:
        head = f"{cmd} requires at least {lo} and at most {hi} {_plural(hi)}."
    raise UsageError(
        f"{head}\nSee '{prog} {verb.name} --help'.\n\nUsage:  {prog} {verb.usage}\n\n{verb.summary}", 1
    )


def resolve_verb(words: Sequence[str]) -> tuple[str, int] | None:
    """The verb named by the first one or two words, and how many words it used."""
    if len(words) >= 2:
        two = f"{words[0]} {words[1]}"
        if two in COMMANDS:
            return two, 2
        if two in ALIASES:
            return ALIASES[two], 2
    if words and words[0] in COMMANDS:
        return words[0], 1
    return None


def parser_for(verb: str, prog: str = "dockernb") -> DockerParser:
    mod = importlib.import_module(f"dockernb.present.verbs.{COMMANDS[verb]}")
    spec: Verb = mod.SPECS[verb]
    p = DockerParser(
        prog=f"{prog} {spec.name}",
        usage=f"{prog} {spec.usage}",
        description=spec.summary,
        add_help=True,
        allow_abbrev=False,
    )
    p.verb, p.prog_name = spec, prog
    mod.ARGUMENTS[verb](p)
    return p


def stop_at_positional(p: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """cobra's SetInterspersed(false): flags end at the first positional argument (``run IMAGE CMD -x``:
    ``-x`` is the command's). Returns ``argv`` with ``--`` inserted there."""
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return args
        if not a.startswith("-") or a == "-":
            return args[:i] + ["--"] + args[i:]
        if a.startswith("--"):
            action = p._option_string_actions.get(a.split("=", 1)[0])
            if "=" not in a and action is not None and action.nargs != 0 and action.nargs != "?":
                i += 1  # its value
        else:
            for j, ch in enumerate(a[1:], 1):
                action = p._option_string_actions.get("-" + ch)
                if action is not None and action.nargs != 0 and action.nargs != "?":
                    if j == len(a) - 1:
                        i += 1  # the value is the next word
                    break
        i += 1
    return args


def parse(verb: str, argv: Sequence[str], prog: str = "dockernb") -> argparse.Namespace:
    """Parse one verb's arguments (the words after the verb), docker's way.

    Positional arguments land in ``ns.args`` (a list) unless the verb declares its own.
    Raises UsageError (docker's wording and exit code) or HelpRequested.
    """
    p = parser_for(verb, prog)
    mod = importlib.import_module(f"dockernb.present.verbs.{COMMANDS[verb]}")
    if verb in getattr(mod, "NOT_INTERSPERSED", ()):
        argv = stop_at_positional(p, argv)
    ns = p.parse_args(list(argv))
    positional = getattr(ns, "args", None)
    if p.verb is not None and isinstance(positional, list):
        check_arity(p.verb, positional, prog)
    return ns
