"""The network verbs' runners (layer L7): docker's tables, ``network inspect``'s JSON, per-argument errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.errors import DockernbError, NoSuchNetwork
from dockernb.present.context import Context
from dockernb.present.flagvalues import filters_of, key_values
from dockernb.present.gotemplate import Struct, TemplateError
from dockernb.present.inspected import print_inspected
from dockernb.present.prompt import confirm

__all__ = ["RUNNERS"]

_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
            "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def create(ns: argparse.Namespace, ctx: Context) -> int:
    if len(ns.subnet) > 1 or len(ns.gateway) > 1:
        ctx.eprint("Error response from daemon: dockernb networks take one subnet and one gateway")
        return 1
    if ns.gateway and not ns.subnet:
        ctx.eprint("every ip-range or gateway must have a corresponding subnet")
        return 1
    net = ctx.engine.networks.create(ns.args[0], driver=ns.driver, subnet=(ns.subnet or [""])[0],
                                     gateway=(ns.gateway or [""])[0], internal=ns.internal,
                                     attachable=ns.attachable, labels=key_values(ns.label), options=key_values(ns.opt))
    ctx.print(net.id)
    return 0


def ls(ns: argparse.Namespace, ctx: Context) -> int:
    from dockernb.present.images import format_table

    nets = ctx.engine.networks.list(filters=filters_of(ns))
    fmt = ns.format or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if ns.quiet else "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    rows = [Struct("*formatter.networkContext", {
        "ID": n.id if ns.no_trunc else n.id[:12], "Name": n.name, "Driver": n.driver, "Scope": "local",
        "IPv6": "false", "Internal": str(n.internal).lower(), "CreatedAt": n.created,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())),
        "Label": lambda key, _n=n: _n.labels.get(key, ""),
    }) for n in nets]  # fmt: skip
    try:
        ctx.out.write(format_table(fmt, rows, _HEADERS))
    except TemplateError as err:
        ctx.eprint(f"failed to execute template: {err}")
        return 1
    return 0


def inspect(ns: argparse.Namespace, ctx: Context) -> int:
    return print_inspected(ns, ctx, ctx.engine.networks.inspect, NoSuchNetwork, "network")


def rm(ns: argparse.Namespace, ctx: Context) -> int:
    code = 0
    for name in ns.args:
        try:
            ctx.engine.networks.remove(name)
        except NoSuchNetwork:
            ctx.eprint(f"Error: No such network: {name}")
            code = 1
            continue
        except DockernbError as err:
            ctx.eprint(f"Error response from daemon: {err}")
            code = 1
            continue
        ctx.print(name)
    return code


def prune(ns: argparse.Namespace, ctx: Context) -> int:
    warning = ("WARNING! This will remove all custom networks not used by at least one container.\n"
               "Are you sure you want to continue?")
    if not ns.force and not confirm(ctx, warning):
        return 0
    removed = ctx.engine.networks.prune()
    if removed:
        ctx.print("Deleted Networks:")
        for name in removed:
            ctx.print(name)
        ctx.print("")
    return 0


def connect(ns: argparse.Namespace, ctx: Context) -> int:
    network, container = ns.args
    ctx.engine.networks.connect(network, container, aliases=ns.alias, ipv4_address=ns.ip)
    return 0


def disconnect(ns: argparse.Namespace, ctx: Context) -> int:
    network, container = ns.args
    ctx.engine.networks.disconnect(network, container, force=ns.force)
    return 0


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "network create": create, "network ls": ls, "network list": ls, "network inspect": inspect,
    "network rm": rm, "network remove": rm, "network prune": prune, "network connect": connect,
    "network disconnect": disconnect,
}  # fmt: skip
