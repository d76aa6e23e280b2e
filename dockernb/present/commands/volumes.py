"""The volume verbs' runners (layer L7): docker's tables, ``volume inspect``'s JSON and per-argument errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.errors import DockernbError, NoSuchVolume
from dockernb.present.context import Context
from dockernb.present.flagvalues import filters_of, key_values
from dockernb.present.gotemplate import Struct, TemplateError
from dockernb.present.inspected import print_inspected
from dockernb.present.prompt import confirm
from dockernb.present.units import human_size

__all__ = ["RUNNERS"]

_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
            "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}


def create(ns: argparse.Namespace, ctx: Context) -> int:
    name = ns.args[0] if ns.args else ns.name
    if ns.args and ns.name and ns.name != ns.args[0]:
        ctx.eprint("Conflicting options: either specify --name or provide positional arg, not both")
        return 1
    rec = ctx.engine.volumes.create(name, driver=ns.driver, labels=key_values(ns.label), options=key_values(ns.opt))
    ctx.print(rec.name)
    return 0


def ls(ns: argparse.Namespace, ctx: Context) -> int:
    from dockernb.present.images import format_table

    vols = ctx.engine.volumes.list(filters=filters_of(ns))
    fmt = ns.format or "table"
    if fmt == "table":
        fmt = "{{.Name}}" if ns.quiet else "table {{.Driver}}\t{{.Name}}"
    rows = [Struct("*formatter.volumeContext", {
        "Driver": v.driver, "Name": v.name, "Mountpoint": str(v.mountpoint), "Scope": "local",
        "Labels": ",".join(f"{k}={val}" for k, val in sorted(v.labels.items())), "Links": "N/A", "Size": "N/A",
        "Label": lambda key, _v=v: _v.labels.get(key, ""),
    }) for v in vols]  # fmt: skip
    try:
        ctx.out.write(format_table(fmt, rows, _HEADERS))
    except TemplateError as err:
        ctx.eprint(f"failed to execute template: {err}")
        return 1
    return 0


def inspect(ns: argparse.Namespace, ctx: Context) -> int:
    return print_inspected(ns, ctx, ctx.engine.volumes.inspect, NoSuchVolume, "volume")


def rm(ns: argparse.Namespace, ctx: Context) -> int:
    code = 0
    for name in ns.args:
        try:
            ctx.engine.volumes.remove(name, force=ns.force)
        except NoSuchVolume:
            if ns.force:
                ctx.print(name)
                continue
            ctx.eprint(f"Error: No such volume: {name}")
            code = 1
            continue
        except DockernbError as err:
            ctx.eprint(f"Error response from daemon: {err}")
            code = 1
            continue
        ctx.print(name)
    return code


def prune(ns: argparse.Namespace, ctx: Context) -> int:
    warning = ("WARNING! This will remove all local volumes not used by at least one container.\n"
               "Are you sure you want to continue?")
    if not ns.force and not confirm(ctx, warning):
        return 0
    report = ctx.engine.volumes.prune(filters=filters_of(ns))
    if report.deleted:
        ctx.print("Deleted Volumes:")
        for name in report.deleted:
            ctx.print(name)
        ctx.print("")
    ctx.print(f"Total reclaimed space: {human_size(report.space_reclaimed)}")
    return 0


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "volume create": create, "volume ls": ls, "volume list": ls, "volume inspect": inspect, "volume rm": rm,
    "volume remove": rm, "volume prune": prune,
}  # fmt: skip
