"""How ``ps`` looks: docker's columns, status phrases, --format context and table (layer L7).

:func:`render_ps` turns :class:`~dockernb.spec.container.ContainerSummary` rows (newest first,
as the engine lists them) into docker's output: the default table, ``-q``, ``-s``,
``--no-trunc``, or a ``--format`` Go template (``table`` prefix for a header and aligned
columns). The template context is docker's ``*formatter.ContainerContext``: fields ID, Image,
Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts,
LocalVolumes, Networks and the method ``Label "key"``; an unknown field fails with Go's
sentence (golden ``ps-format-bad-field``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dockernb.present.gotemplate import Struct, Template, tabwrite
from dockernb.present.ports import displayable_ports
from dockernb.present.units import human_duration, human_size_precision
from dockernb.spec.container import ContainerSummary, command_line
from dockernb.spec.status import ContainerState, ContainerStatus

__all__ = [
    "HEADERS",
    "PsContext",
    "ellipsis",
    "go_quote",
    "ps_context",
    "ps_format",
    "render_ps",
    "state_word",
    "status_text",
    "wants_size",
]

DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
RAW = (
    "container_id: {{.ID}}\\nimage: {{.Image}}\\ncommand: {{.Command}}\\ncreated_at: {{.CreatedAt}}\\n"
    "status: {{- pad .Status 1 0}}\\nnames: {{.Names}}\\nlabels: {{- pad .Labels 1 0}}\\n"
)

#: docker's column header of each field
HEADERS = {
    "ID": "CONTAINER ID",
    "Names": "NAMES",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
}


def _ago(when: datetime | None, now: datetime) -> str:
    return human_duration((now - when).total_seconds()) if when else "Less than a second"


def status_text(state: ContainerState, now: datetime | None = None) -> str:
    """docker's State.String(): "Up 3 minutes", "Exited (0) 5 seconds ago", "Created"..."""
    now = now or datetime.now(UTC)
    s = state.status
    if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED):
        up = f"Up {_ago(state.started_at, now)}"
        return f"{up} (Paused)" if s is ContainerStatus.PAUSED else up
    if s is ContainerStatus.RESTARTING:
        return f"Restarting ({state.exit_code}) {_ago(state.finished_at, now)} ago"
    if s is ContainerStatus.REMOVING:
        return "Removal In Progress"
    if s is ContainerStatus.DEAD:
        return "Dead"
    if state.started_at is None:
        return "Created"
    if state.finished_at is None:
        return ""
    return f"Exited ({state.exit_code}) {_ago(state.finished_at, now)} ago"


def state_word(state: ContainerState) -> str:
    """docker's State.StateString(), the ``{{.State}}`` of ps."""
    return str(state.status)


def _width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def ellipsis(text: str, width: int) -> str:
    """docker's formatter.Ellipsis: cut to ``width`` display columns, the last one an ellipsis."""
    if width <= 0:
        return ""
    if width == 1:
        return text[:1]
    widths = [_width(c) for c in text]
    if sum(widths) <= width:
        return text
    used, out = 0, []
    for ch, w in zip(text, widths, strict=True):
        if used + w > width - 1:
            break
        used += w
        out.append(ch)
    return "".join(out) + "…"


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: double quotes, backslash escapes, printable Unicode kept."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _image(image: str, trunc: bool) -> str:
    if not image:
        return "<no image>"
    if trunc:
        if image.startswith("sha256:"):
            return image[7:19]
        if "@" in image:
            return image.split("@", 1)[0]  # docker drops the digest unless --no-trunc
    return image


class PsContext(Struct):
    """docker's ContainerContext; ``{{json .}}`` gives every field as a string, keys sorted."""

    def __json__(self) -> dict[str, Any]:
        return {k: self[k] for k in sorted(self) if not callable(self[k])}


