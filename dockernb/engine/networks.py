"""NetworkService: ``docker network create/ls/inspect/rm/connect/disconnect/prune`` (layer L6).

A thin layer over :class:`dockernb.network.manager.Networks` (the container service's, so both
share one manager per engine): names of containers are resolved here, and the Network JSON is
built in docker 20.10's shape.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dockernb.errors import InvalidFilter

if TYPE_CHECKING:
    from dockernb.engine.containers import ContainerService
    from dockernb.network.records import NetworkRecord

__all__ = ["NETWORK_FILTERS", "NetworkService", "network_inspect"]

NETWORK_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")


def network_inspect(net: NetworkRecord, containers: Mapping[str, Any]) -> dict[str, Any]:
    """docker's Network JSON (``network inspect``, ``GET /networks/{id}``)."""
    ipam = [{"Subnet": net.subnet, "Gateway": net.gateway}] if net.subnet else []
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if net.predefined else {}, "Config": ipam},
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": dict(containers),
        "Options": dict(net.options),
        "Labels": dict(net.labels),
    }


class NetworkService:
    """Like docker's network API: ``engine.networks.create("web")``, ``.list()``, ``.connect("web", "c1")``."""

    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers

    @property
    def _nets(self) -> Any:  # noqa: ANN401 - the manager (imported on first use)
        return self.containers.networks

    def create(self, name: str, *, driver: str = "bridge", subnet: str = "", gateway: str = "",
               internal: bool = False, attachable: bool = False, labels: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None) -> NetworkRecord:
        """Like ``docker network create``. Raises NetworkExists, NoSuchNetworkDriver, SubnetUnavailable."""
        rec: NetworkRecord = self._nets.create(name, driver=driver, subnet=subnet, gateway=gateway,
                                               internal=internal, attachable=attachable, labels=dict(labels or {}),
                                               options=dict(options or {}))
        self._event(rec, "create")
        return rec

    def get(self, name_or_id: str) -> NetworkRecord:
        """Raises NoSuchNetwork."""
        rec: NetworkRecord = self._nets.get(name_or_id)
        return rec

    def list(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> builtins.list[NetworkRecord]:  # noqa: A003
        """Like ``docker network ls`` (by name). Raises InvalidFilter."""
        filters = filters or {}
        for key in filters:
            if key not in NETWORK_FILTERS:
                raise InvalidFilter(key)
        out = []
        for net in self._nets.networks():
            if "name" in filters and not any(v in net.name for v in filters["name"]):
                continue
            if "id" in filters and not any(net.id.startswith(v) for v in filters["id"]):
                continue
            if "driver" in filters and net.driver not in filters["driver"]:
                continue
            if "type" in filters:
                kind = "builtin" if net.predefined else "custom"
                if kind not in filters["type"]:
                    continue
            if "label" in filters and not all(_label(v, net.labels) for v in filters["label"]):
                continue
            out.append(net)
        return out

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        """The Network JSON. Raises NoSuchNetwork."""
        net = self.get(name_or_id)
        containers = {}
        for ep in self._nets.endpoints(net.id):
            containers[ep.container_id] = {"Name": ep.name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                                           "IPv4Address": f"{ep.ip}/{ep.prefix}" if ep.ip else "",
                                           "IPv6Address": ""}
        return network_inspect(net, containers)

    def remove(self, name_or_id: str) -> NetworkRecord:
        """Like ``docker network rm``. Raises NoSuchNetwork, NetworkPredefined, NetworkInUse."""
        rec: NetworkRecord = self._nets.remove(name_or_id)
        self._event(rec, "destroy")
        return rec

    def prune(self) -> builtins.list[str]:
        """Like ``docker network prune``: the names removed."""
        before = {net.name: net for net in self._nets.networks()}
        names: builtins.list[str] = self._nets.prune()
        for name in names:
            if name in before:
                self._event(before[name], "destroy")
        return names

    def connect(self, network: str, container: str, *, aliases: Sequence[str] = (), ipv4_address: str = "") -> None:
        """Like ``docker network connect`` (a running container). Raises NoSuchNetwork, NoSuchContainer,
        EndpointExists, NotConnected."""
        cid = self.containers.resolve(container)
        self._nets.connect(network, cid, aliases=tuple(aliases), ipv4_address=ipv4_address)
        self._event(self.get(network), "connect", container=cid)

    def disconnect(self, network: str, container: str, *, force: bool = False) -> None:
        """Like ``docker network disconnect``. Raises NoSuchNetwork, NoSuchContainer, NotConnected."""
        cid = self.containers.resolve(container)
        rec = self.get(network)
        self._nets.disconnect(network, cid, force=force)
        self._event(rec, "disconnect", container=cid)

    def _event(self, rec: NetworkRecord, action: str, **extra: str) -> None:
        """A network event as dockerd logs it (``name``, ``type``, and the container for (dis)connect)."""
        attrs = {**extra, "name": rec.name, "type": rec.driver}
        self.containers.event_log.emit("network", action, rec.id, attrs)


def _label(wanted: str, labels: Mapping[str, str]) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)
