"""Records on disk, and host port reservation (real sockets on loopback; no root needed)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from dockernb.errors import PortAllocated, PortNotAllowed
from dockernb.linux.probe import ip_unprivileged_port_start
from dockernb.network import ports
from dockernb.network.records import EndpointRecord, NetworkRecord, NetworkStore, SandboxRecord, new_id
from dockernb.spec.ports import PortBinding, PortMapping
from dockernb.store.layout import Layout


def test_records_roundtrip_and_lookup_order(tmp_path: Path) -> None:
    store = NetworkStore(Layout(tmp_path))
    a = NetworkRecord(id=new_id(), name="front", driver="bridge", subnet="10.9.0.0/24", gateway="10.9.0.1")
    # a network named like another's id prefix: docker looks up full id, then name, then prefix
    b = NetworkRecord(id=new_id(), name=a.id[:12], driver="bridge")
    for n in (a, b):
        store.save_network(n)
    assert store.find(a.id) == a
    assert store.find(a.id[:12]) == b
    assert store.find("front") == a
    assert store.find(b.id[:5]) in (b, None)  # unique prefix or nothing
    assert store.find("nope") is None
    ep = EndpointRecord(network_id=a.id, container_id="c" * 64, endpoint_id=new_id(), name="web", ip="10.9.0.2")
    store.save_endpoint(ep)
    assert store.endpoints(a.id) == [ep]
    sb = SandboxRecord(container_id="c" * 64, name="web", hostname="h", kind="bridge", networks=[a.id],
                       ports=[PortBinding(80, "tcp", "0.0.0.0", 8080)], exposed=[(80, "tcp")])
    store.save_sandbox(sb)
    assert store.sandbox(sb.container_id) == sb
    store.delete_network(a.id)
    assert store.find("front") is None and not (tmp_path / "networks" / a.id).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_random_port_is_the_same_on_both_families() -> None:
    got = ports.reserve([PortMapping(80)], endpoint="web (x)", ipv6=True)
    try:
        assert [r.binding.host_ip for r in got] == ["0.0.0.0", "::"]
        assert got[0].binding.host_port == got[1].binding.host_port > 0
        assert got[0].sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        ports.release(got)


def test_taken_by_a_program_fails_and_releases_everything() -> None:
    free, busy = _free_port(), socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(PortAllocated, match=r"listen tcp4 127\.0\.0\.1:\d+: bind: address already in use"):
            ports.reserve([PortMapping(80, "tcp", "127.0.0.1", free, free),
                           PortMapping(81, "tcp", "127.0.0.1", busy.getsockname()[1], busy.getsockname()[1])],
                          endpoint="web (x)")
        with socket.socket() as again:  # the first one was released: all or nothing
            again.bind(("127.0.0.1", free))
    finally:
        busy.close()


def test_taken_by_a_container_uses_dockers_sentence() -> None:
    port = _free_port()
    with pytest.raises(PortAllocated) as exc:
        ports.reserve([PortMapping(80, "tcp", "", port, port)], endpoint="web (abc)",
                      taken=[PortBinding(80, "tcp", "0.0.0.0", port)], ipv6=False)
    assert str(exc.value) == (f"driver failed programming external connectivity on endpoint web (abc): "
                              f"Bind for 0.0.0.0:{port} failed: port is already allocated")


def test_host_range_takes_the_first_free_port() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    p = busy.getsockname()[1]
    try:
        got = ports.reserve([PortMapping(80, "tcp", "127.0.0.1", p, p + 1)], endpoint="w")
        assert got[0].binding.host_port == p + 1
        ports.release(got)
    except PortAllocated:
        pass  # p + 1 was taken by someone else meanwhile: nothing to assert about ranges then
    finally:
        busy.close()


def test_privileged_port_refusal_names_the_sysctl() -> None:
    start = ip_unprivileged_port_start()
    err = ports._fail(OSError(errno.EACCES, "Permission denied"), "tcp", "0.0.0.0", 80, "web (x)")
    assert isinstance(err, PortNotAllowed)
    assert f"net.ipv4.ip_unprivileged_port_start ({start} here) need that sysctl lowered" in str(err)
    if os.geteuid() != 0 and start > 80:
        with pytest.raises(PortNotAllowed, match="ip_unprivileged_port_start"):
            ports.reserve([PortMapping(80, "tcp", "127.0.0.1", 80, 80)], endpoint="web (x)")


@pytest.mark.rootless
def test_rootless_privileged_port_is_refused() -> None:
    start = ip_unprivileged_port_start()
    if os.geteuid() == 0 or start <= 80:
        got = ports.reserve([PortMapping(80, "tcp", "127.0.0.1", 8, 8)], endpoint="w")  # root may bind low ports
        ports.release(got)
        return
    with pytest.raises(PortNotAllowed) as exc:
        ports.reserve([PortMapping(80, "tcp", "", 80, 80)], endpoint="web (x)")
    assert "ports below net.ipv4.ip_unprivileged_port_start (1024 here) need that sysctl lowered" in str(exc.value)