def ps_context(item: ContainerSummary, *, trunc: bool = True, now: datetime | None = None) -> PsContext:
    """The template context of one ps row."""
    now = now or datetime.now(UTC)
    rec, state = item.record, item.state
    created = rec.created if rec.created.tzinfo else rec.created.replace(tzinfo=UTC)
    labels = rec.config.labels
    command = command_line(rec.path, rec.args)
    size = ""
    if item.size_rw is not None:
        size = human_size_precision(item.size_rw, 3)
        if item.size_root_fs:
            size += f" (virtual {human_size_precision(item.size_root_fs, 3)})"
    mounts = [ellipsis(m, 15) if trunc else m for m in item.mounts]
    local = datetime.fromtimestamp(int(created.timestamp())).astimezone()
    return PsContext(
        "*formatter.ContainerContext",
        {
            "ID": rec.id[:12] if trunc else rec.id,
            "Image": _image(rec.config.image, trunc),
            "Command": go_quote(ellipsis(command, 20) if trunc else command),
            "CreatedAt": local.strftime("%Y-%m-%d %H:%M:%S %z %Z"),
            "RunningFor": f"{human_duration((now - created).total_seconds())} ago",
            "Ports": ", ".join(item.ports) or displayable_ports(item.bindings, item.exposed),
            "State": state_word(state),
            "Status": status_text(state, now),
            "Size": size,
            "Names": rec.name,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Mounts": ",".join(mounts),
            "LocalVolumes": str(item.local_volumes),
            "Networks": ",".join(item.networks),
            "Label": lambda key: labels.get(key, ""),
        },
    )


def _header_context() -> dict[str, Any]:
    # a map, as docker's SubHeaderContext: an unknown field is "<no value>" in the header
    return {**HEADERS, "Label": lambda key: key.split(".")[-1].upper()}


def ps_format(fmt: str, *, quiet: bool = False, size: bool = False) -> str:
    """docker's NewContainerFormat: the template for the flags given."""
    if not fmt or fmt == "table":
        if quiet:
            return "{{.ID}}"
        return DEFAULT_TABLE + ("\t{{.Size}}" if size else "")
    if fmt == "raw":
        if quiet:
            return "container_id: {{.ID}}"
        return RAW + ("size: {{.Size}}\\n" if size else "")
    return fmt


def wants_size(fmt: str, size: bool) -> bool:
    """Whether sizes must be computed (``-s``, or a template that shows ``.Size``)."""
    return size or ".Size" in fmt


def render_ps(
    items: Sequence[ContainerSummary],
    *,
    fmt: str = "",
    quiet: bool = False,
    size: bool = False,
    trunc: bool = True,
    now: datetime | None = None,
) -> str:
    """ps's whole output. Raises TemplateError (the CLI prints ``failed to execute template: ...``)."""
    now = now or datetime.now(UTC)
    source = ps_format(fmt, quiet=quiet, size=size)
    table = source.startswith("table")
    body = source[len("table") :] if table else source
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    fields = _plain_fields(body)
    if fields is not None:
        # only {{.Field}} cells between tabs (the default table): the values as they are, no template
        cells = [ps_context(item, trunc=trunc, now=now) for item in items]
        rows = ["\t".join(str(c[f]) for f in fields) for c in cells]
        if not table:
            return "".join(row + "\n" for row in rows)
        return tabwrite(["\t".join(HEADERS[f] for f in fields), *rows]) + "\n"
    template = Template(body)
    rows = [template.render(ps_context(item, trunc=trunc, now=now)) for item in items]
    if not table:
        return "".join(row + "\n" for row in rows)
    header = template.render(_header_context())
    return tabwrite("\n".join([header, *rows]).split("\n")) + "\n"


_PLAIN = re.compile(r"\{\{\.(\w+)\}\}")


def _plain_fields(body: str) -> list[str] | None:
    """The fields of a format made only of tab-separated ``{{.Field}}`` cells naming known fields, else None."""
    fields = []
    for cell in body.split("\t"):
        m = _PLAIN.fullmatch(cell)
        if m is None or m.group(1) not in HEADERS:
            return None
        fields.append(m.group(1))
    return fields
