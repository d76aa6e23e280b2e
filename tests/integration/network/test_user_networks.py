"""User-defined networks: containers reach each other by name and alias (DNS and libc), networks
are isolated from each other, and the network verbs fail in docker's words."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from dockernb.errors import (
    EndpointExists,
    NetworkExists,
    NetworkInUse,
    NetworkPredefined,
    NoSuchNetwork,
    NoSuchNetworkDriver,
    NotConnected,
)
from dockernb.network.manager import Networks
from tests import golden
from tests.integration.network.conftest import Containers, httpd

pytestmark = pytest.mark.rootless


def _bb(busybox: Path, *args: str) -> list[str]:
    return [str(busybox / "busybox"), *args]


def _fetch(url: str, timeout: float = 2) -> list[str]:
    """An HTTP client resolving through libc (getaddrinfo: /etc/hosts, then /etc/resolv.conf's
    server). The kit's busybox is static glibc: its wget crashes resolving outside a real rootfs."""
    code = ("import sys, urllib.request\n"
            f"try: sys.stdout.write(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode())\n"
            "except Exception as e: sys.stdout.write(f'error: {e}')")
    return [sys.executable, "-c", code]


def test_two_containers_resolve_each_other(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    net = nets.create("app")
    web = ctrs.run("web", httpd(busybox), network="app", aliases=["www"], wait_port=80)
    ep = nets.store.endpoint(net.id, web.cid)
    assert ep is not None and ep.ip.startswith(net.subnet.rsplit(".", 2)[0])
    resolv = Path(web.sandbox.resolv_path).read_text()
    assert f"nameserver {net.gateway}\n" in resolv and "ndots:0" in resolv
    # libc resolution (the bind-mounted /etc/resolv.conf points at the network's DNS responder),
    # by name, alias and short id
    for name in ("web", "www", web.cid[:12]):
        out = ctrs.output("client", _fetch(f"http://{name}/"), network="app", files=True)
        assert out == "hello from the stand-in\n", (name, out)
    getent = shutil.which("getent") or "/usr/bin/getent"
    out = ctrs.output("client", [getent, "hosts", "www"], network="app", files=True)
    assert out.split() == [ep.ip, "www"]
    # nslookup asks the DNS server directly
    out = ctrs.output("client", _bb(busybox, "nslookup", "web"), network="app", files=True)
    assert re.search(rf"Name:\s+web\s*\nAddress:\s+{re.escape(ep.ip)}", out), out
    # names are per network: the default bridge resolves no container names (as in docker)
    out = ctrs.output("other", _fetch("http://web/", 1), files=True)
    assert out.startswith("error:")


def test_networks_are_isolated(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    nets.create("front")
    nets.create("back")
    web = ctrs.run("web", httpd(busybox), network="back", wait_port=80)
    ip = nets.store.endpoint(nets.get("back").id, web.cid).ip  # type: ignore[union-attr]
    same = ctrs.output("c1", _fetch(f"http://{ip}/"), network="back")
    assert same == "hello from the stand-in\n"
    other = ctrs.output("c2", _fetch(f"http://{ip}/", 1), network="front")
    assert other.startswith("error:")


def test_connect_and_disconnect_a_running_container(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    nets.create("one")
    nets.create("two")
    web = ctrs.run("web", httpd(busybox), network="one", wait_port=80)
    ep = nets.connect("two", web.cid, aliases=("api",))
    assert ep.ifname == "eth1" and "eth1:" in Path(f"/proc/{web.pid}/net/dev").read_text()
    out = ctrs.output("client", _fetch("http://api/"), network="two", files=True)
    assert out == "hello from the stand-in\n"
    # a container on both networks resolves names of either (its resolv.conf names one's gateway)
    db = ctrs.run("db", httpd(busybox, 8080), network="two", wait_port=8080)
    out = ctrs.output("both", _fetch("http://db:8080/"), network="one", extra=["two"], files=True)
    assert out == "hello from the stand-in\n"
    with pytest.raises(EndpointExists) as exc:
        nets.connect("two", web.cid)
    assert str(exc.value) == "endpoint with name web already exists in network two"
    with pytest.raises(NetworkInUse):
        nets.remove("two")
    ctrs.stop(db)
    nets.disconnect("two", web.cid)
    assert "eth1:" not in Path(f"/proc/{web.pid}/net/dev").read_text()
    with pytest.raises(NotConnected):
        nets.disconnect("two", web.cid)
    nets.remove("two")


def _golden_stderr(case: str) -> str:
    return golden.expected(case)["stderr"].removeprefix("Error response from daemon: ").rstrip("\n")


def test_network_verbs_in_dockers_words(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    assert [(n.name, n.driver) for n in nets.networks()] == [("bridge", "bridge"), ("host", "host"),
                                                            ("none", "null")]
    assert all(re.fullmatch("[0-9a-f]{64}", n.id) for n in nets.networks())  # golden network-create
    net = nets.create("golden-n")
    with pytest.raises(NetworkExists) as exc:
        nets.create("golden-n")
    assert str(exc.value) == _golden_stderr("network-create-dup")
    ctr = ctrs.run("vn-user", httpd(busybox), network="golden-n", wait_port=80)
    with pytest.raises(NetworkInUse) as exc2:
        nets.remove("golden-n")
    assert re.fullmatch(golden.expected("network-rm-in-use")["stderr_regex"],
                        f"Error response from daemon: {exc2.value}\n")
    with pytest.raises(EndpointExists) as exc3:
        nets.connect("golden-n", ctr.cid)
    assert str(exc3.value) == _golden_stderr("network-connect-again")
    with pytest.raises(NetworkPredefined) as exc4:
        nets.remove("bridge")
    assert str(exc4.value) == _golden_stderr("network-rm-predefined")
    with pytest.raises(NoSuchNetworkDriver) as exc5:
        nets.create("golden-bad", driver="nosuchdriver")
    assert str(exc5.value) == _golden_stderr("network-create-bad-driver")
    with pytest.raises(NoSuchNetwork) as exc6:
        nets.get("nosuchnet")
    assert f"dockernb: Error response from daemon: {exc6.value}." == \
        golden.expected("run-no-such-network")["stderr"].split("\n")[0]
    with pytest.raises(NoSuchNetwork):
        ctrs.run("x", httpd(busybox), network="nosuchnet")
    assert nets.get(net.id[:12]).name == "golden-n"
    ctrs.stop(ctr)
    assert nets.remove("golden-n").name == "golden-n"
    nets.create("spare")
    assert nets.prune() == ["spare"]
    assert [n.name for n in nets.networks()] == ["bridge", "host", "none"]
    if os.geteuid() == 0:  # the bridges are gone from the host too
        assert not Path(f"/sys/class/net/{net.bridge}").exists()
