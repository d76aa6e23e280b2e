"""``Networks``: docker's network objects and containers' sandboxes for one state root (layer L3).

The engine holds one ``Networks`` per root and calls it for the ``network`` verbs
(create/ls/inspect/rm/prune/connect/disconnect), for every container start and stop
(``create_sandbox`` -> runtime create -> ``attach`` -> runtime start; ``teardown``), for
``port``/``ps``/``inspect`` data (``sandbox``), at engine start (``reconcile``) and for ``info``
(``probes``). See ``dockernb.network.base`` for the lifecycle and ``records`` for the disk layout.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dockernb.config import Config
from dockernb.errors import (
    EndpointExists,
    InvalidArgument,
    InvalidNetworkMode,
    NetworkExists,
    NetworkInUse,
    NetworkPredefined,
    NoSuchNetwork,
    NoSuchNetworkDriver,
    NotConnected,
)
from dockernb.linux import pids
from dockernb.linux.netlink import Netlink
from dockernb.linux.probe import Probe
from dockernb.network import files, firewall, ipam
from dockernb.network.base import (
    EndpointRequest,
    NamespacePlan,
    NetnsMode,
    NetworkDriver,
    Sandbox,
    SandboxRequest,
)
from dockernb.network.bridge import BridgeDriver
from dockernb.network.drivers import ContainerDriver, HostDriver, NoneDriver
from dockernb.network.hub import Hub
from dockernb.network.netdclient import NetdClient
from dockernb.network.place import HostPlace, Place
from dockernb.network.ports import Reservation, release, reserve
from dockernb.network.probe import network_probes
from dockernb.network.records import EndpointRecord, NetworkRecord, NetworkStore, SandboxRecord, new_id
from dockernb.network.settings import NetSettings
from dockernb.spec.ports import PortBinding, PortMapping
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock

__all__ = ["Networks", "ReconcileReport"]

log = logging.getLogger(__name__)

PREDEFINED = (("bridge", "bridge"), ("host", "host"), ("none", "null"))
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
GLOBAL_IPAM_LOCK = Path("/run/dockernb/ipam.lock")  # root: subnets are chosen against the host's routes


@dataclass(slots=True)
class ReconcileReport:
    removed: list[str] = field(default_factory=list)  # container ids whose dead sandboxes were torn down
    restored: list[str] = field(default_factory=list)  # live containers whose ports were published again
    problems: list[str] = field(default_factory=list)


class Networks:
    """Like docker's network controller, for one root. Thread-safe and multi-process-safe
    through the root's ``networks`` lock; the reserved host ports between ``create_sandbox``
    and ``attach`` live in this object (the same engine process does both)."""

    def __init__(self, layout: Layout, config: Config) -> None:
        self.layout = layout
        self.config = config
        self.settings = NetSettings.from_config(config, layout.root)
        self.store = NetworkStore(layout)
        self.hub = (Hub(self.store, prefer=self.settings.uplink, host_loopback=self.settings.host_loopback)
                    if self.settings.rootless else None)
        self.netd = NetdClient(self.store)
        self.bridge = BridgeDriver(self.store, self.settings, self.place, self.netd)
        self._drivers: dict[str, NetworkDriver] = {
            "none": NoneDriver(self.store), "host": HostDriver(self.store),
            "container": ContainerDriver(self.store), "bridge": self.bridge,
        }
        self._reserved: dict[str, list[Reservation]] = {}

    def place(self) -> Place:
        """Where the bridges live: the host (root) or the hub, started on demand (rootless)."""
        if self.hub is not None:
            return self.hub.ensure()
        return HostPlace()

    def _lock(self) -> FileLock:
        self.layout.networks.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.store.lock()

    # --- network objects --------------------------------------------------------------------

    def ensure_predefined(self) -> None:
        """Create the records of bridge, host and none (once per root)."""
        names = {n.name for n in self.store.networks()}
        if all(name in names for name, _ in PREDEFINED):
            return
        with self._lock():
            have = {n.name: n for n in self.store.networks()}
            for name, driver in PREDEFINED:
                if name in have:
                    continue
                net = NetworkRecord(id=new_id(), name=name, driver=driver, predefined=True)
                if driver == "bridge":
                    with self._ipam_lock():
                        taken = [n.subnet for n in have.values() if n.subnet]
                        gw = ""
                        want = ""
                        if self.settings.bip:
                            iface = ipaddress.ip_interface(self.settings.bip)
                            want, gw = str(iface.network), str(iface.ip)
                        net.subnet, net.gateway = ipam.choose_subnet(self.settings.pools, taken, self._routes(),
                                                                     want=want, gateway=gw)
                        net.bridge = self.settings.default_bridge
                        net.options = {"com.docker.network.bridge.name": net.bridge,
                                       "com.docker.network.bridge.default_bridge": "true"}
                        self.store.save_network(net)
                        if not self.settings.rootless:
                            self.bridge.ensure_network(net)  # claims the subnet in the host's routes
                else:
                    self.store.save_network(net)
                have[name] = net

    def _ipam_lock(self) -> FileLock:
        if self.settings.rootless:
            return FileLock(self.layout.lock("network-ipam"), timeout=30)
        GLOBAL_IPAM_LOCK.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(GLOBAL_IPAM_LOCK, timeout=30)

    def _routes(self) -> list[str]:
        with Netlink() as nl:
            return nl.routes()

    def networks(self) -> list[NetworkRecord]:
        """Like ``docker network ls`` (sorted by name)."""
        self.ensure_predefined()
        return self.store.networks()

    def get(self, name_or_id: str) -> NetworkRecord:
        """Raises NoSuchNetwork."""
        self.ensure_predefined()
        net = self.store.find(name_or_id)
        if net is None:
            raise NoSuchNetwork(name_or_id)
        return net

    def endpoints(self, name_or_id: str) -> list[EndpointRecord]:
        """The containers attached to a network (``network inspect``'s Containers)."""
        return self.store.endpoints(self.get(name_or_id).id)

    def create(self, name: str, *, driver: str = "bridge", subnet: str = "", gateway: str = "",
               internal: bool = False, attachable: bool = False, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> NetworkRecord:
        """Like ``docker network create``.

        Raises:
            NetworkExists, NoSuchNetworkDriver, SubnetUnavailable, InvalidArgument.
        """
        self.ensure_predefined()
        if not _NAME.match(name):
            raise InvalidArgument(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if driver in ("host", "null"):
            raise InvalidArgument(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NoSuchNetworkDriver(driver)
        with self._lock():
            if any(n.name == name for n in self.store.networks()):
                raise NetworkExists(name)
            with self._ipam_lock():
                taken = [n.subnet for n in self.store.networks() if n.subnet]
                net_subnet, net_gw = ipam.choose_subnet(self.settings.pools, taken, self._routes(),
                                                        want=subnet, gateway=gateway)
                net = NetworkRecord(id=new_id(), name=name, driver="bridge", subnet=net_subnet, gateway=net_gw,
                                    internal=internal, attachable=attachable, labels=dict(labels or {}),
                                    options=dict(options or {}))
                net.bridge = self.settings.bridge_name(net.id)
                self.store.save_network(net)
                try:
                    if not self.settings.rootless or (self.hub and self.hub.place()):
                        self.bridge.ensure_network(net)
                except BaseException:
                    self.store.delete_network(net.id)
                    raise
            self.store.touch_generation()
        return net

    def remove(self, name_or_id: str) -> NetworkRecord:
        """Like ``docker network rm`` (one network).

        Raises:
            NoSuchNetwork, NetworkPredefined, NetworkInUse.
        """
        net = self.get(name_or_id)
        if net.predefined:
            raise NetworkPredefined(net.name)
        with self._lock():
            self._reap_dead()
            if self.store.endpoints(net.id):
                raise NetworkInUse(net.name, net.id)
            self._remove_bridge(net)
            self.store.delete_network(net.id)
            self._refresh_table()
            self.store.touch_generation()
        return net

    def _remove_bridge(self, net: NetworkRecord) -> None:
        if self.settings.rootless and (self.hub is None or self.hub.place() is None):
            return  # no hub, no bridge
        try:
            self.bridge.remove_network(net)
        except OSError as err:
            log.warning("removing bridge %s: %s", net.bridge, err)

    def _refresh_table(self) -> None:
        if self.settings.rootless and (self.hub is None or self.hub.place() is None):
            return
        self.bridge.apply_table()

    def prune(self) -> list[str]:
        """Like ``docker network prune``: user-defined networks without endpoints; their names."""
        self.ensure_predefined()
        removed = []
        with self._lock():
            self._reap_dead()
            for net in self.store.networks():
                if net.predefined or self.store.endpoints(net.id):
                    continue
                self._remove_bridge(net)
                self.store.delete_network(net.id)
                removed.append(net.name)
            if removed:
                self._refresh_table()
                self.store.touch_generation()
        return removed

    def connect(self, network: str, container_id: str, *, aliases: tuple[str, ...] = (),
                ipv4_address: str = "") -> EndpointRecord:
        """Like ``docker network connect`` for a running container (the engine records the wish
        for a stopped one and passes it as ``SandboxRequest.extra_networks`` at start).

        Raises:
            NoSuchNetwork, EndpointExists, InvalidNetworkMode, NotConnected (no live sandbox).
        """
        net = self.get(network)
        with self._lock():
            sb = self.store.sandbox(container_id)
            if sb is None or not pids.alive(sb.pid, sb.pid_start):
                raise NotConnected(container_id, net.name)
            if net.driver != "bridge" or sb.kind != "bridge":
                raise InvalidNetworkMode(f"container cannot be connected to network {net.name} in "
                                         f"{sb.kind} mode" if sb.kind != "bridge" else
                                         f"container cannot be connected to {net.name}: only bridge networks mix")
            if net.id in sb.networks:
                raise EndpointExists(sb.name, net.name)
            ep = self.bridge.connect(sb, net, EndpointRequest(network=net.id, aliases=aliases,
                                                              ipv4_address=ipv4_address))
            self.store.save_sandbox(sb)
        return ep

    def disconnect(self, network: str, container_id: str, *, force: bool = False) -> None:
        """Like ``docker network disconnect``.

        Raises:
            NoSuchNetwork, NotConnected.
        """
        net = self.get(network)
        with self._lock():
            sb = self.store.sandbox(container_id)
            if sb is None or net.id not in sb.networks:
                if force:
                    self.store.delete_endpoint(net.id, container_id)
                    return
                raise NotConnected(container_id, net.name)
            self.bridge.disconnect(sb, net)
            self.store.save_sandbox(sb)

    # --- sandboxes --------------------------------------------------------------------

    @staticmethod
    def _kind(mode: str) -> str:
        if mode in ("none", "host"):
            return mode
        if mode.startswith("container:"):
            return "container"
        return "bridge"

    def create_sandbox(self, req: SandboxRequest) -> Sandbox:
        """Prepare a container's network before the runtime creates it (see ``base``).

        Raises:
            NoSuchNetwork, PortAllocated, PortNotAllowed, InvalidPortSpec, InvalidNetworkMode,
            ProbeFailed (rootless without an uplink), AddressExhausted.
        """
        self.ensure_predefined()
        mode = "bridge" if req.network_mode in ("", "default") else req.network_mode
        kind = self._kind(mode)
        if kind == "bridge" and self.store.find(mode) is None:
            raise NoSuchNetwork(mode)
        driver = self._drivers[kind]
        warnings: list[str] = []
        mappings = list(req.ports)
        if req.publish_all:
            have = {(m.container_port, m.proto) for m in mappings}
            mappings += [PortMapping(p, proto) for p, proto in req.exposed if (p, proto) not in have]
        if kind == "host" and mappings:
            warnings.append("Published ports are discarded when using host network mode")
        with self._lock():
            self._reap_dead()  # a dead container's DNAT entry or address must not block this one
            old = self.store.sandbox(req.container_id)
            if old is not None:
                self._teardown(old)
            sb = SandboxRecord(container_id=req.container_id, name=req.name, hostname=req.hostname, kind=kind,
                               joined=mode.partition(":")[2] if kind == "container" else "",
                               exposed=list(req.exposed), files_dir=str(req.files_dir), boot_id=pids.boot_id(),
                               netns_mode="new")
            sb.owner_pid, sb.owner_start = os.getpid(), pids.start_time(os.getpid())
            reserved: list[Reservation] = []
            try:
                plan = driver.create_sandbox(sb, req)
                sb.netns_mode = plan.mode.value
                if kind == "bridge" and mappings:
                    taken = [b for o in self.store.sandboxes() if o.container_id != sb.container_id
                             and pids.alive(o.pid, o.pid_start) for b in o.ports]
                    first = self.store.endpoint(sb.networks[0], sb.container_id) if sb.networks else None
                    reserved = reserve(mappings, endpoint=f"{req.name} ({first.endpoint_id if first else ''})",
                                       taken=taken)
                    sb.ports = [r.binding for r in reserved]
                paths = self._write_files(sb, req)
                self.store.save_sandbox(sb)
            except BaseException:
                release(reserved)
                try:
                    driver.teardown(sb)
                finally:
                    self.store.delete_sandbox(sb.container_id)
                raise
            self._reserved[sb.container_id] = reserved
        return Sandbox(sb.container_id, plan, paths["hosts"], paths["resolv.conf"], paths["hostname"],
                       tuple(sb.ports), tuple(warnings))

    def _write_files(self, sb: SandboxRecord, req: SandboxRequest) -> dict[str, str]:
        if sb.kind == "container" and req.joined_files_dir is not None:
            d = req.joined_files_dir
            return {"hosts": str(d / "hosts"), "resolv.conf": str(d / "resolv.conf"),
                    "hostname": str(d / "hostname")}
        host = files.read_host_resolv()
        if sb.kind == "host":
            try:
                hosts = Path("/etc/hosts").read_text()
            except OSError:
                hosts = files.HOSTS_HEADER
            resolv = host.text or files.resolv_text(host)
            return files.write_files(req.files_dir, hosts=hosts, resolv=resolv, hostname=req.hostname)
        ip, nameservers, embedded = "", [], False
        if sb.kind == "bridge" and sb.networks:
            primary = self.store.find(sb.networks[0])
            ep = self.store.endpoint(sb.networks[0], sb.container_id)
            ip = ep.ip if ep else ""
            if primary is not None and primary.user_defined:
                embedded, nameservers = True, [primary.gateway]
        hostname = req.hostname + (f".{req.domainname}" if req.domainname else "")
        names = [hostname, req.hostname] if req.domainname else [req.hostname]
        hosts = files.hosts_text(hostname=names[0], ip=ip, aliases=names[1:], extra_hosts=req.extra_hosts)
        resolv = files.resolv_text(host, nameservers=nameservers, dns=req.dns, search=req.dns_search,
                                   options=req.dns_options, embedded=embedded)
        return files.write_files(req.files_dir, hosts=hosts, resolv=resolv, hostname=req.hostname)

    def attach(self, container_id: str, pid: int) -> Sandbox:
        """Plumb the namespace of the created (not yet started) container ``pid`` and publish its ports.

        Raises:
            InternalError (the namespace cannot be entered), ProbeFailed, PortAllocated.
        """
        with self._lock():
            sb = self.store.sandbox(container_id)
            if sb is None:
                raise NotConnected(container_id, "(no sandbox: create_sandbox was not called)")
            driver = self._drivers[sb.kind]
            driver.attach(sb, pid)
            sb.pid, sb.pid_start = pid, pids.start_time(pid)
            self.store.save_sandbox(sb)
            reserved = self._reserved.pop(container_id, [])
            try:
                driver.publish_ports(sb, reserved)
            finally:
                release(reserved)  # netd has its own copies now
                self.store.save_sandbox(sb)  # even half-published: teardown must see what to undo
        d = Path(sb.files_dir)
        return Sandbox(sb.container_id, self._plan_of(sb), str(d / "hosts"), str(d / "resolv.conf"),
                       str(d / "hostname"), tuple(sb.ports))

    @staticmethod
    def _plan_of(sb: SandboxRecord) -> NamespacePlan:
        return NamespacePlan(mode=NetnsMode(sb.netns_mode), path=sb.netns_path, userns_path=sb.userns_path)

    def teardown(self, container_id: str) -> None:
        """Release a container's network: ports, interfaces, addresses. Idempotent; call it after
        the container stopped, on ``rm``, and whenever a start failed after ``create_sandbox``."""
        with self._lock():
            sb = self.store.sandbox(container_id)
            release(self._reserved.pop(container_id, []))
            if sb is not None:
                self._teardown(sb)

    def _teardown(self, sb: SandboxRecord) -> None:
        self._drivers[sb.kind].teardown(sb)
        self.store.delete_sandbox(sb.container_id)

    def sandbox(self, container_id: str) -> SandboxRecord | None:
        return self.store.sandbox(container_id)

    def ports(self, container_id: str) -> list[PortBinding]:
        """The container's bound host ports (``port``, ``ps``), empty when it has none or is stopped."""
        sb = self.store.sandbox(container_id)
        return list(sb.ports) if sb else []

    def inspect(self, container_id: str) -> list[tuple[NetworkRecord, EndpointRecord | None]]:
        """(network, endpoint) pairs for ``NetworkSettings.Networks``."""
        sb = self.store.sandbox(container_id)
        if sb is None:
            return []
        return self._drivers[sb.kind].inspect(sb)

    # --- maintenance ------------------------------------------------------------------

    def _dead(self, sb: SandboxRecord) -> bool:
        if sb.pid:
            return not pids.alive(sb.pid, sb.pid_start)
        # not attached yet: stale only when the process that created it is gone
        return not pids.alive(sb.owner_pid, sb.owner_start)

    def _reap_dead(self) -> list[str]:
        gone = []
        for sb in list(self.store.sandboxes()):
            if self._dead(sb):
                try:
                    self._teardown(sb)
                except Exception as err:  # keep reaping the others
                    log.warning("teardown of dead %s: %s", sb.container_id[:12], err)
                gone.append(sb.container_id)
        return gone

    def reconcile(self) -> ReconcileReport:
        """What the engine calls at start: tear down the sandboxes of containers that died
        without a teardown (a killed monitor, a reboot) and publish again the ports of live
        containers whose netd died. Cheap when nothing is wrong (one read per sandbox)."""
        report = ReconcileReport()
        if not self.store.dir.exists():
            return report
        with self._lock():
            report.removed = self._reap_dead()
            attached = [sb for sb in self.store.sandboxes() if sb.pid]
            live = [sb for sb in attached if sb.ports]
            user_nets = {n.id for n in self.store.networks() if n.driver == "bridge" and n.user_defined}
            dns_needed = any(set(sb.networks) & user_nets for sb in attached)
            if dns_needed and not self.netd.alive():
                try:  # the embedded DNS of user-defined networks lives in netd too
                    self.netd.ensure(self.place())
                    self.netd.call({"op": "reload"})
                except Exception as err:
                    report.problems.append(f"DNS responder not restarted: {err}")
            if any(sb.proxied for sb in live) and not self._netd_serves(live):
                for sb in live:
                    try:
                        reserved = reserve([PortMapping(b.container_port, b.proto, b.host_ip, b.host_port,
                                                        b.host_port) for b in sb.ports],
                                           endpoint=sb.name, ipv6=True)
                        self.bridge.restore(sb, reserved)
                        release(reserved)
                        self.store.save_sandbox(sb)
                        report.restored.append(sb.container_id)
                    except Exception as err:
                        report.problems.append(f"{sb.name}: ports not restored: {err}")
            elif any(sb.nat for sb in live) and not self._table_present():
                self.bridge.apply_table()
                report.restored.extend(sb.container_id for sb in live if sb.nat)
        return report

    def _netd_serves(self, live: list[SandboxRecord]) -> bool:
        """netd runs and holds every proxied container's ports (a restarted netd holds none)."""
        try:
            held = self.netd.call({"op": "list"}).get("containers", {})
        except (OSError, ValueError):
            return False
        return all(sb.container_id in held for sb in live if sb.proxied)

    def _table_present(self) -> bool:
        return HostPlace().run(["nft", "list", "table", "ip", self.settings.table]).returncode == 0

    def probes(self) -> list[Probe]:
        """Lines for ``info``: how containers get their network here, and why."""
        return network_probes(self.config, ip_forward_by_us=bool(self.store.state("kernel").get("ip_forward_enabled")))

    def destroy(self) -> None:
        """Remove what this root put in the kernel and the process table: sandboxes, bridges,
        the nftables table, firewall rules, netd and the hub (the records of networks stay).
        For tests and for ``system reset``-like cleanups."""
        with self._lock():
            for sb in list(self.store.sandboxes()):
                try:
                    self._teardown(sb)
                except Exception as err:
                    log.warning("destroy: %s: %s", sb.container_id[:12], err)
            self.netd.stop()
            if self.settings.rootless:
                if self.hub is not None:
                    self.hub.stop()
            else:
                place = HostPlace()
                with Netlink() as nl:
                    for net in self.store.networks():
                        if net.driver == "bridge" and net.bridge:
                            nl.del_link(net.bridge)
                            firewall.revoke_bridge(place, net.bridge, self.settings.tag or "default")
                place.run(["nft", "delete", "table", "ip", self.settings.table])
                self.bridge._checked.clear()
            state = self.store.state("kernel")
            state.pop("boot_id", None)
            self.store.save_state("kernel", state)

