"""Published ports end to end: busybox httpd in a stand-in container, reached from the host.

Root: IPv4 through kernel DNAT (127.0.0.1 included, thanks to route_localnet), IPv6 through
netd's proxy. Rootless: everything through netd's proxy from inside the hub.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dockernb.errors import PortAllocated, PortNotAllowed
from dockernb.linux.probe import ip_unprivileged_port_start
from dockernb.network.manager import Networks
from dockernb.present.ports import displayable_ports, port_lines
from dockernb.spec.ports import PortBinding
from tests.integration.network.conftest import Containers, free_port, http_get, httpd, refused

pytestmark = pytest.mark.rootless


def test_publish_reaches_the_container(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    p1, p2 = free_port(), free_port()
    web = ctrs.run("web", httpd(busybox), ports=[f"{p1}:80", f"127.0.0.1:{p2}:80"], wait_port=80)
    assert http_get("127.0.0.1", p1) == "hello from the stand-in\n"
    assert http_get("127.0.0.1", p2) == "hello from the stand-in\n"
    assert http_get("::1", p1) == "hello from the stand-in\n"
    bindings = nets.ports(web.cid)
    assert sorted(bindings) == sorted([PortBinding(80, "tcp", "0.0.0.0", p1), PortBinding(80, "tcp", "::", p1),
                                       PortBinding(80, "tcp", "127.0.0.1", p2)])
    assert displayable_ports(bindings) == (
        f"0.0.0.0:{p1}->80/tcp, 127.0.0.1:{p2}->80/tcp, :::{p1}->80/tcp")
    assert port_lines(bindings, "80/tcp") == [f"0.0.0.0:{p1}", f"127.0.0.1:{p2}", f":::{p1}"]
    listed = nets.netd.call({"op": "list"})["containers"][web.cid]
    assert {(b["host_ip"], b["serve"]) for b in listed} == (
        {("0.0.0.0", True), ("::", True), ("127.0.0.1", True)} if nets.settings.rootless
        else {("0.0.0.0", False), ("::", True), ("127.0.0.1", False)})  # root: DNAT serves IPv4
    ctrs.stop(web)
    assert refused("127.0.0.1", p1) and refused("127.0.0.1", p2) and refused("::1", p1)
    assert nets.ports(web.cid) == [] and nets.netd.call({"op": "list"})["containers"] == {}
    with socket.socket() as s:  # the host port is free again (for a server: TIME_WAIT allowed)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", p1))
        s.listen()


def test_port_taken_fails_and_leaves_nothing(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    p = free_port()
    web = ctrs.run("web", httpd(busybox), ports=[f"{p}:80"], wait_port=80)
    with pytest.raises(PortAllocated) as exc:
        ctrs.run("web2", httpd(busybox), ports=[f"{p}:80"])
    assert str(exc.value).endswith(f"Bind for 0.0.0.0:{p} failed: port is already allocated")
    assert str(exc.value).startswith("driver failed programming external connectivity on endpoint web2 (")
    assert [sb.name for sb in nets.store.sandboxes()] == ["web"]  # nothing half-started
    bridge = nets.get("bridge")
    assert [ep.name for ep in nets.store.endpoints(bridge.id)] == ["web"]
    assert http_get("127.0.0.1", p) == "hello from the stand-in\n"  # the first one is untouched
    # a port held by another program on the host
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        q = other.getsockname()[1]
        with pytest.raises(PortAllocated, match=f"listen tcp4 127.0.0.1:{q}: bind: address already in use"):
            ctrs.run("web3", httpd(busybox), ports=[f"127.0.0.1:{q}:80"])
    assert len(list(nets.store.sandboxes())) == 1
    ctrs.stop(web)


def test_random_ports_and_publish_all(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    web = ctrs.run("web", httpd(busybox), ports=["80"], wait_port=80)
    [v4, v6] = sorted(nets.ports(web.cid), key=lambda b: b.host_ip)
    assert v4.host_ip == "0.0.0.0" and v6.host_ip == "::" and v4.host_port == v6.host_port >= 1024
    assert http_get("127.0.0.1", v4.host_port) == "hello from the stand-in\n"
    allp = ctrs.run("all", httpd(busybox, 8080), publish_all=True, exposed=[(8080, "tcp"), (9090, "tcp")],
                    wait_port=8080)
    keys = sorted({b.key for b in nets.ports(allp.cid)})
    assert keys == ["8080/tcp", "9090/tcp"]
    port8080 = next(b.host_port for b in nets.ports(allp.cid) if b.key == "8080/tcp" and b.host_ip == "0.0.0.0")
    assert http_get("127.0.0.1", port8080) == "hello from the stand-in\n"


UDP_ECHO = ("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',9999))\n"
            "while True:\n d,a=s.recvfrom(2048)\n s.sendto(b'echo:'+d,a)\n")


def test_udp(nets: Networks, ctrs: Containers) -> None:
    p = free_port()
    ctrs.run("echo", [sys.executable, "-c", UDP_ECHO], ports=[f"{p}:9999/udp"])
    for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            for _ in range(20):  # the echo server may still be starting
                s.sendto(b"ping", (host, p))
                try:
                    assert s.recvfrom(100)[0] == b"echo:ping"
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"no UDP echo through {host}:{p}")


def test_ps_ports_for_golden_layout(nets: Networks, ctrs: Containers) -> None:
    """The golden ps-ports container: -p 127.0.0.1:H:80 -p H2:81/udp (IPv6 included)."""
    h1, h2 = free_port(), free_port()
    c = ctrs.run("ps-ports", [sys.executable, "-c", "import time; time.sleep(60)"],
                 ports=[f"127.0.0.1:{h1}:80", f"{h2}:81/udp"])
    assert displayable_ports(nets.ports(c.cid)) == (
        f"127.0.0.1:{h1}->80/tcp, 0.0.0.0:{h2}->81/udp, :::{h2}->81/udp")


def test_rootless_low_port_needs_the_sysctl(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    """The seed lab's `-p 80:80`: fine as root; rootless, refused with the sysctl to lower."""
    start = ip_unprivileged_port_start()
    if os.geteuid() == 0 or start <= 80:
        if not refused("127.0.0.1", 80, 0.2) or subprocess.run(["ss", "-Hltn", "sport = :80"], capture_output=True,
                                                               text=True).stdout.strip():
            pytest.fail("host port 80 is in use on this machine; this test needs it free")
        web = ctrs.run("web", httpd(busybox), ports=["80:80"], wait_port=80)
        assert http_get("127.0.0.1", 80) == "hello from the stand-in\n"
        ctrs.stop(web)
        return

    with pytest.raises(PortNotAllowed) as exc:
        ctrs.run("web", httpd(busybox), ports=["80:80"])
    assert (f"ports below net.ipv4.ip_unprivileged_port_start ({start} here) need that sysctl lowered"
            in str(exc.value))
    assert list(nets.store.sandboxes()) == []
    p = free_port()  # the lab's -p 8089:80 form works rootless
    ctrs.run("web", httpd(busybox), ports=[f"{p}:80"], wait_port=80)
    assert http_get("127.0.0.1", p) == "hello from the stand-in\n"
