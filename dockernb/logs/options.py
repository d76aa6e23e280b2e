"""``--log-driver`` / ``--log-opt`` validated the way docker's json-file driver does it (layer L2).

``log_settings(...)`` turns a container's LogConfig (plus its labels, env, name and image, which
``labels=``/``env=``/``tag=`` refer to) into :class:`LogSettings`: what the monitor needs to
write the log. Errors carry docker's wording and are raised at create time, as docker does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockernb.errors import InvalidConfig, NotSupported
from dockernb.logs.jsonfile import attrs_json
from dockernb.spec.container import LogConfig

__all__ = ["DRIVERS", "LogSettings", "from_human_size", "log_settings"]

#: the log drivers dockernb has: json-file (docker's default) and none
DRIVERS = ("json-file", "none")

_JSON_FILE_OPTS = {"max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpezy]?)(i?b?)\s*$", re.I)
_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSettings:
    """How the monitor writes one container's log."""

    driver: str = "json-file"
    max_size: int = -1  # bytes; -1 = never rotate
    max_file: int = 1
    #: the precomputed "attrs" object of every entry (labels=, env=, tag=), or ""
    attrs_json: str = ""

    @property
    def readable(self) -> bool:
        return self.driver == "json-file"


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: decimal units (``10m`` = 10,000,000); ValueError with docker's words."""
    m = _SIZE.match(text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _extra_attrs(opts: Mapping[str, str], labels: Mapping[str, str], env: Sequence[str]) -> dict[str, str]:
    """docker's logger.Info.ExtraAttributes: the listed labels and env vars of the container."""
    out: dict[str, str] = {}
    wanted = [k for k in opts.get("labels", "").split(",") if k]
    for key in wanted:
        if key in labels:
            out[key] = labels[key]
    if opts.get("labels-regex"):
        rx = re.compile(opts["labels-regex"])
        out.update({k: v for k, v in labels.items() if rx.match(k)})
    env_map = dict(e.split("=", 1) for e in env if "=" in e)
    for key in [k for k in opts.get("env", "").split(",") if k]:
        if key in env_map:
            out[key] = env_map[key]
    if opts.get("env-regex"):
        rx = re.compile(opts["env-regex"])
        out.update({k: v for k, v in env_map.items() if rx.match(k)})
    return out


def _tag(template: str, *, container_id: str, name: str, image: str, image_id: str) -> str:
    values = {
        "ID": container_id[:12],
        "FullID": container_id,
        "Name": name,
        "ImageID": image_id.split(":", 1)[-1][:12],
        "ImageFullID": image_id,
        "ImageName": image,
        "DaemonName": "dockernb",
    }

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise InvalidConfig(f"template: log-tag:1: can't evaluate field {key} in type *logger.Info")
        return values[key]

    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", sub, template)


def log_settings(
    config: LogConfig,
    *,
    container_id: str = "",
    name: str = "",
    image: str = "",
    image_id: str = "",
    labels: Mapping[str, str] | None = None,
    env: Sequence[str] = (),
) -> LogSettings:
    """Validate ``config`` like docker's json-file driver and compute what the monitor needs.

    Raises InvalidConfig (docker's wording) for an unknown driver or option or a bad value,
    NotSupported for ``compress=true`` (rotated files are kept uncompressed here).
    """
    driver = config.type or "json-file"
    opts = dict(config.config)
    if driver not in DRIVERS:
        raise InvalidConfig(f"logger: no log driver named '{driver}' is registered")
    if driver == "none":
        if opts:
            key = sorted(opts)[0]
            raise InvalidConfig(f"unknown log opt '{key}' for none log driver")
        return LogSettings(driver="none")
    for key in opts:
        if key not in _JSON_FILE_OPTS:
            raise InvalidConfig(f"unknown log opt '{key}' for json-file log driver")
    max_size = -1
    if "max-size" in opts:
        try:
            max_size = from_human_size(opts["max-size"])
        except ValueError as err:
            raise InvalidConfig(str(err)) from None
        if max_size <= 0:
            raise InvalidConfig("max-size must be a positive number")
    max_file = 1
    if "max-file" in opts:
        try:
            max_file = int(opts["max-file"])
        except ValueError:
            raise InvalidConfig(f'strconv.Atoi: parsing "{opts["max-file"]}": invalid syntax') from None
        if max_file < 1:
            raise InvalidConfig("max-file cannot be less than 1")
    if "compress" in opts:
        if opts["compress"] not in ("true", "false", "1", "0", "True", "False"):
            raise InvalidConfig(f'strconv.ParseBool: parsing "{opts["compress"]}": invalid syntax')
        if opts["compress"] in ("true", "1", "True"):
            raise NotSupported("compress=true is not supported by dockernb's json-file driver")
    attrs = _extra_attrs(opts, labels or {}, env)
    if opts.get("tag"):
        attrs["tag"] = _tag(opts["tag"], container_id=container_id, name=name, image=image, image_id=image_id)
    return LogSettings(driver="json-file", max_size=max_size, max_file=max_file, attrs_json=attrs_json(attrs))
