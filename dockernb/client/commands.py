"""Running docker command lines against an engine from Python, with the CLI's grammar (layer L7.5).

``run_line`` is what every Python front end does with a command line: parse it with the shared
grammar and run the shared verb runner, through :func:`dockernb.present.dispatch.dispatch` (so
the words and exit codes are the CLI's). ``call`` is the raising form the Python API uses:
parse errors become :class:`~dockernb.errors.InvalidArgument`, engine errors propagate.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO, cast

from dockernb.client.seam import EngineAPI
from dockernb.client.streams import with_bytes
from dockernb.engine import Engine
from dockernb.errors import InvalidArgument, NotSupported
from dockernb.present.args import HelpRequested, UsageError, parse, resolve_verb
from dockernb.present.context import Context
from dockernb.present.dispatch import Runner, dispatch, shared_runner

__all__ = ["Captured", "call", "context_for", "run_line"]


def context_for(engine: EngineAPI, *, prog: str = "dockernb", out: TextIO | None = None,
                err: TextIO | None = None, stdin: BinaryIO | None = None) -> Context:  # fmt: skip
    """A verb runner's Context over a backend of the seam (see :mod:`.seam` for what the runners use).

    ``out``/``err`` get a byte side when they have none: the runners write container output as bytes.
    """
    ctx = Context(prog=prog, stdin=stdin, _engine=cast(Engine, engine))
    if out is not None:
        ctx.out = with_bytes(out)
    if err is not None:
        ctx.err = with_bytes(err)
    return ctx


def run_line(
    engine: EngineAPI,
    argv: Sequence[str],
    *,
    out: TextIO,
    err: TextIO,
    stdin: BinaryIO | None = None,
    prog: str = "dockernb",
    runner_for: Callable[[str], Runner | None] = shared_runner,
) -> int:
    """One command line, as the CLI runs it: docker's output on ``out``/``err``, docker's exit code."""
    return dispatch(argv, context_for(engine, prog=prog, out=out, err=err, stdin=stdin), runner_for)


@dataclass(frozen=True, slots=True)
class Captured:
    code: int
    stdout: str
    stderr: str


def call(engine: EngineAPI, argv: Sequence[str], *, stdin: BinaryIO | None = None) -> Captured:
    """Run one command line for the Python API: its output captured, errors raised.

    Raises InvalidArgument for a line docker would refuse (the message is docker's), any
    DockernbError the verb raises, and NotSupported for a verb this engine does not serve yet.
    """
    found = resolve_verb(argv)
    if found is None:
        raise InvalidArgument(f"'{argv[0] if argv else ''}' is not a docker command")
    verb, used = found
    try:
        ns: argparse.Namespace = parse(verb, argv[used:])
    except UsageError as u:
        raise InvalidArgument(u.message.split("\n", 1)[0]) from None
    except HelpRequested as h:
        return Captured(0, h.text, "")
    runner = shared_runner(verb)
    if runner is None:
        raise NotSupported(f"'{verb}' is not available in this engine yet")
    out, err = io.StringIO(), io.StringIO()
    code = runner(ns, context_for(engine, out=out, err=err, stdin=stdin))
    return Captured(code, out.getvalue(), err.getvalue())
