"""Byte-level pieces: netlink attributes, DNS messages, nftables scripts."""

from __future__ import annotations

import socket
import struct

from dockernb.linux import netlink
from dockernb.network import dns
from dockernb.network.nftables import NatEntry, element_script, render_table
from dockernb.network.records import NetworkRecord


def test_netlink_attributes_are_padded_and_nested() -> None:
    a = netlink.attr(netlink.IFLA_IFNAME, b"eth0\0")
    assert len(a) == 12 and a[:4] == struct.pack("=HH", 9, netlink.IFLA_IFNAME)
    n = netlink.nest(netlink.IFLA_LINKINFO, netlink.attr(netlink.IFLA_INFO_KIND, b"veth\0"))
    length, kind = struct.unpack_from("=HH", n)
    assert kind == netlink.IFLA_LINKINFO | netlink.NLA_F_NESTED and length == 4 + 12
    parsed = netlink._parse_attrs(n)
    assert netlink._parse_attrs(parsed[netlink.IFLA_LINKINFO])[netlink.IFLA_INFO_KIND] == b"veth\0"


def test_mac_follows_docker_scheme() -> None:
    assert netlink.mac_for_ip("172.17.0.2") == "02:42:ac:11:00:02"


def test_netlink_reads_this_namespace() -> None:
    with netlink.Netlink() as nl:
        lo = nl.link("lo")
        assert lo is not None and lo.index == 1
        assert nl.link("no-such-if0") is None
        assert any(ip.startswith("127.0.0.1/") for _i, ip in nl.addrs(socket.AF_INET))


def _query(name: str, qtype: int = dns.A) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def test_dns_answer_a_records() -> None:
    q = dns.parse(_query("Web"))
    assert q is not None and q.name == "web" and q.qtype == dns.A
    resp = dns.answer(q, addresses=["10.210.1.2", "10.210.1.3"])
    qid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", resp)
    assert (qid, qd, an) == (0x1234, 1, 2) and flags & 0x8000 and flags & 0x0100  # response, RD copied
    assert resp.endswith(socket.inet_aton("10.210.1.3"))
    assert struct.unpack_from("!H", dns.error(q, dns.NXDOMAIN), 2)[0] & 0xF == dns.NXDOMAIN


def test_dns_ptr_and_garbage() -> None:
    assert dns.ptr_name("2.1.210.10.in-addr.arpa") == "10.210.1.2"
    assert dns.ptr_name("example.org") is None
    q = dns.parse(_query("2.1.210.10.in-addr.arpa", dns.PTR))
    assert q is not None
    assert b"\x03web\x00" in dns.answer(q, ptr="web")
    assert dns.parse(b"\x00\x01") is None
    assert dns.parse(dns.answer(q, ptr="web")) is None  # a response is not a query


def _nets() -> list[NetworkRecord]:
    return [
        NetworkRecord(id="a" * 64, name="bridge", driver="bridge", subnet="10.210.0.0/24", gateway="10.210.0.1",
                      bridge="dnb0", predefined=True),
        NetworkRecord(id="b" * 64, name="back", driver="bridge", subnet="10.210.1.0/24", gateway="10.210.1.1",
                      bridge="dnb-bbbbbbbbbbb", internal=True),
        NetworkRecord(id="c" * 64, name="host", driver="host", predefined=True),
    ]


def test_table_renders_nat_isolation_and_ports() -> None:
    text = render_table("dockernb", _nets(), [NatEntry("tcp", "0.0.0.0", 8089, "10.210.0.2", 80),
                                              NatEntry("udp", "127.0.0.1", 5353, "10.210.0.2", 53)])
    first, second, third = text.splitlines()[:3]
    assert (first, second) == ("table ip dockernb {}", "delete table ip dockernb")  # atomic replace
    assert 'elements = { "dnb0", "dnb-bbbbbbbbbbb" }' in text
    assert "ip saddr 10.210.0.0/24 oifname != \"dnb0\" masquerade" in text
    assert "ip saddr 10.210.1.0/24 oifname" not in text  # internal: no outbound NAT
    assert 'iifname "dnb-bbbbbbbbbbb" oifname != "dnb-bbbbbbbbbbb" drop' in text
    assert 'iifname "dnb0" oifname @bridges oifname != "dnb0" drop' in text  # networks isolated
    assert "oifname @bridges ip saddr 127.0.0.0/8 masquerade" in text  # 127.0.0.1 -> container
    assert "elements = { 8089 : 10.210.0.2 . 80 }" in text
    assert "elements = { 127.0.0.1 . 5353 : 10.210.0.2 . 53 }" in text
    rootless = render_table("dockernb", _nets(), publish=False)
    assert "dnat" not in rootless and "masquerade" in rootless
    assert "ct state invalid drop" not in text + rootless  # only where asked: never in the host's own netns
    hub = render_table("dockernb", _nets(), publish=False, drop_invalid=True)
    assert "chain input { type filter hook input priority filter; policy accept;\n    ct state invalid drop; }" in hub


def test_element_scripts() -> None:
    e = NatEntry("tcp", "127.0.0.1", 18080, "10.210.0.5", 80)
    assert element_script("t", [e], add=True) == "add element ip t tcp_addr { 127.0.0.1 . 18080 : 10.210.0.5 . 80 }\n"
    assert element_script("t", [e], add=False) == "delete element ip t tcp_addr { 127.0.0.1 . 18080 }\n"
    assert element_script("t", [], add=True) == ""
