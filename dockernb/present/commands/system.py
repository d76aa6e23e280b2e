"""`dockernb version` and `dockernb info`."""

from __future__ import annotations

import argparse

from dockernb.present import system as present
from dockernb.present.context import Context


def version(ns: argparse.Namespace, ctx: Context) -> int:
    info = ctx.engine.system.version()
    if ns.format:
        return present.render_format(ctx, ns.format, present.version_data(info))
    ctx.out.write(present.version_text(info))
    return 0


def info(ns: argparse.Namespace, ctx: Context) -> int:
    data = ctx.engine.system.info()
    if ns.format:
        fields = present.info_data(data)
        fields["ServerVersion"] = ctx.engine.system.version().version  # docker's {{.ServerVersion}}
        return present.render_format(ctx, ns.format, fields)
    ctx.out.write(present.info_text(data))
    return 0


RUNNERS = {"version": version, "info": info}
