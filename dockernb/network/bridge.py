"""The bridge driver: Linux bridges, veth pairs, addresses, NAT and published ports (layer L3).

One bridge per network (``dnb0`` for the default network, ``dnb-<id>`` for user-defined ones),
in the host's namespace as root or in the hub's rootless. A container gets, per network, a veth
pair whose container end (``eth0``, ``eth1``...) is created directly inside its namespace, with
docker's address-derived MAC; the first network gives the default route. Published ports: as
root, IPv4 through kernel DNAT (measured: the same latency as no container at all) with the
host socket held by netd as a reservation, IPv6 through netd's proxy; rootless, all through
netd's proxy, whose container-side sockets are made inside the hub.

Teardown deletes a veth only while the container still runs (``network disconnect``, or a
teardown before exit): deleting a link waits for an RCU grace period (17-29 ms measured here),
and the kernel removes it on its own with the namespace of a container that exited.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable

from dockernb.errors import (
    InternalError,
    InvalidNetworkMode,
    NoSuchNetwork,
    NotSupported,
    PortAllocated,
    ProbeFailed,
)
from dockernb.linux import pids
from dockernb.linux.netlink import NetlinkError, mac_for_ip
from dockernb.network import firewall, ipam
from dockernb.network.base import EndpointRequest, NamespacePlan, NetnsMode, SandboxRequest
from dockernb.network.netdclient import NetdClient
from dockernb.network.nftables import NatEntry, element_script, render_table
from dockernb.network.place import Place
from dockernb.network.ports import Reservation
from dockernb.network.records import EndpointRecord, NetworkRecord, NetworkStore, SandboxRecord, new_id
from dockernb.network.settings import NetSettings
from dockernb.spec.ports import PortBinding

__all__ = ["BridgeDriver"]

log = logging.getLogger(__name__)


class BridgeDriver:
    def __init__(self, store: NetworkStore, settings: NetSettings, place: Callable[[], Place],
                 netd: NetdClient) -> None:
        self.store = store
        self.settings = settings
        self._place = place
        self.netd = netd
        self._checked: set[str] = set()  # bridges known to be up in this process

    # --- networks -----------------------------------------------------------------------

    def place(self) -> Place:
        return self._place()

    def ensure_network(self, net: NetworkRecord) -> Place:
        """Make ``net``'s bridge exist with its address; install the table when it is new."""
        place = self.place()
        created = False
        with place.netlink() as nl:
            link = nl.link(net.bridge)
            if link is None:
                try:
                    index = nl.add_bridge(net.bridge)
                except NetlinkError as err:
                    if err.errno != errno.EEXIST:
                        raise
                    index = nl.index(net.bridge)
                created = True
            else:
                index = link.index
                if net.bridge in self._checked:
                    return place  # known good in this process; the link check above is the cheap part
                if not link.up:
                    nl.set_link(index, up=True)
            prefix = ipaddress.IPv4Network(net.subnet).prefixlen
            want = f"{net.gateway}/{prefix}"
            if (index, want) not in nl.addrs():
                nl.add_addr(index, want)
            if not self.settings.rootless:
                # DNAT from 127.0.0.1 to a container: without this the kernel drops the packet
                # as a martian on its way out of the bridge, and the connection hangs
                nl.set_ipv4_conf(index, route_localnet=1)
        state = self.store.state("kernel")
        if created or state.get("boot_id") != pids.boot_id() or state.get("table") != self.settings.table:
            self.apply_table(place)
            if not self.settings.rootless:
                self._root_forwarding(place, net)
            self.store.save_state("kernel", {**state, "boot_id": pids.boot_id(), "table": self.settings.table})
        self._checked.add(net.bridge)
        return place

    def _enable_forwarding(self, items: list[tuple[NetworkRecord, EndpointRecord]]) -> None:
        """Turn on IPv4 forwarding when a container first joins a non-internal bridge network, and
        not before (root only: the hub has its own switch, on from its start)."""
        if self.settings.rootless or all(net.internal for net, _ in items):
            return
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            if f.read().strip() == "1":
                return
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        state = self.store.state("kernel")
        self.store.save_state("kernel", {**state, "ip_forward_enabled": True})

    def _root_forwarding(self, place: Place, net: NetworkRecord) -> None:
        fw = firewall.detect(place)
        for n in self.store.networks():
            if n.driver == "bridge" and n.bridge:
                firewall.allow_bridge(place, fw, n.bridge, self.settings.tag or "default")

    def nat_entries(self) -> list[NatEntry]:
        out = []
        for sb in self.store.sandboxes():
            if sb.nat and pids.alive(sb.pid, sb.pid_start):
                out.extend(self._nat_for(sb))
        return out

    def apply_table(self, place: Place | None = None) -> None:
        """(Re)write this root's whole nftables table from the records, atomically."""
        place = place or self.place()
        nets = [n for n in self.store.networks() if n.driver == "bridge"]
        publish = not self.settings.rootless
        script = render_table(self.settings.table, nets, self.nat_entries() if publish else (), publish=publish,
                              drop_invalid=self.settings.rootless)
        r = place.run(["nft", "-f", "-"], script)
        if r.returncode != 0:
            raise ProbeFailed(f"nft could not install table {self.settings.table}: {r.stderr.strip()}",
                              probe="nft -f -", hint="is nftables installed (apt-get install nftables)?")

    def remove_network(self, net: NetworkRecord) -> None:
        place = self.place()
        with place.netlink() as nl:
            nl.del_link(net.bridge)
        self._checked.discard(net.bridge)
        if not self.settings.rootless:
            firewall.revoke_bridge(place, net.bridge, self.settings.tag or "default")

    # --- endpoints ----------------------------------------------------------------------

    def _allocate(self, sb: SandboxRecord, net: NetworkRecord, aliases: tuple[str, ...], want: str,
                  ifname: str) -> EndpointRecord:
        used = [ep.ip for ep in self.store.endpoints(net.id)]
        ip = ipam.allocate_address(net.subnet, net.gateway, used, want=want, network=net.name)
        ep = EndpointRecord(
            network_id=net.id, container_id=sb.container_id, endpoint_id=new_id(), name=sb.name,
            aliases=list(aliases) if net.user_defined else [], ip=ip,
            prefix=ipaddress.IPv4Network(net.subnet).prefixlen, gateway=net.gateway, mac=mac_for_ip(ip),
            ifname=ifname,
        )
        self.store.save_endpoint(ep)
        return ep

    def endpoints(self, sb: SandboxRecord) -> list[tuple[NetworkRecord, EndpointRecord]]:
        nets = {n.id: n for n in self.store.networks()}
        out = []
        for nid in sb.networks:
            ep = self.store.endpoint(nid, sb.container_id)
            if ep is not None and nid in nets:
                out.append((nets[nid], ep))
        return out

    def create_sandbox(self, sb: SandboxRecord, req: SandboxRequest) -> NamespacePlan:
        wanted = [EndpointRequest(network=req.network_mode, aliases=req.aliases, ipv4_address=req.ipv4_address),
                  *req.extra_networks]
        nets: list[tuple[NetworkRecord, EndpointRequest]] = []
        for ereq in wanted:
            net = self.store.find(ereq.network)
            if net is None:
                raise NoSuchNetwork(ereq.network)
            if net.driver != "bridge":
                raise InvalidNetworkMode(f"container cannot be connected to network {net.name} and to bridge "
                                         "networks at once")
            if net.id in (n.id for n, _ in nets):
                continue
            nets.append((net, ereq))
        place = None
        for i, (net, ereq) in enumerate(nets):
            place = self.ensure_network(net)
            self._allocate(sb, net, ereq.aliases, ereq.ipv4_address, f"eth{i}")
            sb.networks.append(net.id)
        assert place is not None
        sb.userns_path = place.userns_path
        return NamespacePlan(mode=NetnsMode.NEW, userns_path=place.userns_path)

    def inspect(self, sb: SandboxRecord) -> list[tuple[NetworkRecord, EndpointRecord | None]]:
        return [(n, ep) for n, ep in self.endpoints(sb)]

    def _plumb(self, place: Place, pid: int, items: list[tuple[NetworkRecord, EndpointRecord]],
               *, default_route: bool) -> None:
        nsfd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                nl_place, nl_ctr = place.netlinks_for(pid)
            except OSError as err:
                raise InternalError(
                    f"cannot enter the network namespace of pid {pid}: {err}"
                    + ("; rootless containers on bridge networks must live in the hub's user namespace "
                       f"({place.userns_path})" if place.userns_path else "")
                ) from err
            with nl_place, nl_ctr:
                nl_ctr.set_link(1, up=True)
                for net, ep in items:
                    bridge = nl_place.index(net.bridge)
                    host_if = "veth" + secrets.token_hex(4)[:7]
                    try:
                        nl_place.add_veth(host_if, ep.ifname, peer_netns_fd=nsfd, peer_mac=ep.mac, master=bridge)
                    except NetlinkError as err:
                        hint = ""
                        if err.errno == errno.EPERM and place.userns_path:
                            hint = ("; the container's network namespace must be owned by the hub's user namespace "
                                    f"{place.userns_path} (NamespacePlan.userns_path)")
                        raise InternalError(f"{err}{hint}") from err
                    ep.host_ifname = host_if
                    self.store.save_endpoint(ep)
                    idx = nl_ctr.index(ep.ifname)
                    nl_ctr.set_link(idx, up=True)
                    nl_ctr.add_addr(idx, f"{ep.ip}/{ep.prefix}")
                    if default_route and not net.internal:
                        nl_ctr.add_route(gateway=ep.gateway, oif=idx)
                        default_route = False
        finally:
            os.close(nsfd)

    def attach(self, sb: SandboxRecord, pid: int) -> None:
        place = self.place()
        items = self.endpoints(sb)
        for net, _ep in items:
            self.ensure_network(net)
        self._enable_forwarding(items)
        self._plumb(place, pid, items, default_route=True)
        sb.pid, sb.pid_start = pid, pids.start_time(pid)
        if any(net.user_defined for net, _ in items):
            self.store.touch_generation()
            self.netd.ensure(place)
            self._reload_dns()

    def _reload_dns(self) -> None:
        try:
            self.netd.call({"op": "reload"})
        except (OSError, ValueError) as err:
            log.warning("netd reload: %s", err)

    # --- ports ----------------------------------------------------------------------------

    def _target(self, sb: SandboxRecord) -> str:
        items = self.endpoints(sb)
        if not items:
            raise InternalError(f"container {sb.container_id[:12]} has no bridge endpoint to publish to")
        return items[0][1].ip

    def _nat_for(self, sb: SandboxRecord) -> list[NatEntry]:
        if not sb.nat:
            return []
        try:
            target = self._target(sb)
        except InternalError:
            return []
        return [NatEntry(b.proto, b.host_ip, b.host_port, target, b.container_port)
                for b in sb.ports if ":" not in b.host_ip]

    def publish_ports(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        if not reserved:
            return
        target = self._target(sb)
        kernel = not self.settings.rootless and not self.settings.userland_proxy
        specs, fds, nat = [], [], []
        for r in reserved:
            b = r.binding
            v6 = ":" in b.host_ip
            serve = not (kernel and not v6)
            if serve and b.proto == "sctp":
                raise NotSupported(f"publishing {b.key} through the userspace proxy: sctp is not proxied")
            if not serve:
                nat.append(NatEntry(b.proto, b.host_ip, b.host_port, target, b.container_port))
            specs.append({"proto": b.proto, "host_ip": b.host_ip, "host_port": b.host_port, "target_ip": target,
                          "target_port": b.container_port, "serve": serve})
            fds.append(r.sock.fileno())
        sb.ports = [r.binding for r in reserved]
        place = self.place()
        if nat:
            r2 = place.run(["nft", "-f", "-"], element_script(self.settings.table, nat, add=True))
            if r2.returncode != 0:
                if "File exists" in r2.stderr:
                    raise PortAllocated("driver failed programming external connectivity on endpoint "
                                        f"{sb.name}: Bind for {nat[0].host_ip}:{nat[0].host_port} failed: "
                                        "port is already allocated")
                raise ProbeFailed(f"nft could not publish ports: {r2.stderr.strip()}", probe="nft add element")
            sb.nat = True
        self.netd.ensure(place)
        reply = self.netd.call({"op": "publish", "container": sb.container_id, "pid": sb.pid, "bindings": specs},
                               fds)
        if not reply.get("ok"):
            raise InternalError(f"netd refused the ports: {reply.get('error')}")
        sb.proxied = True

    def unpublish(self, sb: SandboxRecord) -> None:
        if sb.proxied:
            try:
                self.netd.call({"op": "unpublish", "container": sb.container_id})
            except (OSError, ValueError):
                pass  # netd is gone: it held nothing
            sb.proxied = False
        if sb.nat:
            mine = self._nat_for(sb)
            others = {(e.map_name, e.key) for o in self.store.sandboxes()
                      if o.container_id != sb.container_id for e in self._nat_for(o)
                      if pids.alive(o.pid, o.pid_start)}
            mine = [e for e in mine if (e.map_name, e.key) not in others]
            if mine:
                place = self.place()
                r = place.run(["nft", "-f", "-"], element_script(self.settings.table, mine, add=False))
                if r.returncode != 0:  # some were gone already: delete one by one
                    for e in mine:
                        place.run(["nft", "-f", "-"], element_script(self.settings.table, [e], add=False))
            sb.nat = False

    # --- lifecycle ----------------------------------------------------------------------

    def connect(self, sb: SandboxRecord, net: NetworkRecord, req: EndpointRequest) -> EndpointRecord:
        place = self.ensure_network(net)
        ep = self._allocate(sb, net, req.aliases, req.ipv4_address, f"eth{len(sb.networks)}")
        self._enable_forwarding([(net, ep)])
        sb.networks.append(net.id)
        if pids.alive(sb.pid, sb.pid_start):
            try:
                self._plumb(place, sb.pid, [(net, ep)], default_route=False)
            except BaseException:
                self.store.delete_endpoint(net.id, sb.container_id)
                sb.networks.remove(net.id)
                raise
            if net.user_defined:
                self.store.touch_generation()
                self.netd.ensure(place)
                self._reload_dns()
        return ep

    def disconnect(self, sb: SandboxRecord, net: NetworkRecord) -> None:
        ep = self.store.endpoint(net.id, sb.container_id)
        if ep is not None and ep.host_ifname and pids.alive(sb.pid, sb.pid_start):
            with self.place().netlink() as nl:
                nl.del_link(ep.host_ifname)
        self.store.delete_endpoint(net.id, sb.container_id)
        if net.id in sb.networks:
            sb.networks.remove(net.id)
        self.store.touch_generation()

    def teardown(self, sb: SandboxRecord) -> None:
        self.unpublish(sb)
        alive = pids.alive(sb.pid, sb.pid_start)
        items = self.endpoints(sb)
        if alive and items:
            try:
                with self.place().netlink() as nl:
                    for _net, ep in items:
                        if ep.host_ifname:
                            nl.del_link(ep.host_ifname)
            except (OSError, ProbeFailed) as err:
                log.warning("teardown %s: %s", sb.container_id[:12], err)
        for nid in list(sb.networks):
            self.store.delete_endpoint(nid, sb.container_id)
        if any(n.user_defined for n, _ in items):
            self.store.touch_generation()
        sb.networks = []

    def restore(self, sb: SandboxRecord, reserved: list[Reservation]) -> None:
        """A live container whose ports netd lost (netd died, or a reboot of netd): publish again."""
        sb.proxied = False
        was_nat, sb.nat = sb.nat, False
        if was_nat:
            self.apply_table()  # re-renders this container's entries along with the others'
        self.publish_ports_keep_nat(sb, reserved, was_nat)

    def publish_ports_keep_nat(self, sb: SandboxRecord, reserved: list[Reservation], nat_present: bool) -> None:
        if nat_present:
            # the table already holds the entries; only hand the sockets to netd again
            target = self._target(sb)
            kernel = not self.settings.rootless and not self.settings.userland_proxy
            specs = [{"proto": r.binding.proto, "host_ip": r.binding.host_ip, "host_port": r.binding.host_port,
                      "target_ip": target, "target_port": r.binding.container_port,
                      "serve": not (kernel and ":" not in r.binding.host_ip)} for r in reserved]
            self.netd.ensure(self.place())
            self.netd.call({"op": "publish", "container": sb.container_id, "pid": sb.pid, "bindings": specs},
                           [r.sock.fileno() for r in reserved])
            sb.nat = sb.proxied = True
        else:
            self.publish_ports(sb, reserved)

    def bindings(self, sb: SandboxRecord) -> list[PortBinding]:
        return list(sb.ports)
