"""Network, endpoint and sandbox records and where they live on disk (layer L3).

Three kinds of record, all JSON written atomically under ``Layout.networks``::

    <root>/networks/<network id>/network.json                 one network (docker's network object)
    <root>/networks/<network id>/endpoints/<container id>.json one container's attachment to it
    <root>/networks/sandboxes/<container id>.json             one container's network namespace plan,
                                                              its published ports and its live pid
    <root>/networks/generation                                touched on every change (the DNS
                                                              responder reloads when it moves)

Every mutation happens under one lock (``Layout.lock("networks")``): network create/remove,
address allocation and release, connect and disconnect. The records are plain data; the
drivers give them meaning.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockernb.spec.ports import PortBinding
from dockernb.store.atomic import read_json, write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["EndpointRecord", "NetworkRecord", "NetworkStore", "SandboxRecord", "new_id"]

SCHEMA = 1


def new_id() -> str:
    return secrets.token_hex(32)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(slots=True, kw_only=True)
class NetworkRecord:
    """One network, as ``network create`` made it (or a predefined one: bridge, host, none)."""

    id: str
    name: str
    driver: str  # "bridge", "host", "null"
    subnet: str = ""  # "10.210.1.0/24"; empty for host and null
    gateway: str = ""
    bridge: str = ""  # the Linux bridge's name
    internal: bool = False
    attachable: bool = False
    predefined: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    schema_version: int = SCHEMA

    @property
    def user_defined(self) -> bool:
        """Names resolve between containers only on user-defined networks (as in docker)."""
        return not self.predefined


@dataclass(slots=True, kw_only=True)
class EndpointRecord:
    """One container's attachment to one bridge network."""

    network_id: str
    container_id: str
    endpoint_id: str
    name: str  # the container's name: its DNS name on user-defined networks
    aliases: list[str] = field(default_factory=list)
    ip: str = ""
    prefix: int = 0
    gateway: str = ""
    mac: str = ""
    ifname: str = "eth0"  # inside the container
    host_ifname: str = ""  # the host (or hub) end of the veth
    schema_version: int = SCHEMA


@dataclass(slots=True, kw_only=True)
class SandboxRecord:
    """One container's network namespace: how it was made, its networks, ports and live pid.

    ``kind`` is the network mode's family: "none", "host", "container" (sharing
    ``joined``'s namespace) or "bridge" (one or more bridge networks, ``networks[0]`` first).
    """

    container_id: str
    name: str
    hostname: str
    kind: str
    networks: list[str] = field(default_factory=list)
    joined: str = ""  # container id whose namespace this one shares
    ports: list[PortBinding] = field(default_factory=list)
    exposed: list[tuple[int, str]] = field(default_factory=list)
    netns_mode: str = "new"  # "new", "host", "join"
    netns_path: str = ""  # for "join"
    userns_path: str = ""  # rootless: the user namespace the container lives in
    files_dir: str = ""  # holds hosts, resolv.conf, hostname
    pid: int = 0  # the container's init, once attached
    pid_start: int = 0
    owner_pid: int = 0  # the engine process between create_sandbox and attach
    owner_start: int = 0
    nat: bool = False  # kernel DNAT entries installed for ports
    proxied: bool = False  # netd serves (or holds) host ports for it
    boot_id: str = ""
    created: str = field(default_factory=_now)
    schema_version: int = SCHEMA

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ports"] = [p.to_json() for p in self.ports]
        data["exposed"] = [list(e) for e in self.exposed]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxRecord:
        data = dict(data)
        data["ports"] = [PortBinding.from_json(p) for p in data.get("ports", [])]
        data["exposed"] = [(int(p), str(proto)) for p, proto in data.get("exposed", [])]
        return cls(**data)


