"""`dockernb serve`: become the Engine API server (``python -m dockernb.apiserver``).

The CLI and the API server are sibling front ends that never import each other, so the
command execs the server program, the way ``dockerd`` is a program of its own.
"""

from __future__ import annotations

import argparse
import os
import sys

from dockernb.present.context import Context


def serve(ns: argparse.Namespace, ctx: Context) -> int:
    argv = [sys.executable, "-m", "dockernb.apiserver"]
    for host in ns.host:
        argv += ["-H", host]
    if ns.group:
        argv += ["--group", ns.group]
    argv += ["--log-level", ns.log_level]
    if ns.debug:
        argv.append("--debug")
    ctx.out.flush()
    ctx.err.flush()
    os.execv(sys.executable, argv)


RUNNERS = {"serve": serve}
