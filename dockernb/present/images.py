"""How the image verbs look: docker's tables, ``--format`` contexts, inspect JSON and pull progress (layer L7).

Row contexts are docker's (cli/command/formatter): ``images`` rows (one per repository:tag of an
image, ``<none>`` for dangling ones), ``history`` rows, ``system df`` rows, each a Go-template
:class:`~dockernb.present.gotemplate.Struct` with docker's field names, rendered through the
``table`` / plain rules of docker's formatter. :class:`ProgressPrinter` writes pull/push/load
progress messages as docker's CLI does: on a terminal, one line per layer redrawn in place with
progress bars; otherwise only the state changes (docker hides messages carrying a progress bar).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from dockernb.present.gotemplate import Struct, render, tabwrite
from dockernb.present.units import human_duration, human_size, short_id
from dockernb.spec.events import LayerStatus, ProgressMessage

if TYPE_CHECKING:
    from dockernb.engine.image_types import DiskUsage, HistoryItem, Image

__all__ = [
    "ProgressPrinter",
    "df_rows",
    "format_table",
    "go_json",
    "history_rows",
    "image_rows",
    "size3",
]


def size3(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): what ``images`` and ``history`` print."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000.0 or unit == "PB":
            text = f"{size:.3g}"
            if "e" in text:
                text = f"{size:.0f}"
            return f"{text}{unit}"
        size /= 1000.0
    raise AssertionError("unreachable")


def go_json(data: Any, indent: int = 4) -> str:  # noqa: ANN401
    """encoding/json's MarshalIndent: HTML characters escaped as Go does."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _go_time_string(when: datetime | None) -> str:
    """Go's Time.String() of a unix time in the local zone: ``2024-01-02 15:04:05 +0000 UTC``."""
    local = (when or datetime.fromtimestamp(0, UTC)).astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + (local.tzname() or "")


def _since(when: datetime | None, now: datetime) -> str:
    return human_duration((now - (when or datetime.fromtimestamp(0, UTC))).total_seconds()) + " ago"


def format_table(fmt: str, rows: Sequence[Struct], headers: Mapping[str, str]) -> str:
    """docker's formatter: ``table ...`` gets a header line and tab alignment, other formats print as they are.

    Literal ``\\t`` and ``\\n`` in the format are tabs and newlines, as docker reads them.
    Raises TemplateError with Go's wording.
    """
    table = fmt.startswith("table")
    body = fmt[len("table") :] if table else fmt
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    lines = [render(body, row) for row in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    header = render(body, _HeaderMap(headers))
    return tabwrite([header, *lines]) + "\n"


class _HeaderMap(dict[str, Any]):
    """The header context: every field renders as its column name (unknown ones as empty)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__(headers)

    def get(self, key: str, default: Any = None) -> Any:  # noqa: ANN401
        return super().get(key, "")


# --- images --------------------------------------------------------------------------------

IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}  # fmt: skip
IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def _split_name(name: str) -> tuple[str, str, str]:
    """``repo:tag`` or ``repo@digest`` (familiar) -> (repo, tag, digest)."""
    if "@" in name:
        repo, _, digest = name.partition("@")
        return repo, "", digest
    m = re.match(r"^(.*):([^:/]+)$", name)
    return (m.group(1), m.group(2), "") if m else (name, "", "")


def image_rows(images: Sequence[Image], *, trunc: bool = True, digests: bool = False,
               now: datetime | None = None) -> list[Struct]:  # fmt: skip
    """One row per repository:tag (and per digest with ``digests``), as docker's imageFormat."""
    now = now or datetime.now(UTC)
    rows: list[Struct] = []
    for image in images:
        def row(repo: str, tag: str, digest: str, image: Image = image) -> Struct:
            return Struct("*formatter.imageContext", {
                "ID": short_id(image.id) if trunc else image.id,
                "Repository": repo, "Tag": tag, "Digest": digest,
                "CreatedSince": _since(image.created, now), "CreatedAt": _go_time_string(image.created),
                "Size": size3(image.size), "Containers": "N/A", "VirtualSize": size3(image.size),
                "SharedSize": "N/A", "UniqueSize": "N/A",
            })  # fmt: skip

        if image.dangling:
            rows.append(row("<none>", "<none>", "<none>"))
            continue
        tags: dict[str, list[str]] = {}
        dgs: dict[str, list[str]] = {}
        for name in image.tags:
            repo, tag, _ = _split_name(name)
            tags.setdefault(repo, []).append(tag)
        for name in image.digests:
            repo, _, digest = _split_name(name)
            dgs.setdefault(repo, []).append(digest)
        for repo in sorted(tags):
            shown = dgs.pop(repo, []) if digests else []
            dgs.pop(repo, None)
            for tag in tags[repo]:
                if not shown:
                    rows.append(row(repo, tag, "<none>"))
                for d in shown:
                    rows.append(row(repo, tag, d))
        for repo in sorted(dgs):
            if digests:
                rows += [row(repo, "<none>", d) for d in dgs[repo]]
            else:
                rows.append(row(repo, "<none>", ""))
    return rows


# --- history --------------------------------------------------------------------------------

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                   "Size": "SIZE", "Comment": "COMMENT"}  # fmt: skip
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def history_rows(items: Sequence[HistoryItem], *, human: bool = True, trunc: bool = True,
                 now: datetime | None = None) -> list[Struct]:  # fmt: skip
    now = now or datetime.now(UTC)
    rows = []
    for item in items:
        created_at = (item.created or datetime.fromtimestamp(0, UTC)).astimezone().isoformat(timespec="seconds")
        created_at = created_at.replace("+00:00", "Z")
        created_by = item.created_by.replace("\t", " ")
        rows.append(Struct("*formatter.historyContext", {
            "ID": short_id(item.id) if trunc and item.id != "<missing>" else item.id,
            "CreatedSince": _since(item.created, now) if human else created_at,
            "CreatedAt": created_at,
            "CreatedBy": _ellipsis(created_by, 45) if trunc else created_by,
            "Size": size3(item.size) if human else str(item.size),
            "Comment": item.comment,
        }))  # fmt: skip
    return rows


