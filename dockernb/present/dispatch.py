"""Running one docker command line: parse, run the verb, turn the outcome into docker's exit code (L7).

Shared by every front end (the CLI, the magics, the Docker kernel), so that they say the same
words: usage errors exit 125 (unknown flag) or 1 (wrong number of arguments); engine errors print
``Error response from daemon: ...`` and exit 1, except for run/create where they are prefixed
with the program name and exit 125 (126/127 for a command that cannot be executed/found).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from dockernb._version import DOCKER_COMPAT, __version__
from dockernb.errors import DockernbError
from dockernb.present.args import COMMANDS, GROUPS, HIDDEN_ALIASES, HelpRequested, UsageError, parse, resolve_verb
from dockernb.present.context import Context

__all__ = ["RUN_LIKE", "Runner", "dispatch", "shared_runner"]

#: verbs whose engine errors print "PROG: Error response from daemon: ...\nSee 'PROG VERB --help'." and exit 125
RUN_LIKE = {"run", "create", "container run", "container create"}


def _top_help(prog: str) -> str:
    lines = [f"\nUsage:  {prog} [OPTIONS] COMMAND\n", "A self-sufficient runtime for containers, inside Jupyter\n"]
    lines.append("Management Commands:")
    for g, text in sorted(GROUPS.items()):
        lines.append(f"  {g:<11} {text}")
    lines.append("\nCommands:")
    for verb in sorted(v for v in COMMANDS if " " not in v):
        mod = importlib.import_module(f"dockernb.present.verbs.{COMMANDS[verb]}")
        lines.append(f"  {verb:<11} {mod.SPECS[verb].summary}")
    lines.append(f"\nRun '{prog} COMMAND --help' for more information on a command.")
    return "\n".join(lines) + "\n"


def _group_help(prog: str, group: str) -> str:
    lines = [f"\nUsage:  {prog} {group} COMMAND\n", f"{GROUPS[group]}\n", "Commands:"]
    for verb in sorted(v for v in COMMANDS if v.startswith(group + " ") and v not in HIDDEN_ALIASES):
        mod = importlib.import_module(f"dockernb.present.verbs.{COMMANDS[verb]}")
        lines.append(f"  {verb.split(' ', 1)[1]:<11} {mod.SPECS[verb].summary}")
    lines.append(f"\nRun '{prog} {group} COMMAND --help' for more information on a command.")
    return "\n".join(lines) + "\n"


Runner = Callable[[argparse.Namespace, Context], int]


def shared_runner(verb: str) -> Runner | None:
    """The runner of a verb shared by every front end, or None if it lives in a front end."""
    try:
        module = importlib.import_module(f"dockernb.present.commands.{COMMANDS[verb]}")
    except ModuleNotFoundError:
        return None
    runner: Runner | None = getattr(module, "RUNNERS", {}).get(verb)
    return runner


def dispatch(argv: Sequence[str], ctx: Context, runner_for: Callable[[str], Runner | None] = shared_runner) -> int:
    """Run one command line (without the program name) and return docker's exit code.

    ``runner_for(verb)`` finds the function that runs a parsed verb; front ends pass their own to
    add verbs of their own (the CLI's `serve`) or to render some verbs differently (widgets).
    """
    args = list(argv)
    while args and args[0] in ("-D", "--debug"):
        args.pop(0)
    if not args or args[0] in ("-h", "--help", "help"):
        ctx.out.write(_top_help(ctx.prog))
        return 0
    if args[0] in ("-v", "--version"):
        ctx.print(f"dockernb version {__version__} (docker {DOCKER_COMPAT} compatible)")
        return 0
    if args[0].startswith("-"):
        ctx.eprint(f"unknown flag: {args[0]}\nSee '{ctx.prog} --help'.")
        return 125
    found = resolve_verb(args)
    if found is None:
        if args[0] in GROUPS:
            ctx.err.write(_group_help(ctx.prog, args[0]))
            return 0 if len(args) == 1 else 1
        ctx.eprint(f"{ctx.prog}: '{args[0]}' is not a {ctx.prog} command.\nSee '{ctx.prog} --help'")
        return 1
    verb, used = found
    try:
        ns = parse(verb, args[used:], ctx.prog)
    except HelpRequested as h:
        ctx.out.write(h.text)
        return 0
    except UsageError as u:
        prefix = f"{ctx.prog}: " if verb in RUN_LIKE and u.exit_code == 125 and "flag" not in u.message else ""
        ctx.eprint(prefix + u.message)
        return u.exit_code
    runner = runner_for(verb)
    if runner is None:
        ctx.eprint(f"{ctx.prog}: '{verb}' is not available in this front end")
        return 1
    try:
        return runner(ns, ctx)
    except DockernbError as err:
        if verb in RUN_LIKE:
            text = str(err).removesuffix(".")  # docker's reportError: one period, whatever the message ends with
            ctx.eprint(f"{ctx.prog}: Error response from daemon: {text}.\nSee '{ctx.prog} {verb} --help'.")
            return err.exit_code if err.exit_code in (126, 127) else 125
        ctx.eprint(f"Error response from daemon: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # like a Go program: a closed pipe ends the output quietly
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaced for the rest of the process
        except OSError:
            pass
        return 141


