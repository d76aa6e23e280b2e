"""Internal records -> the Engine API's JSON shapes: the one place docker's wire JSON is built (layer L6).

``image_inspect`` gives ``ImageInspect`` (``GET /images/{name}/json``, ``docker image inspect``);
``image_summary`` gives an ``ImageSummary`` (``GET /images/json``); ``history_item`` a
``HistoryResponseItem``. Field names, nesting, ``null`` versus empty and the time format are
docker 20.10's (RFC 3339 with nanoseconds, ``0001-01-01T00:00:00Z`` for "never").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dockernb.engine.image_types import HistoryItem, Image

__all__ = ["container_config", "go_time", "history_item", "image_inspect", "image_summary"]

_ZERO_TIME = "0001-01-01T00:00:00Z"


def go_time(when: datetime | None) -> str:
    """Go's time.RFC3339Nano of a UTC time (trailing zeros of the fraction dropped)."""
    if when is None:
        return _ZERO_TIME
    when = when.astimezone(UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{when.microsecond:06d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def container_config(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """docker's container.Config as an image carries it: every field, docker's order and omitempty rules."""
    if raw is None:
        return None
    out: dict[str, Any] = {
        "Hostname": raw.get("Hostname", ""),
        "Domainname": raw.get("Domainname", ""),
        "User": raw.get("User", ""),
        "AttachStdin": bool(raw.get("AttachStdin", False)),
        "AttachStdout": bool(raw.get("AttachStdout", False)),
        "AttachStderr": bool(raw.get("AttachStderr", False)),
    }
    if raw.get("ExposedPorts"):
        out["ExposedPorts"] = raw["ExposedPorts"]
    out.update({
        "Tty": bool(raw.get("Tty", False)),
        "OpenStdin": bool(raw.get("OpenStdin", False)),
        "StdinOnce": bool(raw.get("StdinOnce", False)),
        "Env": raw.get("Env"),
        "Cmd": raw.get("Cmd"),
    })  # fmt: skip
    if raw.get("Healthcheck"):
        out["Healthcheck"] = raw["Healthcheck"]
    if raw.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    out.update({
        "Image": raw.get("Image", ""),
        "Volumes": raw.get("Volumes"),
        "WorkingDir": raw.get("WorkingDir", ""),
        "Entrypoint": raw.get("Entrypoint"),
    })  # fmt: skip
    if raw.get("NetworkDisabled"):
        out["NetworkDisabled"] = True
    if raw.get("MacAddress"):
        out["MacAddress"] = raw["MacAddress"]
    out["OnBuild"] = raw.get("OnBuild")
    out["Labels"] = raw.get("Labels")
    for key in ("StopSignal", "StopTimeout", "Shell"):
        if raw.get(key):
            out[key] = raw[key]
    return out


def image_inspect(image: Image, *, driver: str) -> dict[str, Any]:
    """``ImageInspect`` for one image."""
    raw = image.config.raw
    config = raw.get("config")
    cc = raw.get("container_config")
    out: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": list(image.tags),
        "RepoDigests": list(image.digests),
        "Parent": image.parent,
        "Comment": str(raw.get("comment", "")),
        "Created": go_time(image.created) if image.created else str(raw.get("created") or _ZERO_TIME),
        "Container": str(raw.get("container", "")),
        "ContainerConfig": container_config(cc if isinstance(cc, Mapping) else {}),
        "DockerVersion": str(raw.get("docker_version", "")),
        "Author": str(raw.get("author", "")),
        "Config": container_config(config if isinstance(config, Mapping) else None),
        "Architecture": image.config.architecture,
    }
    if image.config.variant:
        out["Variant"] = image.config.variant
    out["Os"] = image.config.os
    if image.config.os_version:
        out["OsVersion"] = image.config.os_version
    out.update({
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Data": {}, "Name": driver},
        "RootFS": {"Type": "layers", "Layers": list(image.diff_ids)},
        "Metadata": {"LastTagTime": go_time(image.last_tag_time)},
    })  # fmt: skip
    return out


def image_summary(image: Image, *, containers: int = -1) -> dict[str, Any]:
    """``ImageSummary`` (``GET /images/json``): dangling images carry docker's ``<none>`` names."""
    return {
        "Containers": containers,
        "Created": int(image.created.timestamp()) if image.created else 0,
        "Id": image.id,
        "Labels": dict(image.labels),  # docker 20.10 sends null for none; the spec (and docker-py) want an object
        "ParentId": image.parent,
        "RepoDigests": list(image.digests) or (["<none>@<none>"] if image.dangling else []),
        "RepoTags": list(image.tags) or (["<none>:<none>"] if image.dangling else []),
        "SharedSize": -1,
        "Size": image.size,
        "VirtualSize": image.size,
    }


def history_item(item: HistoryItem) -> dict[str, Any]:
    """``HistoryResponseItem`` (``GET /images/{name}/history``)."""
    return {
        "Comment": item.comment,
        "Created": int(item.created.timestamp()) if item.created else 0,
        "CreatedBy": item.created_by,
        "Id": item.id,
        "Size": item.size,
        "Tags": list(item.tags) or None,
    }