# --- system df --------------------------------------------------------------------------------

DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def df_rows(usage: DiskUsage) -> list[Struct]:
    rows = []
    for r in usage.rows:
        reclaimable = human_size(r.reclaimable)
        if r.size > 0 and r.kind in ("Images", "Containers", "Local Volumes"):
            reclaimable += f" ({r.reclaimable * 100 // r.size}%)"
        rows.append(Struct("*formatter.diskUsageContext", {
            "Type": r.kind, "TotalCount": str(r.total), "Active": str(r.active), "Size": human_size(r.size),
            "Reclaimable": reclaimable,
        }))  # fmt: skip
    return rows


# --- progress -------------------------------------------------------------------------------


def _go_duration(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def progress_bar(current: int, total: int, width: int, started: float, now: float) -> str:
    """jsonmessage.JSONProgress.String(): ``[=====>    ]  1.2MB/63.4MB 3s``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(int(current / total * 100) // 2, 50)
    bar = f"[{'=' * pct}>{' ' * max(50 - pct, 0)}] " if width > 110 else ""
    numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else f"{human_size(current):>8}"
    left = ""
    if current < total and width > 50 and current > 0:
        per = (now - started) / current
        left = " " + _go_duration((total - current) * per)
    return bar + numbers + left


class ProgressPrinter:
    """Renders a stream of :class:`ProgressMessage` like docker's DisplayJSONMessagesStream."""

    def __init__(self, out: TextIO, *, tty: bool | None = None, width: int | None = None) -> None:
        self.out = out
        if tty is None:
            isatty = getattr(out, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.width = width or shutil.get_terminal_size((80, 24)).columns
        self.lines: dict[str, int] = {}
        self.started: dict[str, float] = {}

    def _text(self, m: ProgressMessage) -> str:
        text = f"{m.id}: " if m.id else ""
        if m.has_progress and self.tty:
            start = self.started.setdefault(f"{m.id}/{m.status}", time.monotonic())
            bar = progress_bar(m.current, m.total, self.width, start, time.monotonic())
            return f"{text}{m.status} {bar}"
        return text + m.status

    def write(self, m: ProgressMessage) -> None:
        layer_line = bool(m.id) and (m.status in set(LayerStatus) or m.has_progress or _is_layer_status(m.status))
        if not self.tty:
            # docker: "disable progressbar in non-terminal"; its Verifying Checksum is coalesced away
            if m.has_progress or m.status == LayerStatus.VERIFYING:
                return
            self.out.write(self._text(m) + "\n")
            self.out.flush()
            return
        if layer_line:
            if m.id not in self.lines:
                self.lines[m.id] = len(self.lines)
                self.out.write("\n")
            diff = len(self.lines) - self.lines[m.id]
            self.out.write(f"\x1b[{diff}A\x1b[2K\r{self._text(m)}\r\x1b[{diff}B")
        else:
            self.lines.clear()
            self.out.write(self._text(m) + "\n")
        self.out.flush()


def _is_layer_status(status: str) -> bool:
    return status.startswith(LayerStatus.MOUNTED)

