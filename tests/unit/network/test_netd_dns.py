"""The embedded DNS responder, in-process: names from the records, the rest forwarded upstream."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.network import dns
from dockernb.network.netd import Netd
from dockernb.network.records import EndpointRecord, NetworkRecord, NetworkStore, new_id
from dockernb.store.layout import Layout


def _query(name: str, qtype: int = dns.A, qid: int = 7) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def _addresses(resp: bytes) -> list[str]:
    an = struct.unpack_from("!H", resp, 6)[0]
    return [socket.inet_ntoa(resp[len(resp) - 4 * (an - i) :][:4]) for i in range(an)]


@pytest.fixture
def netd(tmp_path: Path) -> Iterator[tuple[Netd, NetworkStore, socket.socket]]:
    layout = Layout(tmp_path)
    store = NetworkStore(layout)
    store.ensure()
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a fake upstream resolver on loopback
    upstream.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setblocking(False)
    d = Netd(layout, [(out, upstream.getsockname())])
    d.dns.port = 0  # any free port on the gateway address
    yield d, store, upstream
    d.close()
    upstream.close()


def _serve(d: Netd) -> threading.Thread:
    t = threading.Thread(target=d.loop.run, daemon=True)
    t.start()
    return t


def test_names_aliases_ids_and_forwarding(netd: tuple[Netd, NetworkStore, socket.socket]) -> None:
    d, store, upstream = netd
    net = NetworkRecord(id=new_id(), name="app", driver="bridge", subnet="127.0.0.0/8", gateway="127.0.0.1")
    other = NetworkRecord(id=new_id(), name="other", driver="bridge", subnet="127.0.0.0/8", gateway="127.0.0.2")
    store.save_network(net)
    store.save_network(other)
    cid = "ab" * 32
    store.save_endpoint(EndpointRecord(network_id=net.id, container_id=cid, endpoint_id=new_id(), name="web",
                                       aliases=["www"], ip="10.1.0.2"))
    store.save_endpoint(EndpointRecord(network_id=other.id, container_id="cd" * 32, endpoint_id=new_id(),
                                       name="db", ip="10.2.0.2"))
    d.dns.load()
    gw, udp, _tcp = d.dns.listeners[net.id]
    port = udp.getsockname()[1]
    t = _serve(d)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(2)
    try:
        for name in ("web", "WWW", cid[:12]):
            c.sendto(_query(name), (gw, port))
            resp, _ = c.recvfrom(512)
            assert struct.unpack_from("!H", resp)[0] == 7 and _addresses(resp) == ["10.1.0.2"], name
        c.sendto(_query("2.0.1.10.in-addr.arpa", dns.PTR), (gw, port))
        assert b"\x03web\x00" in c.recvfrom(512)[0]
        # "db" lives on another network: not answered here, so it goes upstream, with a fresh id
        c.sendto(_query("db", qid=99), (gw, port))
        upstream.settimeout(2)
        fwd, src = upstream.recvfrom(512)
        q = dns.parse(fwd)
        assert q is not None and q.name == "db"
        upstream.sendto(dns.answer(q, addresses=["192.0.2.77"]), src)
        resp, _ = c.recvfrom(512)
        assert struct.unpack_from("!H", resp)[0] == 99 and _addresses(resp) == ["192.0.2.77"]
        # a new endpoint is seen without a reload message: the generation file moved
        store.save_endpoint(EndpointRecord(network_id=net.id, container_id="ef" * 32, endpoint_id=new_id(),
                                           name="api", ip="10.1.0.3"))
        store.touch_generation()
        c.sendto(_query("api"), (gw, port))
        assert _addresses(c.recvfrom(512)[0]) == ["10.1.0.3"]
        # TCP, as resolvers retry truncated answers
        with socket.create_connection((gw, d.dns.listeners[net.id][2].getsockname()[1]), timeout=2) as tc:
            msg = _query("web")
            tc.sendall(struct.pack("!H", len(msg)) + msg)
            n = struct.unpack("!H", tc.recv(2))[0]
            assert _addresses(tc.recv(n)) == ["10.1.0.2"]
    finally:
        c.close()
        d.loop.stop()
        t.join(timeout=2)
        assert not t.is_alive()
