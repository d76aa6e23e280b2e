"""Engine configuration: the state root, registry mirrors and insecure registries (layer L0).

The one place that reads configuration. Sources, lowest precedence first:

1. built-in defaults (root: ``/var/lib/dockernb``; others: ``$XDG_DATA_HOME/dockernb``);
2. a ``daemon.json``-style file with Docker's keys (``data-root``, ``registry-mirrors``,
   ``insecure-registries``), at ``$DOCKERNB_CONFIG`` or, by default, ``/etc/dockernb/daemon.json``
   for root and ``$XDG_CONFIG_HOME/dockernb/daemon.json`` otherwise;
3. the environment: ``DOCKERNB_ROOT``, ``DOCKERNB_REGISTRY_MIRRORS``,
   ``DOCKERNB_INSECURE_REGISTRIES`` (comma- or space-separated lists),
   ``DOCKERNB_IMAGE_STORES`` (extra read-only image stores, like podman's additionalimagestores),
   ``DOCKERNB_STORAGE_DRIVER`` (``storage-driver`` in the file: overlay, fuse-overlayfs, native).

Registry logins are not engine configuration: they live where docker's CLI keeps them,
``$DOCKER_CONFIG/config.json`` else ``~/.docker/config.json`` (``credentials_file``), so that
``docker login`` and ``dockernb login`` share them.

Networking keys (docker's names): ``bip`` (the default bridge's gateway/prefix, e.g.
``10.210.0.1/24``; env ``DOCKERNB_BIP``), ``default-address-pools`` (``[{"base": "10.210.0.0/16",
"size": 24}]``; env ``DOCKERNB_ADDRESS_POOLS`` as ``base/size`` pairs: ``10.210.0.0/16:24``),
``userland-proxy`` (true: published ports go through the proxy even where kernel NAT could;
env ``DOCKERNB_USERLAND_PROXY=1``), and dockernb's ``rootless-network`` (``pasta`` or
``slirp4netns``; env ``DOCKERNB_ROOTLESS_NETWORK``; default: chosen by probe) and
``rootless-host-loopback`` (env ``DOCKERNB_ROOTLESS_HOST_LOOPBACK=1``: rootless containers may
reach the host's 127.0.0.1 through the uplink's gateway; off by default, as in docker).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockernb.errors import InvalidConfig

__all__ = ["Config", "default_config_file", "default_credentials_file", "default_root", "load_config"]


def _xdg(var: str, fallback: str, env: Mapping[str, str]) -> Path:
    value = env.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or os.path.expanduser("~")) / fallback


def default_root(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return Path("/var/lib/dockernb")
    return _xdg("XDG_DATA_HOME", ".local/share", env) / "dockernb"


def default_config_file(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if env.get("DOCKERNB_CONFIG"):
        return Path(env["DOCKERNB_CONFIG"])
    if uid == 0:
        return Path("/etc/dockernb/daemon.json")
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "dockernb" / "daemon.json"


def default_credentials_file(env: Mapping[str, str] | None = None) -> Path:
    """docker's own rule: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".docker" / "config.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """What the engine needs to know before it touches anything."""

    root: Path
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    image_stores: tuple[Path, ...] = ()
    #: snapshotter: "overlay", "fuse-overlayfs", "native"; "" = the best this machine supports
    storage_driver: str = ""
    rootless: bool = False
    config_file: Path | None = None
    #: docker's config.json holding registry logins (None: default_credentials_file() at use)
    credentials_file: Path | None = None
    #: where each value came from ("default", "file", "env"), for `dockernb info`
    sources: Mapping[str, str] = field(default_factory=dict)
    #: the default bridge's gateway address with its prefix ("" = first free subnet of the pools)
    bip: str = ""
    #: (base, size) pools that bridge networks take their subnets from ("" = dockernb's default)
    address_pools: tuple[tuple[str, int], ...] = ()
    #: publish ports through the userspace proxy even where kernel NAT could serve them
    userland_proxy: bool = False
    #: rootless uplink: "pasta", "slirp4netns" or "" (chosen by probe)
    rootless_network: str = ""
    #: rootless: let containers reach the host's loopback through the uplink's gateway (off, as in docker)
    rootless_host_loopback: bool = False


def _split(value: str) -> tuple[str, ...]:
    return tuple(p for p in re.split(r"[,\s]+", value.strip()) if p)


def _mirror(url: str) -> str:
    # docker accepts mirrors only as URLs; a bare host:port is a common slip, so take it as http
    if "://" not in url:
        url = "http://" + url
    if not re.match(r"^https?://[^/\s]+/?$", url):
        raise InvalidConfig(f"invalid mirror: {url!r} (want scheme://host[:port])")
    return url.rstrip("/")


