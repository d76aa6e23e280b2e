"""The `dockernb` entry point (layer L8): docker's command line over dockernb.engine.

Parsing, the verbs and the exit-code rules are shared with the notebook (dockernb.present.dispatch);
this module adds the CLI-only verbs (dockernb/cli/commands/) and the process's own streams.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from dockernb.present.args import COMMANDS
from dockernb.present.context import Context
from dockernb.present.dispatch import Runner, dispatch, shared_runner

__all__ = ["main"]


def _runner(verb: str) -> Runner | None:
    found = shared_runner(verb)
    if found is not None:
        return found
    try:
        module = importlib.import_module(f"dockernb.cli.commands.{COMMANDS[verb]}")
    except ModuleNotFoundError:
        return None
    runner: Runner | None = getattr(module, "RUNNERS", {}).get(verb)
    return runner


def main(argv: Sequence[str] | None = None) -> int:
    ctx = Context(prog=os.environ.get("DOCKERNB_PROG", "dockernb"))
    return dispatch(sys.argv[1:] if argv is None else argv, ctx, _runner)