class NetworkStore:
    """Reads and writes the records; callers hold :meth:`lock` around read-modify-write."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.dir = layout.networks

    def lock(self, timeout: float | None = 30.0) -> FileLock:
        return FileLock(self.layout.lock("networks"), timeout=timeout)

    def ensure(self) -> None:
        (self.dir / "sandboxes").mkdir(parents=True, exist_ok=True, mode=0o700)

    def touch_generation(self) -> None:
        path = self.dir / "generation"
        path.write_text(str(os.getpid()))  # the content does not matter; the mtime does

    # --- networks ---------------------------------------------------------------------

    def _net_file(self, network_id: str) -> Path:
        return self.dir / network_id / "network.json"

    def networks(self) -> list[NetworkRecord]:
        out = []
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.is_dir() and len(entry.name) == 64:
                try:
                    out.append(NetworkRecord(**read_json(Path(entry.path) / "network.json")))
                except (FileNotFoundError, ValueError, TypeError):
                    continue  # half-created or removed meanwhile
        return sorted(out, key=lambda n: n.name)

    def find(self, name_or_id: str) -> NetworkRecord | None:
        """docker's lookup order: full id, exact name, then a unique id prefix."""
        nets = self.networks()
        for n in nets:
            if n.id == name_or_id:
                return n
        for n in nets:
            if n.name == name_or_id:
                return n
        hits = [n for n in nets if name_or_id and n.id.startswith(name_or_id)]
        return hits[0] if len(hits) == 1 else None

    def save_network(self, net: NetworkRecord) -> None:
        (self.dir / net.id / "endpoints").mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(self._net_file(net.id), asdict(net), sync=False)

    def delete_network(self, network_id: str) -> None:
        base = self.dir / network_id
        for p in (base / "endpoints").glob("*.json"):
            p.unlink(missing_ok=True)
        for p in (self._net_file(network_id), base / "endpoints", base):
            try:
                p.rmdir() if p.is_dir() else p.unlink()
            except FileNotFoundError:
                pass

    # --- endpoints --------------------------------------------------------------------

    def endpoints(self, network_id: str) -> list[EndpointRecord]:
        out = []
        for p in sorted((self.dir / network_id / "endpoints").glob("*.json")):
            try:
                out.append(EndpointRecord(**read_json(p)))
            except (FileNotFoundError, ValueError, TypeError):
                continue
        return out

    def endpoint(self, network_id: str, container_id: str) -> EndpointRecord | None:
        try:
            return EndpointRecord(**read_json(self.dir / network_id / "endpoints" / f"{container_id}.json"))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save_endpoint(self, ep: EndpointRecord) -> None:
        d = self.dir / ep.network_id / "endpoints"
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(d / f"{ep.container_id}.json", asdict(ep), sync=False)

    def delete_endpoint(self, network_id: str, container_id: str) -> None:
        (self.dir / network_id / "endpoints" / f"{container_id}.json").unlink(missing_ok=True)

    # --- sandboxes --------------------------------------------------------------------

    def sandbox(self, container_id: str) -> SandboxRecord | None:
        try:
            return SandboxRecord.from_json(read_json(self.dir / "sandboxes" / f"{container_id}.json"))
        except (FileNotFoundError, ValueError, TypeError, KeyError):
            return None

    def sandboxes(self) -> Iterator[SandboxRecord]:
        for p in sorted((self.dir / "sandboxes").glob("*.json")):
            try:
                yield SandboxRecord.from_json(read_json(p))
            except (FileNotFoundError, ValueError, TypeError, KeyError):
                continue

    def save_sandbox(self, sb: SandboxRecord) -> None:
        self.ensure()
        write_json(self.dir / "sandboxes" / f"{sb.container_id}.json", sb.to_json(), sync=False)

    def delete_sandbox(self, container_id: str) -> None:
        (self.dir / "sandboxes" / f"{container_id}.json").unlink(missing_ok=True)

    # --- small state files --------------------------------------------------------------

    def state(self, name: str) -> dict[str, Any]:
        try:
            data = read_json(self.dir / f"{name}.json")
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_state(self, name: str, data: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(self.dir / f"{name}.json", data, sync=False)

    def dump(self) -> str:
        """Everything, for debugging a failed test."""
        return json.dumps({"networks": [asdict(n) for n in self.networks()],
                           "sandboxes": [s.to_json() for s in self.sandboxes()]}, indent=1)
