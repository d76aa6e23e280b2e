"""The network driver seam and the values that cross it (layer L3).

Glossary (docker's words):

* **sandbox**: one container's network namespace and what is in it (interfaces, routes,
  /etc/hosts, resolv.conf, published ports). A sandbox belongs to one container; containers
  sharing a namespace (``--network container:web``) share web's sandbox.
* **endpoint**: one container's attachment to one network (an address on its bridge).
* **network mode**: ``none``, ``host``, ``container:<id>``, ``bridge`` (the default network) or
  the name or id of a user-defined network.

Lifecycle, driven by the engine for every container start (the runtime knows nothing about
networks)::

    plan = networks.create_sandbox(request)   # validate; allocate addresses; bind host ports;
                                              # write hosts/resolv.conf/hostname -> NamespacePlan
    pid = runtime.create(..., netns=plan)     # namespaces made, init blocked before exec
    networks.attach(container_id, pid)        # veth/lo plumbed into /proc/PID/ns/net, ports published
    runtime.start(...)
    ...                                       # container exits (or engine stop/rm)
    networks.teardown(container_id)           # idempotent; also what reconcile() does for the dead

Why "attach to the init's pid" rather than a namespace made beforehand: rootless, the network
namespace must be owned by the user namespace the container lives in, which the runtime makes
(or joins); a namespace prepared earlier would be owned by another one, and the veth into it
fails with EPERM. Attaching to /proc/PID/ns/net works the same as root, and a crash can leave
nothing behind: the kernel removes the veth with the namespace when the container's last
process exits, so nothing needs a bind-mounted /run/.../netns file that could leak.

A failure in ``create_sandbox`` or ``attach`` leaves nothing behind once the engine calls
``teardown`` (which it must do on any failure after ``create_sandbox`` returned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from dockernb.network.ports import Reservation
from dockernb.network.records import EndpointRecord, NetworkRecord, SandboxRecord
from dockernb.spec.ports import PortBinding, PortMapping

__all__ = [
    "EndpointRequest",
    "NamespacePlan",
    "NetnsMode",
    "NetworkDriver",
    "Sandbox",
    "SandboxRequest",
]


class NetnsMode(StrEnum):
    """How the runtime gets the container's network namespace (OCI ``linux.namespaces``)."""

    NEW = "new"  # {"type": "network"}: a new, empty namespace (the driver plumbs it at attach)
    HOST = "host"  # no network entry: the host's namespace
    JOIN = "join"  # {"type": "network", "path": plan.path}: another container's namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespacePlan:
    """What the runtime must do about the network (and, rootless, the user) namespace.

    ``userns_path``, when set (rootless bridge networks), is the user namespace the container
    must live in: join it (``{"type": "user", "path": ...}``, no id maps of its own) or create
    its user namespace as a child of it. Otherwise the runtime makes its user namespace as usual.
    """

    mode: NetnsMode
    path: str = ""
    userns_path: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRequest:
    """A network to attach to besides the primary one (``network connect`` before start)."""

    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxRequest:
    """Everything ``run``/``create`` flags say about the network of one container."""

    container_id: str
    name: str  # without the leading "/"
    hostname: str
    files_dir: Path  # where hosts, resolv.conf and hostname are written (the container's dir)
    network_mode: str = "bridge"  # "bridge", "host", "none", "container:<id>", or a network name/id
    joined_pid: int = 0  # container mode: the joined container's init pid (the engine resolves NAME)
    joined_files_dir: Path | None = None  # container mode: its hosts/resolv.conf are shared
    aliases: tuple[str, ...] = ()  # --network-alias, on the primary network
    ipv4_address: str = ""  # --ip
    extra_networks: tuple[EndpointRequest, ...] = ()
    ports: tuple[PortMapping, ...] = ()  # -p
    publish_all: bool = False  # -P
    exposed: tuple[tuple[int, str], ...] = ()  # EXPOSE and --expose, (port, proto)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host name:ip
    domainname: str = ""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What ``create_sandbox`` answers: the plan for the runtime and the files to bind-mount."""

    container_id: str
    plan: NamespacePlan
    hosts_path: str
    resolv_path: str
    hostname_path: str
    ports: tuple[PortBinding, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


class NetworkDriver(Protocol):
    """Plumbs sandboxes for one family of network modes (none, host, container, bridge).

    The manager (``Networks``) owns the records and the lock: a driver is called with the lock
    held and mutates the ``SandboxRecord`` it is given, which the manager then saves.
    ``teardown`` is idempotent and safe after a crash (the container may be gone already).
    The bridge driver adds ``connect``/``disconnect`` for ``network connect`` on a running container.
    """

    def create_sandbox(self, sb: SandboxRecord, req: SandboxRequest) -> NamespacePlan:
        """Validate and allocate (addresses, endpoints); no process exists yet."""
        ...

    def attach(self, sb: SandboxRecord, pid: int) -> None:
        """Plumb ``/proc/pid/ns/net`` (the init is created, blocked before exec)."""
        ...

    def publish_ports(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        """Make the reserved host ports reach the container (kernel DNAT or netd's proxy)."""
        ...

    def teardown(self, sb: SandboxRecord) -> None:
        """Undo everything: ports, interfaces of a still running container, endpoints."""
        ...

    def restore(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        """Re-establish what netd or the kernel lost for a live container (reconcile)."""
        ...

    def inspect(self, sb: SandboxRecord) -> list[tuple[NetworkRecord, EndpointRecord | None]]:
        """The networks the sandbox is on, with its endpoint on each (``NetworkSettings.Networks``)."""
        ...
