"""The image config a build writes, in docker's JSON shape (layer L5).

A build step turns its parent's config into a child: a new ``config`` (docker's container
config: Env, Cmd, WorkingDir...), one more ``history`` entry, and one more ``rootfs.diff_ids``
entry when the step changed the filesystem. The image id is the sha256 of these bytes.

Only what a build reads and writes is modelled; unknown keys of a base image's config are
kept (``extra``) so a child never drops what its parent carried.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_SHELL",
    "History",
    "ImageDoc",
    "RunConfig",
    "format_created",
    "image_id_of",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")


def format_created(when: datetime) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's time.RFC3339Nano prints UTC."""
    when = when.astimezone(UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{when.microsecond:06d}000".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


@dataclass(slots=True)
class RunConfig:
    """docker's container.Config as stored in an image (what a step changes)."""

    user: str = ""
    exposed_ports: dict[str, dict[str, Any]] | None = None
    env: list[str] | None = None
    cmd: list[str] | None = None
    healthcheck: dict[str, Any] | None = None
    args_escaped: bool = False
    image: str = ""
    volumes: dict[str, dict[str, Any]] | None = None
    working_dir: str = ""
    entrypoint: list[str] | None = None
    on_build: list[str] | None = None
    labels: dict[str, str] | None = None
    stop_signal: str = ""
    shell: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> RunConfig:
        return copy.deepcopy(self)

    # -- env helpers --------------------------------------------------------------------

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env or ():
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def set_env(self, key: str, value: str) -> None:
        env = list(self.env or [])
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.env = env

    def get_shell(self) -> list[str]:
        return list(self.shell) if self.shell else list(DEFAULT_SHELL)

    # -- JSON ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """docker's field order and omitempty rules (api/types/container.Config)."""
        out: dict[str, Any] = {
            "Hostname": "",
            "Domainname": "",
            "User": self.user,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
        }
        if self.exposed_ports:
            out["ExposedPorts"] = self.exposed_ports
        out.update({"Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": self.env, "Cmd": self.cmd})
        if self.healthcheck:
            out["Healthcheck"] = self.healthcheck
        if self.args_escaped:
            out["ArgsEscaped"] = True
        out.update(
            {
                "Image": self.image,
                "Volumes": self.volumes,
                "WorkingDir": self.working_dir,
                "Entrypoint": self.entrypoint,
                "OnBuild": self.on_build,
                "Labels": self.labels,
            }
        )
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.shell:
            out["Shell"] = self.shell
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunConfig:
        data = dict(data or {})
        known = {
            "User": "user",
            "ExposedPorts": "exposed_ports",
            "Env": "env",
            "Cmd": "cmd",
            "Healthcheck": "healthcheck",
            "ArgsEscaped": "args_escaped",
            "Image": "image",
            "Volumes": "volumes",
            "WorkingDir": "working_dir",
            "Entrypoint": "entrypoint",
            "OnBuild": "on_build",
            "Labels": "labels",
            "StopSignal": "stop_signal",
            "Shell": "shell",
        }
        values: dict[str, Any] = {}
        for key, attr in known.items():
            if key in data and data[key] is not None:
                values[attr] = copy.deepcopy(data.pop(key))
            else:
                data.pop(key, None)
        for transient in (
            "Hostname",
            "Domainname",
            "AttachStdin",
            "AttachStdout",
            "AttachStderr",
            "Tty",
            "OpenStdin",
            "StdinOnce",
        ):
            data.pop(transient, None)
        return cls(**values, extra=data)


@dataclass(slots=True, kw_only=True)
class History:
    created: str
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": self.created}
        if self.author:
            out["author"] = self.author
        if self.created_by:
            out["created_by"] = self.created_by
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        return cls(
            created=str(data.get("created", "")),
            created_by=str(data.get("created_by", "")),
            author=str(data.get("author", "")),
            comment=str(data.get("comment", "")),
            empty_layer=bool(data.get("empty_layer", False)),
        )


@dataclass(slots=True, kw_only=True)
class ImageDoc:
    """An image config (``application/vnd.oci.image.config.v1+json`` / docker's image JSON)."""

    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    config: RunConfig = field(default_factory=RunConfig)
    container: str = ""
    container_config: RunConfig | None = None
    created: str = ""
    docker_version: str = ""
    author: str = ""
    diff_ids: list[str] = field(default_factory=list)
    history: list[History] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> ImageDoc:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """Top-level keys sorted, as docker's image.MarshalJSON writes them."""
        out: dict[str, Any] = dict(self.extra)
        out["architecture"] = self.architecture
        if self.author:
            out["author"] = self.author
        out["config"] = self.config.to_json()
        if self.container:
            out["container"] = self.container
        if self.container_config is not None:
            out["container_config"] = self.container_config.to_json()
        if self.created:
            out["created"] = self.created
        if self.docker_version:
            out["docker_version"] = self.docker_version
        out["history"] = [h.to_json() for h in self.history]
        out["os"] = self.os
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        if self.variant:
            out["variant"] = self.variant
        return dict(sorted(out.items()))

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageDoc:
        data = dict(data)
        rootfs = data.pop("rootfs", None) or {}
        cc = data.pop("container_config", None)
        return cls(
            architecture=str(data.pop("architecture", "amd64") or "amd64"),
            os=str(data.pop("os", "linux") or "linux"),
            variant=str(data.pop("variant", "") or ""),
            config=RunConfig.from_json(data.pop("config", None)),
            container=str(data.pop("container", "") or ""),
            container_config=RunConfig.from_json(cc) if cc else None,
            created=str(data.pop("created", "") or ""),
            docker_version=str(data.pop("docker_version", "") or ""),
            author=str(data.pop("author", "") or ""),
            diff_ids=[str(d) for d in rootfs.get("diff_ids") or ()],
            history=[History.from_json(h) for h in data.pop("history", None) or ()],
            extra=data,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> ImageDoc:
        return cls.from_json(json.loads(raw))


def image_id_of(raw: bytes) -> str:
    """docker's image id: the sha256 of the config bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()
