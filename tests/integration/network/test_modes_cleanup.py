"""none/host/container modes; and crash safety: what reconcile() cleans and restores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockernb.errors import InvalidNetworkMode
from dockernb.network.base import NetnsMode
from dockernb.network.manager import Networks
from tests.integration.network.conftest import Containers, free_port, http_get, httpd, refused

pytestmark = pytest.mark.rootless

PROBE = ("import socket\n"
         "ifs = sorted(l.split(':')[0].strip() for l in open('/proc/self/net/dev').read().splitlines()[2:])\n"
         "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
         "socket.create_connection(s.getsockname(), timeout=1)\n"
         "print(' '.join(ifs), 'lo-up')")


def _bridge_ports(nets: Networks, bridge: str) -> list[str]:
    with nets.place().netlink() as nl:
        br = nl.link(bridge)
        return [] if br is None else [link.name for link in nl.links() if link.master == br.index]


def test_none_host_and_container_modes(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    assert ctrs.output("n", [sys.executable, "-c", PROBE], network="none").split() == ["lo", "lo-up"]
    host = ctrs.run("h", [sys.executable, "-c", "import time; time.sleep(30)"], network="host")
    assert host.sandbox.plan.mode == NetnsMode.HOST
    assert Path(host.sandbox.hosts_path).read_text() == Path("/etc/hosts").read_text()
    assert Path(f"/proc/{host.pid}/ns/net").readlink() == Path("/proc/self/ns/net").readlink()
    web = ctrs.run("web", httpd(busybox), wait_port=80)
    code = ("import urllib.request; "
            "print(urllib.request.urlopen('http://127.0.0.1/', timeout=2).read().decode(), end='')")
    out = ctrs.output("side", [sys.executable, "-c", code], joined=web)
    assert out == "hello from the stand-in\n"  # the sidecar shares web's namespace
    with pytest.raises(InvalidNetworkMode, match="conflicting options: port publishing and the container type"):
        ctrs.run("side2", [sys.executable, "-c", "pass"], joined=web, ports=["8080:80"])


def test_reconcile_tears_down_dead_containers(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    p = free_port()
    web = ctrs.run("web", httpd(busybox), ports=[f"{p}:80"], wait_port=80)
    bridge = nets.get("bridge")
    assert len(_bridge_ports(nets, bridge.bridge)) == 1
    web.proc.stop()  # the container dies and nobody calls teardown (a killed monitor)
    report = nets.reconcile()
    assert report.removed == [web.cid]
    assert list(nets.store.sandboxes()) == [] and nets.store.endpoints(bridge.id) == []
    assert refused("127.0.0.1", p)
    if not nets.settings.rootless:
        nft = subprocess.run(["nft", "list", "table", "ip", nets.settings.table], capture_output=True, text=True)
        assert f"{p} :" not in nft.stdout  # no DNAT entry left
    deadline = time.monotonic() + 3  # the kernel removes the veth with the dead namespace
    while _bridge_ports(nets, bridge.bridge) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _bridge_ports(nets, bridge.bridge) == []
    assert nets.reconcile().removed == []  # idempotent


def test_reconcile_restores_ports_after_netd_dies(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    p = free_port()
    ctrs.run("web", httpd(busybox), ports=[f"{p}:80"], wait_port=80)
    assert http_get("::1", p) == "hello from the stand-in\n"
    pid = nets.netd.pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while nets.netd.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert refused("::1", p)  # the proxy is gone
    # a new engine process (a new Networks over the same root) reconciles at start
    fresh = Networks(nets.layout, __import__("dockernb.config", fromlist=["load_config"]).load_config(
        {**os.environ, "DOCKERNB_ROOT": str(nets.layout.root)}))
    report = fresh.reconcile()
    assert len(report.restored) == 1 and not report.problems
    assert http_get("::1", p) == "hello from the stand-in\n"
    assert http_get("127.0.0.1", p) == "hello from the stand-in\n"


def test_reconcile_restarts_the_dns_responder(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    net = nets.create("app")
    ctrs.run("web", httpd(busybox), network="app", wait_port=80)
    os.kill(nets.netd.pid(), signal.SIGKILL)
    deadline = time.monotonic() + 3
    while nets.netd.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not nets.netd.alive()
    assert nets.reconcile().problems == []  # no ports here: DNS alone is a reason to bring netd back
    assert nets.netd.call({"op": "reload"})["dns"] == [net.gateway]
    fetch = ("import sys, urllib.request\n"
             "try: sys.stdout.write(urllib.request.urlopen('http://web/', timeout=2).read().decode())\n"
             "except Exception as e: sys.stdout.write(f'error: {e}')")
    assert ctrs.output("c", [sys.executable, "-c", fetch], network="app", files=True) == "hello from the stand-in\n"


def test_teardown_is_idempotent_and_frees_everything(nets: Networks, ctrs: Containers, busybox: Path) -> None:
    nets.create("app")
    web = ctrs.run("web", httpd(busybox), network="app", ports=["80"], wait_port=80)
    net = nets.get("app")
    ctrs.stop(web)
    nets.teardown(web.cid)
    nets.teardown("0" * 64)  # never existed: fine
    assert nets.store.endpoints(net.id) == [] and nets.ports(web.cid) == []
    assert nets.netd.call({"op": "list"})["containers"] == {}


CONCURRENT = """
import os, sys
from pathlib import Path
from dockernb.config import load_config
from dockernb.network.base import SandboxRequest
from dockernb.network.manager import Networks
from dockernb.store.layout import Layout
root = Path(sys.argv[1])
nets = Networks(Layout(root), load_config({**os.environ, "DOCKERNB_ROOT": str(root)}))
for i in range(15):
    cid = os.urandom(32).hex()
    nets.create_sandbox(SandboxRequest(container_id=cid, name=f"{sys.argv[2]}{i}", hostname=cid[:12],
                                       files_dir=root / "containers" / cid, network_mode="app"))
print("done", flush=True)
sys.stdin.read()  # hold on (an engine between create_sandbox and attach) until told to go
"""


def test_concurrent_engines_get_distinct_addresses(nets: Networks) -> None:
    """Two engine processes allocating at once on one root; then both die before attach."""
    net = nets.create("app")
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(nets.layout.root), tag],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for tag in "ab"]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "done"
    ips = [ep.ip for ep in nets.store.endpoints(net.id)]
    assert len(ips) == 30 and len(set(ips)) == 30
    assert nets.reconcile().removed == []  # their engines are alive: not stale
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    # their creators are gone and nothing was attached: reconcile frees every address
    assert len(nets.reconcile().removed) == 30
    assert nets.store.endpoints(net.id) == [] and list(nets.store.sandboxes()) == []
