"""`dockernb build` / `dockernb image build`: run a build and print docker's classic output."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from dockernb.errors import BuildContextError, BuildError, DockernbError
from dockernb.present.buildkit import PlainProgress, buildkit_enabled
from dockernb.present.context import Context
from dockernb.present.output import BuildPrinter
from dockernb.spec.events import BuildEvent


def build(ns: argparse.Namespace, ctx: Context) -> int:
    if ns.iidfile:
        # like docker: no stale id file survives a failed build
        try:
            os.unlink(ns.iidfile)
        except FileNotFoundError:
            pass
    if buildkit_enabled(dict(os.environ)):
        return _buildkit(ns, ctx)
    printer = BuildPrinter(ctx.out, ctx.err, quiet=ns.quiet)
    stdin = ctx.stdin if ctx.stdin is not None else sys.stdin.buffer
    try:
        events = ctx.engine.builds.build(
            ns.args[0],
            stdin=stdin,
            dockerfile=ns.file,
            tags=ns.tags,
            build_args=dict(ns.build_args),
            labels=dict(ns.labels),
            target=ns.target,
            no_cache=ns.no_cache,
            pull=ns.pull,
            network=ns.network,
            platform=ns.platform,
        )
        for event in events:
            printer.write(event)
    except BuildContextError as err:
        # docker's client-side errors: printed as they are
        printer.fail(str(err))
        return 1
    except BuildError as err:
        # errors in the build stream: printed as they are, exit code of a failed RUN
        printer.fail(str(err))
        return err.exit_code or 1
    printer.finish()
    if ns.iidfile:
        with open(ns.iidfile, "w") as f:
            f.write(printer.image_id)
    return 0


def _buildkit(ns: argparse.Namespace, ctx: Context) -> int:
    """``DOCKER_BUILDKIT=1``: the same build, shown as BuildKit's plain progress; failures exit 1."""
    printer = PlainProgress(ctx.out, ctx.err, quiet=ns.quiet)
    stdin = ctx.stdin if ctx.stdin is not None else sys.stdin.buffer
    try:
        for event in _events(ns, ctx, stdin):
            printer.write(event)
    except BuildContextError as err:
        ctx.err.write(f"{err}\n")
        return 1
    except DockernbError as err:
        printer.fail(err)
        return 1
    printer.finish()
    if ns.iidfile:
        with open(ns.iidfile, "w") as f:
            f.write(printer.image_id)
    return 0


def _events(ns: argparse.Namespace, ctx: Context, stdin: object) -> Iterator[BuildEvent]:
    return ctx.engine.builds.build(
        ns.args[0], stdin=stdin, dockerfile=ns.file, tags=ns.tags, build_args=dict(ns.build_args),  # type: ignore[arg-type]
        labels=dict(ns.labels), target=ns.target, no_cache=ns.no_cache, pull=ns.pull, network=ns.network,
        platform=ns.platform,
    )  # fmt: skip


RUNNERS = {"build": build, "image build": build}
