"""``docker images`` and ``docker history``: listing with docker's filters, and layer history (layer L6).

``images`` follows daemon/images/images.go (docker 20.10): newest first; the ``reference`` filter
keeps only the names that match (Go's ``path.Match`` on the familiar name, with or without the
tag); untagged images with children (a build's intermediate images) only with ``-a``; ``dangling``,
``label``, ``before`` and ``since`` as docker reads them. ``history`` walks the config's history,
newest first, with each layer's size; ids are filled along the image's parent chain (builds),
``<missing>`` elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dockernb.engine.image_types import HistoryItem, Image
from dockernb.errors import InternalError, InvalidArgument, InvalidFilter
from dockernb.images.store import familiar
from dockernb.spec.reference import parse_reference

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService

__all__ = ["IMAGE_FILTERS", "go_path_match", "history", "list_images", "parse_until"]

IMAGE_FILTERS = ("before", "dangling", "label", "reference", "since")

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_until(value: str, now: datetime | None = None) -> datetime:
    """docker's GetTimestamp: a Go duration back from now (``10m``), unix seconds, or an RFC 3339 time/date."""
    now = now or datetime.now(UTC)
    if _DURATION.match(value):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
        return now - timedelta(seconds=seconds)
    if re.match(r"^\d+(\.\d+)?\Z", value):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _go_pattern(pattern: str) -> re.Pattern[str]:
    """Go's path.Match as a regular expression ('*' and '?' never match '/')."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                raise InvalidArgument("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1)
            if j < 0:
                raise InvalidArgument("syntax error in pattern")
            body = pattern[i + 1 : j]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            cls = "".join("\\" + ch if ch in "\\^]" else ch for ch in body)
            out.append(f"[{'^/' if negate else ''}{cls}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def go_path_match(pattern: str, text: str) -> bool:
    return _go_pattern(pattern).match(text) is not None


def _reference_match(patterns: list[str], canonical: str) -> bool:
    """docker's FamiliarMatch: the familiar string, else the familiar name, matches one pattern."""
    ref = parse_reference(canonical)
    return any(go_path_match(p, ref.familiar) or go_path_match(p, ref.familiar_name) for p in patterns)


def list_images(
    svc: ImageService, *, all: bool = False, filters: dict[str, list[str]] | None = None  # noqa: A002
) -> list[Image]:
    """Like ``docker images`` (the daemon half): one :class:`Image` per image, names filtered."""
    filters = dict(filters or {})
    for key in filters:
        if key not in IMAGE_FILTERS:
            raise InvalidFilter(key)
    dangling_only = False
    if "dangling" in filters:
        values = [v.lower() for v in filters["dangling"]]
        if values == ["true"] or values == ["1"]:
            dangling_only = True
        elif values not in (["false"], ["0"]):
            raise InvalidArgument(f"Invalid filter 'dangling=[{' '.join(filters['dangling'])}]'")
    view = svc.store.view()
    before = since = None
    if "before" in filters:
        before = view.lookup(filters["before"][-1]).created
    if "since" in filters:
        since = view.lookup(filters["since"][-1]).created
    out: list[Image] = []
    for image_id, rec in view.images.items():
        created = rec.created or datetime.min.replace(tzinfo=UTC)
        if before is not None and not created < before:
            continue
        if since is not None and not created > since:
            continue
        if "label" in filters:
            ok = True
            for item in filters["label"]:
                key, sep, value = item.partition("=")
                if key not in rec.labels or (sep and rec.labels[key] != value):
                    ok = False
            if not ok:
                continue
        refs = view.refs_of(image_id)
        if "reference" in filters:
            refs = [r for r in refs if _reference_match(filters["reference"], r)]
        tags = [r for r in refs if "@" not in r]
        digests = [r for r in refs if "@" in r]
        if not tags and not digests:
            if "reference" in filters:
                continue
            if not all and view.children(image_id):
                continue  # an intermediate image
            if "dangling" in filters and not dangling_only:
                continue
        elif dangling_only and tags:
            continue
        out.append(svc.image_of(rec, view, tags=tags, digests=digests))
    out.sort(key=lambda i: (i.created or datetime.min.replace(tzinfo=UTC), i.id), reverse=True)
    return out


def history(svc: ImageService, text: str) -> list[HistoryItem]:
    """Like ``docker history`` (the daemon half). Raises NoSuchImage."""
    view = svc.store.view()
    rec = view.lookup(text)
    image = svc.image_of(rec, view)
    rows: list[HistoryItem] = []
    layer = 0
    for h in image.config.history:
        size = 0
        if not h.empty_layer:
            if layer >= len(rec.layers):
                raise InternalError("too many non-empty layers in History section")
            size = rec.layers[layer].size
            layer += 1
        rows.insert(0, HistoryItem(id="<missing>", created=h.created, created_by=h.created_by, size=size,
                                   comment=h.comment))  # fmt: skip
    current: str = rec.id
    for i, row in enumerate(rows):
        found = view.get(current)
        tags = tuple(familiar(r) for r in view.tags_of(current)) if found else ()
        rows[i] = HistoryItem(id=current, created=row.created, created_by=row.created_by, size=row.size,
                              comment=row.comment, tags=tags)  # fmt: skip
        if found is None or not found.parent or view.get(found.parent) is None:
            break
        current = found.parent
    return rows
