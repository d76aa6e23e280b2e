"""Engine API JSON (inspect, list) as the engine's records, which ``present`` renders as ours (layer L7.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dockernb.engine.containers.types import Container
from dockernb.engine.image_types import Image
from dockernb.spec.container import ContainerConfig, ContainerRecord
from dockernb.spec.oci import ImageConfig
from dockernb.spec.ports import PortBinding
from dockernb.spec.status import ContainerState, ContainerStatus

__all__ = ["api_time", "container_from_inspect", "image_from_inspect", "image_from_summary"]


def api_time(text: str | int | None) -> datetime | None:
    """RFC3339Nano (or epoch seconds) as an aware datetime; docker's zero time is None."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return datetime.fromtimestamp(text, UTC)
    if text.startswith("0001-01-01"):
        return None
    main, _, frac = text.rstrip("Z").partition(".")
    offset = ""
    for sign in ("+", "-"):
        if sign in frac:
            frac, offset = frac.split(sign, 1)[0], sign + frac.split(sign, 1)[1]
    if not frac and ("+" in main[10:] or main[10:].count("-")):
        cut = max(main.rfind("+"), main.rfind("-"))
        main, offset = main[:cut], main[cut:]
    stamp = main + (f".{frac[:6].ljust(6, '0')}" if frac else "") + (offset or "+00:00")
    return datetime.fromisoformat(stamp).astimezone(UTC)


def _ports(data: dict[str, Any]) -> tuple[PortBinding, ...]:
    out: list[PortBinding] = []
    for key, binds in ((data.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for b in binds or []:
            host_ip, host_port = b.get("HostIp") or "0.0.0.0", int(b.get("HostPort") or 0)
            out.append(PortBinding(int(port), proto or "tcp", host_ip, host_port))
    return tuple(out)


def container_from_inspect(data: dict[str, Any]) -> Container:
    """``GET /containers/{id}/json`` as a :class:`~dockernb.engine.containers.types.Container`."""
    cfg = data.get("Config") or {}
    entry = cfg.get("Entrypoint")
    config = ContainerConfig(
        image=str(cfg.get("Image") or data.get("Image") or ""), cmd=tuple(cfg.get("Cmd") or ()),
        entrypoint=tuple(entry) if entry else None, env=tuple(cfg.get("Env") or ()),
        working_dir=cfg.get("WorkingDir") or "", user=cfg.get("User") or "", hostname=cfg.get("Hostname") or "",
        labels=dict(cfg.get("Labels") or {}), tty=bool(cfg.get("Tty")), open_stdin=bool(cfg.get("OpenStdin")),
        exposed_ports=tuple(cfg.get("ExposedPorts") or ()),
    )  # fmt: skip
    record = ContainerRecord(
        id=data["Id"], name=str(data.get("Name") or "").lstrip("/"),
        created=api_time(data.get("Created")) or datetime.now(UTC), config=config, image_id=data.get("Image") or "",
        path=data.get("Path") or "", args=tuple(data.get("Args") or ()), driver=data.get("Driver") or "",
    )  # fmt: skip
    st = data.get("State") or {}
    try:
        status = ContainerStatus(st.get("Status") or "created")
    except ValueError:
        status = ContainerStatus.EXITED  # podman's "stopped" and "configured"
    state = ContainerState(
        status=status, pid=int(st.get("Pid") or 0), exit_code=int(st.get("ExitCode") or 0),
        error=st.get("Error") or "", oom_killed=bool(st.get("OOMKilled")), started_at=api_time(st.get("StartedAt")),
        finished_at=api_time(st.get("FinishedAt")), restart_count=int(data.get("RestartCount") or 0),
    )  # fmt: skip
    return Container(record=record, state=state, ports=_ports(data))


def _names(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v for v in values or () if not v.startswith("<none>"))


def image_from_summary(data: dict[str, Any]) -> Image:
    """One ``GET /images/json`` row."""
    return Image(
        id=data["Id"], tags=_names(data.get("RepoTags")), digests=_names(data.get("RepoDigests")),
        created=api_time(data.get("Created")), size=int(data.get("Size") or 0), parent=data.get("ParentId") or "",
        labels=dict(data.get("Labels") or {}), config=ImageConfig(architecture="", os=""), diff_ids=(), top_chain="",
    )  # fmt: skip


def image_from_inspect(data: dict[str, Any]) -> Image:
    """``GET /images/{name}/json``."""
    cfg = data.get("Config") or {}
    return Image(
        id=data["Id"], tags=_names(data.get("RepoTags")), digests=_names(data.get("RepoDigests")),
        created=api_time(data.get("Created")), size=int(data.get("Size") or 0), parent=data.get("Parent") or "",
        labels=dict(cfg.get("Labels") or {}),
        config=ImageConfig(architecture=data.get("Architecture") or "", os=data.get("Os") or ""),
        diff_ids=(), top_chain="",
    )  # fmt: skip