def _list_of_str(data: Mapping[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidConfig(f"{path}: {key!r} must be a list of strings")
    return tuple(str(v) for v in value)


def load_config(env: Mapping[str, str] | None = None, uid: int | None = None) -> Config:
    """Read the configuration (environment wins over the file, the file over defaults).

    Raises:
        InvalidConfig: the file is not valid JSON or a value has the wrong shape.
    """
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    sources: dict[str, str] = {"root": "default", "registry-mirrors": "default", "insecure-registries": "default"}

    path = default_config_file(env, uid)
    data: dict[str, object] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InvalidConfig(f"unable to configure the engine: {path}: {err}") from err
        if not isinstance(loaded, dict):
            raise InvalidConfig(f"unable to configure the engine: {path}: not a JSON object")
        data = loaded

    root = default_root(env, uid)
    if "data-root" in data:
        value = data["data-root"]
        if not isinstance(value, str) or not os.path.isabs(value):
            raise InvalidConfig(f"{path}: 'data-root' must be an absolute path")
        root, sources["root"] = Path(value), "file"
    mirrors = _list_of_str(data, "registry-mirrors", path)
    if mirrors:
        sources["registry-mirrors"] = "file"
    insecure = _list_of_str(data, "insecure-registries", path)
    if insecure:
        sources["insecure-registries"] = "file"

    if env.get("DOCKERNB_ROOT"):
        if not os.path.isabs(env["DOCKERNB_ROOT"]):
            raise InvalidConfig("DOCKERNB_ROOT must be an absolute path")
        root, sources["root"] = Path(env["DOCKERNB_ROOT"]), "env"
    if "DOCKERNB_REGISTRY_MIRRORS" in env:
        mirrors, sources["registry-mirrors"] = _split(env["DOCKERNB_REGISTRY_MIRRORS"]), "env"
    if "DOCKERNB_INSECURE_REGISTRIES" in env:
        insecure, sources["insecure-registries"] = _split(env["DOCKERNB_INSECURE_REGISTRIES"]), "env"
    stores = tuple(Path(p) for p in _split(env.get("DOCKERNB_IMAGE_STORES", "")))
    driver = data.get("storage-driver", "")
    if not isinstance(driver, str):
        raise InvalidConfig(f"{path}: 'storage-driver' must be a string")
    driver = env.get("DOCKERNB_STORAGE_DRIVER") or driver
    net = _network_settings(data, env, path)

    return Config(
        root=root,
        registry_mirrors=tuple(_mirror(m) for m in mirrors),
        insecure_registries=insecure,
        image_stores=stores,
        storage_driver=driver,
        rootless=uid != 0,
        config_file=path if path.is_file() else None,
        credentials_file=default_credentials_file(env),
        sources=sources,
        **net,
    )


def _network_settings(data: Mapping[str, object], env: Mapping[str, str], path: Path) -> dict[str, Any]:
    bip = data.get("bip", "")
    if not isinstance(bip, str):
        raise InvalidConfig(f"{path}: 'bip' must be a string like 10.210.0.1/24")
    bip = env.get("DOCKERNB_BIP", bip)
    pools: list[tuple[str, int]] = []
    raw_pools = data.get("default-address-pools", [])
    if not isinstance(raw_pools, list):
        raise InvalidConfig(f"{path}: 'default-address-pools' must be a list of {{base, size}} objects")
    for item in raw_pools:
        if not isinstance(item, dict) or not isinstance(item.get("base"), str) or not isinstance(item.get("size"), int):
            raise InvalidConfig(f"{path}: 'default-address-pools' entries need a string base and an integer size")
        pools.append((item["base"], item["size"]))
    if env.get("DOCKERNB_ADDRESS_POOLS"):
        pools = []
        for part in _split(env["DOCKERNB_ADDRESS_POOLS"]):
            base, _, bits = part.rpartition(":")
            if not base or not bits.isdigit():
                raise InvalidConfig(f"DOCKERNB_ADDRESS_POOLS: {part!r} is not BASE/PREFIX:SIZE")
            pools.append((base, int(bits)))
    for base, size in pools:
        try:
            net = ipaddress.ip_network(base)
        except ValueError as err:
            raise InvalidConfig(f"address pool {base!r}: {err}") from None
        if net.version != 4 or not net.prefixlen <= size <= 30:
            raise InvalidConfig(f"address pool {base}: size {size} must be between /{net.prefixlen} and /30 (IPv4)")
    if bip:
        try:
            ipaddress.ip_interface(bip)
        except ValueError as err:
            raise InvalidConfig(f"bip {bip!r}: {err}") from None
    proxy = data.get("userland-proxy", False)
    if not isinstance(proxy, bool):
        raise InvalidConfig(f"{path}: 'userland-proxy' must be true or false")
    if "DOCKERNB_USERLAND_PROXY" in env:
        proxy = env["DOCKERNB_USERLAND_PROXY"].lower() in ("1", "true", "yes")
    uplink = data.get("rootless-network", "")
    uplink = env.get("DOCKERNB_ROOTLESS_NETWORK", uplink if isinstance(uplink, str) else "")
    if uplink not in ("", "pasta", "slirp4netns"):
        raise InvalidConfig(f"rootless-network {uplink!r}: want pasta or slirp4netns")
    loopback = data.get("rootless-host-loopback", False)
    if "DOCKERNB_ROOTLESS_HOST_LOOPBACK" in env:
        loopback = env["DOCKERNB_ROOTLESS_HOST_LOOPBACK"].lower() in ("1", "true", "yes")
    return {"bip": bip, "address_pools": tuple(pools), "userland_proxy": proxy, "rootless_network": uplink,
            "rootless_host_loopback": bool(loopback)}
