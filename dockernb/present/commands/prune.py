"""Runners of ``container prune`` and ``system prune`` (layer L7): docker 20.10's prompts and reports.

Without ``-f`` both ask ``Are you sure you want to continue? [y/N]`` on stdout and read a line;
only ``y`` goes on. ``container prune`` prints ``Total reclaimed space`` even when declined, as
docker's does; ``system prune`` prints nothing then. ``system prune`` is docker's client-side
sequence: containers, networks, volumes (``--volumes``), images (dangling, or ``-a`` every unused
one); the classic builder's cache is its images, so it goes with them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.context import Context
from dockernb.present.flagvalues import filters_of
from dockernb.present.prompt import confirm
from dockernb.present.units import human_size

__all__ = ["RUNNERS"]


def _prune_containers(ctx: Context, filters: dict[str, list[str]]) -> tuple[int, str]:
    report = ctx.engine.containers.prune(filters=filters)
    if not report.deleted:
        return 0, ""
    return report.space_reclaimed, "Deleted Containers:\n" + "".join(f"{cid}\n" for cid in report.deleted)


def container_prune(ns: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(ns)
    space, output = 0, ""
    warning = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
    if ns.force or confirm(ctx, warning):
        space, output = _prune_containers(ctx, filters)
    if output:
        ctx.print(output)
    ctx.print(f"Total reclaimed space: {human_size(space)}")
    return 0


def system_prune(ns: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(ns)
    if ns.volumes and "until" in filters:
        ctx.eprint('ERROR: The "until" filter is not supported with "--volumes"')
        return 1
    if not ns.force:
        warnings = ["all stopped containers", "all networks not used by at least one container"]
        if ns.volumes:
            warnings.append("all volumes not used by at least one container")
        warnings.append("all images without at least one container associated to them" if ns.all
                        else "all dangling images")  # fmt: skip
        warnings.append("all build cache" if ns.all else "all dangling build cache")
        if filters:
            warnings.append("Elements to be pruned will be filtered with:")
            warnings += [f"{k}={v}" for k, values in filters.items() for v in values]
        text = "WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in warnings)
        if not confirm(ctx, text + "\nAre you sure you want to continue?"):
            return 0
    engine = ctx.engine
    total = 0
    space, output = _prune_containers(ctx, {k: v for k, v in filters.items() if k in ("until", "label", "label!")})
    total += space
    if output:
        ctx.print(output)
    names = engine.networks.prune()
    if names:
        ctx.print("Deleted Networks:\n" + "".join(f"{n}\n" for n in names))
    if ns.volumes:
        volumes = engine.volumes.prune(filters={k: v for k, v in filters.items() if k in ("label", "label!")})
        total += volumes.space_reclaimed
        if volumes.deleted:
            ctx.print("Deleted Volumes:\n" + "".join(f"{n}\n" for n in volumes.deleted))
    images = engine.images.prune(all=ns.all, filters=filters)
    total += images.space_reclaimed
    if images.deleted:
        lines = [f"untagged: {i.untagged}" if i.untagged else f"deleted: {i.deleted}" for i in images.deleted]
        ctx.print("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    ctx.print(f"Total reclaimed space: {human_size(total)}")
    return 0


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "container prune": container_prune,
    "system prune": system_prune,
}
