"""``docker stats``'s table and ``--format`` fields from stats readings (layer L7).

docker's CLI (formatter_stats.go): CPU % is the container's share of the host's CPU time between
two readings times the CPUs, memory is the usage less the page cache (v1 ``total_inactive_file``,
v2 ``inactive_file``) in binary units over the limit, network and block I/O in decimal units with
3 significant digits. A container that does not run shows zeros, as dockerd reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockernb.engine.containers.stats import StatsSample, cpu_percent
from dockernb.present.gotemplate import Struct, Template, tabwrite
from dockernb.present.units import human_size_binary, human_size_precision

__all__ = ["DEFAULT_TABLE", "StatsContext", "render_stats", "stats_context"]

DEFAULT_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                 "\t{{.PIDs}}")
HEADERS = {
    "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}  # fmt: skip


class StatsContext(Struct):
    """docker's statsContext; ``{{json .}}`` gives every field as a string, keys sorted."""

    def __json__(self) -> dict[str, Any]:
        return {k: self[k] for k in sorted(self)}


def _io(a: int, b: int) -> str:
    return f"{human_size_precision(a, 3)} / {human_size_precision(b, 3)}"


def stats_context(shown: str, now: StatsSample, before: StatsSample | None, *, trunc: bool = True) -> StatsContext:
    """The template fields of one row (``shown``: the container as the user named it)."""
    memory = now.memory_usage - now.memory_cache if now.memory_cache < now.memory_usage else now.memory_usage
    percent = memory / now.memory_limit * 100.0 if now.memory_limit else 0.0
    return StatsContext("statsContext", {
        "Container": shown,
        "ID": now.id[:12] if trunc else now.id,
        "Name": now.name or "--",
        "CPUPerc": f"{cpu_percent(before, now):.2f}%",
        "MemUsage": f"{human_size_binary(memory)} / {human_size_binary(now.memory_limit)}",
        "MemPerc": f"{percent:.2f}%",
        "NetIO": _io(now.net_rx, now.net_tx),
        "BlockIO": _io(now.block_read, now.block_write),
        "PIDs": str(now.pids),
    })  # fmt: skip


def render_stats(rows: Sequence[StatsContext], fmt: str = "") -> str:
    """The whole table (or one line per container for a plain ``--format``). Raises TemplateError."""
    source = fmt or DEFAULT_TABLE
    if source == "table":
        source = DEFAULT_TABLE
    table = source.startswith("table")
    body = source[len("table"):] if table else source
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    template = Template(body)
    lines = [template.render(row) for row in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    header = template.render(HEADERS)
    return tabwrite("\n".join([header, *lines]).split("\n")) + "\n"
