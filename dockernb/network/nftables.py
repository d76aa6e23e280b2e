"""The root's own nftables table: outbound NAT, isolation between networks, published ports (layer L3).

One table per state root (``ip dockernb``; other roots get ``ip dockernb_<tag>``), rendered
whole from the records and swapped in one ``nft -f -`` transaction (``table {}; delete table;
table {...}``), so it is never half-written and never duplicates a rule. A network change
re-renders it (about 12 ms); a container's published ports only add or delete elements of the
port maps (about 3 ms to add; deletes wait for an RCU grace period, about 10 ms)::

    prerouting/output (nat, dstnat)   fib daddr type local -> jump publish
    publish                           dnat through tcp_any/tcp_addr/udp_*/sctp_* maps
    postrouting (nat, srcnat)         masquerade: a network's subnet leaving its bridge; 127/8
                                      entering a bridge (published ports reached via
                                      127.0.0.1, with route_localnet=1); hairpin DNAT
    forward (filter)                  drop between two of our bridges; internal networks
                                      reach nothing outside their bridge
    input (filter, rootless hub)      drop what conntrack calls invalid (see below)

A rule in another table cannot override a drop in this one, nor the reverse: docker's
iptables-nft FORWARD policy DROP is handled in ``firewall.py``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockernb.network.records import NetworkRecord

__all__ = ["NatEntry", "element_script", "render_table"]

_MAPS = [f"{proto}_{kind}" for proto in ("tcp", "udp", "sctp") for kind in ("any", "addr")]


@dataclass(frozen=True, slots=True)
class NatEntry:
    """One published IPv4 port: host (ip, port) -> container (ip, port)."""

    proto: str
    host_ip: str  # "0.0.0.0" = every local address
    host_port: int
    ctr_ip: str
    ctr_port: int

    @property
    def map_name(self) -> str:
        return f"{self.proto}_{'any' if self.host_ip == '0.0.0.0' else 'addr'}"

    @property
    def key(self) -> str:
        return str(self.host_port) if self.host_ip == "0.0.0.0" else f"{self.host_ip} . {self.host_port}"

    @property
    def value(self) -> str:
        return f"{self.ctr_ip} . {self.ctr_port}"


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def render_table(table: str, networks: Sequence[NetworkRecord], entries: Iterable[NatEntry] = (),
                 *, publish: bool = True, drop_invalid: bool = False) -> str:
    """The whole table as an ``nft -f`` script that replaces any previous version atomically.

    ``drop_invalid`` (the rootless hub): pasta answers a forwarded TCP segment with a flagless
    packet, which conntrack calls invalid and so does not un-NAT; delivered to the hub's own stack,
    it drew a RST that killed the container's connection (every download from a rootless RUN timed
    out). Dropped here, the connection carries on.
    """
    bridges = [n for n in networks if n.driver == "bridge" and n.bridge]
    names = ", ".join(_q(n.bridge) for n in bridges)
    lines = [f"table ip {table} {{}}", f"delete table ip {table}", f"table ip {table} {{"]
    lines.append("  set bridges { type ifname; " + (f"elements = {{ {names} }}; " if names else "") + "}")
    if publish:
        by_map: dict[str, list[NatEntry]] = {m: [] for m in _MAPS}
        for e in entries:
            by_map[e.map_name].append(e)
        for m in _MAPS:
            key = "inet_service" if m.endswith("_any") else "ipv4_addr . inet_service"
            elems = ", ".join(f"{e.key} : {e.value}" for e in by_map[m])
            lines.append(f"  map {m} {{ type {key} : ipv4_addr . inet_service; "
                         + (f"elements = {{ {elems} }}; " if elems else "") + "}")
        lines += [
            "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;",
            "    fib daddr type local jump publish; }",
            "  chain output { type nat hook output priority -100; policy accept;",
            "    fib daddr type local jump publish; }",
            "  chain publish {",
        ]
        for proto in ("tcp", "udp", "sctp"):
            lines.append(f"    dnat ip to {proto} dport map @{proto}_any")
            lines.append(f"    dnat ip to ip daddr . {proto} dport map @{proto}_addr")
        lines.append("  }")
    lines.append("  chain postrouting { type nat hook postrouting priority srcnat; policy accept;")
    if publish and bridges:
        lines.append("    oifname @bridges ip saddr 127.0.0.0/8 masquerade")
    for n in bridges:
        subnet = ipaddress.IPv4Network(n.subnet)
        if publish:
            lines.append(f"    oifname {_q(n.bridge)} ip saddr {subnet} ct status dnat masquerade")
        if not n.internal:
            lines.append(f"    ip saddr {subnet} oifname != {_q(n.bridge)} masquerade")
    lines.append("  }")
    lines.append("  chain forward { type filter hook forward priority filter; policy accept;")
    for n in bridges:
        br = _q(n.bridge)
        if n.internal:
            lines.append(f"    iifname {br} oifname != {br} drop")
            lines.append(f"    oifname {br} iifname != {br} drop")
        else:
            lines.append(f"    iifname {br} oifname @bridges oifname != {br} drop")
    lines.append("  }")
    if drop_invalid:
        lines.append("  chain input { type filter hook input priority filter; policy accept;")
        lines.append("    ct state invalid drop; }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def element_script(table: str, entries: Iterable[NatEntry], *, add: bool) -> str:
    """``nft -f`` lines adding or deleting port-map elements (one transaction)."""
    out = []
    for e in entries:
        if add:
            out.append(f"add element ip {table} {e.map_name} {{ {e.key} : {e.value} }}")
        else:
            out.append(f"delete element ip {table} {e.map_name} {{ {e.key} }}")
    return "\n".join(out) + ("\n" if out else "")
