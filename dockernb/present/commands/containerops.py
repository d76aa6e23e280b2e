"""Runners of ``top``, ``stats``, ``pause``, ``unpause``, ``update`` (layer L7): docker's CLI output.

``top`` prints ps's table through Go's tabwriter (columns at least 20 wide). ``stats`` reads
every container twice, half a second apart, for the CPU %, then prints docker's table; without
``--no-stream`` it redraws it every second (clearing the screen, as docker does) until
interrupted. ``pause``/``unpause``/``update`` print each container as given and, as docker's
CLI, every error at the end.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from dockernb.errors import DockernbError, NoSuchContainer
from dockernb.present.context import Context
from dockernb.present.gotemplate import TemplateError, tabwrite

__all__ = ["RUNNERS"]

#: the pause between two readings of ``stats --no-stream`` (docker waits for its collector's second tick)
NO_STREAM_INTERVAL = 0.5
STREAM_INTERVAL = 1.0


def top(ns: argparse.Namespace, ctx: Context) -> int:
    result = ctx.engine.containers.top(ns.args[0], " ".join(ns.args[1:]))
    rows = ["\t".join(result.titles), *("\t".join(p) for p in result.processes)]
    ctx.out.write(tabwrite(rows, minwidth=20, padding=3) + "\n")
    return 0


def _each(ctx: Context, refs: list[str], act: Callable[[str], Any]) -> int:
    """docker's parallel verbs: each name printed on success, the errors after all of them."""
    errors: list[str] = []
    for ref in refs:
        try:
            act(ref)
        except DockernbError as err:
            errors.append(f"Error response from daemon: {err}")
            continue
        ctx.print(ref)
    if errors:
        ctx.eprint("\n".join(errors))
        return 1
    return 0


def pause(ns: argparse.Namespace, ctx: Context) -> int:
    return _each(ctx, ns.args, ctx.engine.containers.pause)


def unpause(ns: argparse.Namespace, ctx: Context) -> int:
    return _each(ctx, ns.args, ctx.engine.containers.unpause)


_UNSUPPORTED = {"blkio_weight": "--blkio-weight", "cpu_rt_period": "--cpu-rt-period",
                "cpu_rt_runtime": "--cpu-rt-runtime", "cpuset_mems": "--cpuset-mems",
                "kernel_memory": "--kernel-memory"}  # fmt: skip
_SUPPORTED = ("memory", "memory_swap", "memory_reservation", "cpus", "cpu_shares", "cpu_period", "cpu_quota",
              "cpuset_cpus", "pids_limit")  # fmt: skip


def update(ns: argparse.Namespace, ctx: Context) -> int:
    given = [k for k in _SUPPORTED if getattr(ns, k)] + [k for k in _UNSUPPORTED if getattr(ns, k)]
    if not given and ns.restart is None:
        ctx.eprint("you must provide one or more flags when using this command")
        return 1
    refused = [flag for key, flag in _UNSUPPORTED.items() if getattr(ns, key)]
    if refused:
        ctx.eprint(f"dockernb update: {', '.join(refused)} cannot be changed here (memory, CPU shares, quota and "
                   "period, --cpus, --cpuset-cpus, --pids-limit and --restart can)")  # fmt: skip
        return 1
    warnings: list[str] = []

    def act(ref: str) -> None:
        warnings.extend(ctx.engine.containers.update(
            ref, memory=ns.memory or None, memory_swap=ns.memory_swap or None,
            memory_reservation=ns.memory_reservation or None, nano_cpus=ns.cpus or None,
            cpu_shares=ns.cpu_shares or None, cpu_period=ns.cpu_period or None, cpu_quota=ns.cpu_quota or None,
            cpuset_cpus=ns.cpuset_cpus or None, pids_limit=ns.pids_limit or None, restart_policy=ns.restart,
        ))  # fmt: skip

    errors: list[str] = []
    for ref in ns.args:
        try:
            act(ref)
        except DockernbError as err:
            errors.append(f"Error response from daemon: {err}")
            continue
        ctx.print(ref)
    if warnings:
        ctx.print("\n".join(dict.fromkeys(warnings)))
    if errors:
        ctx.eprint("\n".join(errors))
        return 1
    return 0


def stats(ns: argparse.Namespace, ctx: Context) -> int:
    from dockernb.present.stats import HEADERS, StatsContext, render_stats, stats_context

    containers = ctx.engine.containers
    named: list[tuple[str, str]] = []
    errors: list[str] = []
    for ref in ns.args:
        try:
            named.append((ref, containers.resolve(ref)))
        except NoSuchContainer as err:
            errors.append(f"Error response from daemon: {err}")
    if errors:
        ctx.eprint("\n".join(errors))
        return 1

    def targets() -> list[tuple[str, str]]:
        if ns.args:
            return named
        return [(s.record.id[:12], s.record.id) for s in containers.list(all=ns.all)]

    def read(which: list[tuple[str, str]]) -> dict[str, Any]:
        out = {}
        for _shown, cid in which:
            try:
                out[cid] = containers.stats(cid)
            except NoSuchContainer:
                continue
        return out

    try:
        # a bad template (or field) fails before anything is read: a row of the headers' shape
        render_stats([StatsContext("statsContext", HEADERS)], ns.format)
    except TemplateError as err:
        ctx.eprint(f"Template parsing error: {err}")
        return 1
    which = targets()
    before = read(which)
    interval = NO_STREAM_INTERVAL if ns.no_stream else STREAM_INTERVAL
    try:
        while True:
            time.sleep(interval)
            now = read(which)
            rows = [stats_context(shown, now[cid], before.get(cid), trunc=not ns.no_trunc)
                    for shown, cid in which if cid in now]  # fmt: skip
            text = render_stats(rows, ns.format)
            if not ns.no_stream:
                text = "\x1b[2J\x1b[H" + text
            ctx.out.write(text)
            ctx.out.flush()
            if ns.no_stream:
                return 0
            before = now
            if not ns.args:
                which = targets()
                before = {**read([w for w in which if w[1] not in before]), **before}
    except KeyboardInterrupt:
        return 0


def _spelled(fn: Callable[[argparse.Namespace, Context], int], *names: str) -> dict[str, Any]:
    return {spelled: fn for name in names for spelled in (name, f"container {name}")}


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    **_spelled(top, "top"), **_spelled(stats, "stats"), **_spelled(pause, "pause"), **_spelled(unpause, "unpause"),
    **_spelled(update, "update"),
}  # fmt: skip
