"""The three drivers without a bridge: none, host and container:<id> (layer L3).

* ``none``: a new namespace with only ``lo`` (brought up at attach, as docker does);
* ``host``: the host's namespace (rootless: still the host's, whose interfaces the container's
  user namespace cannot configure); ports are discarded with docker's warning;
* ``container:<id>``: the runtime joins the other container's namespace (and, rootless, its
  user namespace); the files are the other container's; ports are refused as docker does.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from dockernb.errors import InvalidNetworkMode
from dockernb.linux import netns
from dockernb.linux.netlink import NETLINK_ROUTE, Netlink
from dockernb.network.base import NamespacePlan, NetnsMode, SandboxRequest
from dockernb.network.ports import Reservation, release
from dockernb.network.records import EndpointRecord, NetworkRecord, NetworkStore, SandboxRecord

__all__ = ["ContainerDriver", "HostDriver", "NoneDriver", "loopback_up"]

HOST_NETWORK_PORTS_WARNING = "Published ports are discarded when using host network mode"


def loopback_up(pid: int) -> None:
    """Bring ``lo`` up inside /proc/PID/ns/net (from the container's own user namespace when rootless)."""
    userns = None
    if os.geteuid() != 0:
        userns = f"/proc/{pid}/ns/user"
    [sock] = netns.sockets_in(f"/proc/{pid}/ns/net", [(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)],
                              userns=userns)
    sock.bind((0, 0))
    with Netlink(sock) as nl:
        nl.set_link(1, up=True)


class _Namespaced:
    """Nothing to publish, tear down or restore: the namespace is all there is."""

    network_name = ""

    def __init__(self, store: NetworkStore) -> None:
        self.store = store

    def publish_ports(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        release(reserved)

    def teardown(self, sb: SandboxRecord) -> None:
        pass

    def restore(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        release(reserved)

    def inspect(self, sb: SandboxRecord) -> list[tuple[NetworkRecord, EndpointRecord | None]]:
        return [(n, None) for n in self.store.networks() if n.name == self.network_name]


class NoneDriver(_Namespaced):
    network_name = "none"

    def create_sandbox(self, sb: SandboxRecord, req: SandboxRequest) -> NamespacePlan:
        return NamespacePlan(mode=NetnsMode.NEW)

    def attach(self, sb: SandboxRecord, pid: int) -> None:
        loopback_up(pid)


class HostDriver(_Namespaced):
    network_name = "host"

    def create_sandbox(self, sb: SandboxRecord, req: SandboxRequest) -> NamespacePlan:
        return NamespacePlan(mode=NetnsMode.HOST)

    def attach(self, sb: SandboxRecord, pid: int) -> None:
        pass


class ContainerDriver(_Namespaced):
    def create_sandbox(self, sb: SandboxRecord, req: SandboxRequest) -> NamespacePlan:
        if req.ports or req.publish_all:
            raise InvalidNetworkMode("conflicting options: port publishing and the container type network mode")
        if req.joined_pid <= 0 or not Path(f"/proc/{req.joined_pid}/ns/net").exists():
            joined = req.network_mode.partition(":")[2]
            raise InvalidNetworkMode(f"cannot join network of a non running container: {joined}")
        userns = f"/proc/{req.joined_pid}/ns/user" if os.geteuid() != 0 else ""
        sb.netns_path, sb.userns_path = f"/proc/{req.joined_pid}/ns/net", userns
        return NamespacePlan(mode=NetnsMode.JOIN, path=sb.netns_path, userns_path=userns)

    def attach(self, sb: SandboxRecord, pid: int) -> None:
        pass

    def inspect(self, sb: SandboxRecord) -> list[tuple[NetworkRecord, EndpointRecord | None]]:
        return []
