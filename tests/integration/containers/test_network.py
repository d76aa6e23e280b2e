"""Networking through run/create (issue 6's wiring): the nginx lab on a published port, ports below
1024 rootless, name resolution on a user network, the none/host/container modes, and teardown."""

from __future__ import annotations

import os
import socket
import time
import urllib.request

import pytest

from tests.integration.containers.conftest import ROOTLESS, Cli

pytestmark = pytest.mark.rootless


def _get(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers do not count
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_nginx_lab(cli: Cli) -> None:
    if not _port_free(8089):
        pytest.fail("host port 8089 is taken by another program: the lab needs it")
    cid = cli.ok("run", "-p", "8089:80", "--name", "manual_update_nginx", "-d", "nginx").strip()
    assert "Welcome to nginx!" in _get("http://127.0.0.1:8089/")
    ports = cli.ok("ps", "--format", "{{.Ports}}")
    assert ports == "0.0.0.0:8089->80/tcp, :::8089->80/tcp\n"
    assert cli.ok("port", "manual_update_nginx") == "80/tcp -> 0.0.0.0:8089\n80/tcp -> :::8089\n"
    assert 'GET / HTTP/1.1" 200' in cli.ok("logs", "manual_update_nginx")
    r = cli("run", "-d", "-p", "8089:80", "nginx")
    assert r.code == 125 and "8089" in r.err and "already allocated" in r.err
    assert cli.ok("ps", "-q", "--no-trunc") == cid + "\n"  # the failed one is not running
    if ROOTLESS:
        r = cli("run", "-d", "-p", "80:80", "nginx")
        assert r.code == 125 and "net.ipv4.ip_unprivileged_port_start" in r.err, r
    cli.ok("rm", "-f", "manual_update_nginx")
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:8089/", timeout=2)


def test_user_network_name_resolution(cli: Cli) -> None:
    cli.ok("network", "create", "labnet")
    cli.ok("run", "-d", "--name", "web", "--network", "labnet", "--network-alias", "www", "busybox", "sh", "-c",
           "mkdir /w && echo hello-from-web > /w/index.html && exec httpd -f -p 80 -h /w")
    # busybox-static's wget cannot use glibc's resolver (NSS), so: resolve with nslookup, fetch by address
    fetch = ("ip=$(nslookup {0} | awk '/^Address: /{{print $2}}' | tail -1); echo $ip >&2; "
             "wget -q -O- http://$ip/")  # (its -T crashes this busybox build)
    for host in ("web", "www"):
        r = cli("run", "--rm", "--network", "labnet", "busybox", "sh", "-c", fetch.format(host))
        assert (r.code, r.out) == (0, "hello-from-web\n"), r
    assert cli.ok("run", "--rm", "--network", "labnet", "debian:bookworm", "getent", "hosts", "web").startswith("10.")
    # the default bridge has no names (as docker's)
    assert cli("run", "--rm", "busybox", "nslookup", "web").code != 0
    r = cli("network", "rm", "labnet")
    assert r.code == 1 and "has active endpoints" in r.err
    cli.ok("rm", "-f", "web")
    assert cli.ok("network", "rm", "labnet") == "labnet\n"


def test_network_modes(cli: Cli) -> None:
    out = cli.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '")
    assert out == "lo "
    host = cli.ok("run", "--rm", "--network", "host", "busybox", "hostname")
    assert host.strip() == os.uname().nodename
    cli.ok("run", "-d", "--name", "base", "busybox", "sleep", "1000")
    ip = cli.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "base").strip()
    joined = cli.ok("run", "--rm", "--network", "container:base", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
    assert ip and f"inet {ip}/" in joined
    r = cli("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert r.code == 125 and r.err.startswith("dockernb: Error response from daemon: network nosuchnet not found")
    out = cli.ok("run", "--rm", "--dns", "10.9.8.7", "--add-host", "db:10.1.2.3", "-h", "box", "busybox", "sh", "-c",
                 "cat /etc/resolv.conf /etc/hosts; hostname")
    assert "nameserver 10.9.8.7" in out and "10.1.2.3\tdb" in out and out.endswith("box\n")
