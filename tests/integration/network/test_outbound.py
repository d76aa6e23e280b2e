"""Outbound traffic: root through nftables masquerade (with docker's FORWARD DROP around, and
ip_forward switched on only when a bridge network is used), rootless through pasta or
slirp4netns. Targets are only the project's own namespaces and the host's loopback."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockernb.config import load_config
from dockernb.linux import netns
from dockernb.linux.netlink import Netlink
from dockernb.network.base import NamespacePlan, NetnsMode
from dockernb.network.manager import Networks
from dockernb.store.layout import Layout
from dockernb.testing.standin import StandIn
from tests.integration.network.conftest import Containers

FETCH = ("import sys, urllib.request\n"
         "try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())\n"
         "except Exception as e: sys.stdout.write(f'error: {e}')")

FAKE_DOCKER = """
table ip filter {
  chain DOCKER-USER { counter return; }
  chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; }
}
"""


def _in_private_netns(scenario: Callable[[], None]) -> None:
    """Run ``scenario`` in a forked child inside a fresh network namespace (the host stays untouched)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            netns.unshare(netns.CLONE_NEWNET)
            with Netlink() as nl:
                nl.set_link(1, up=True)
            scenario()
        except BaseException:  # noqa: BLE001 - reported to the parent
            os.write(w, traceback.format_exc().encode()[-8000:])
            code = 1
        os._exit(code)
    os.close(w)
    report = b""
    while chunk := os.read(r, 65536):
        report += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        pytest.fail("scenario failed in the private namespace:\n" + report.decode(errors="replace"))


@pytest.mark.requires_root
def test_masquerade_and_docker_forward_drop(busybox: Path) -> None:
    def scenario() -> None:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("0")
        subprocess.run(["nft", "-f", "-"], input=FAKE_DOCKER, text=True, check=True)
        # the "outside": a namespace of ours at 10.254.0.2, telling who connected (CGI REMOTE_ADDR)
        www = Path(tempfile.mkdtemp(prefix="dockernb-outside-"))
        (www / "cgi-bin").mkdir()
        script = www / "cgi-bin" / "ip"
        script.write_text('#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n')
        script.chmod(0o755)
        outside = StandIn(NamespacePlan(mode=NetnsMode.NEW),
                          [str(busybox / "busybox"), "httpd", "-f", "-p", "80", "-h", str(www)])
        root = Path(tempfile.mkdtemp(prefix="dockernb-test-root-", dir="/var/tmp"))
        nets = Networks(Layout(root), load_config({**os.environ, "DOCKERNB_ROOT": str(root)}))
        ctrs = Containers(nets, root)
        try:
            with Netlink() as nl:
                fd = os.open(f"/proc/{outside.pid}/ns/net", os.O_RDONLY)
                nl.add_veth("vout0", "eth0", peer_netns_fd=fd)
                os.close(fd)
                idx = nl.index("vout0")
                nl.add_addr(idx, "10.254.0.1/30")
                nl.add_route(gateway="10.254.0.2", oif=idx)
            with nets.place().container_netlink(outside.pid) as nl:
                e = nl.index("eth0")
                nl.set_link(e, up=True)
                nl.set_link(1, up=True)
                nl.add_addr(e, "10.254.0.2/30")
            outside.start()
            outside.wait_listening(80)
            assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"
            ctrs.output("n", [sys.executable, "-c", "pass"], network="none")
            assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"  # not needed yet
            web = ctrs.run("web", [str(busybox / "busybox"), "httpd", "-f", "-p", "80", "-h",
                                   str(busybox / "www")], wait_port=80)
            assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
            bridge = nets.get("bridge").bridge
            rules = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True).stdout
            assert f"-i {bridge} " in rules and f"-o {bridge} " in rules, rules
            got = ctrs.output("c", [sys.executable, "-c", FETCH, "http://10.254.0.2/cgi-bin/ip"])
            # masqueraded behind the host's address (busybox httpd listens on [::]: a v4-mapped address)
            assert got.strip().removeprefix("[::ffff:").removesuffix("]") == "10.254.0.1", got
            ip = nets.store.endpoint(nets.get("bridge").id, web.cid).ip  # type: ignore[union-attr]
            same = ctrs.output("c2", [sys.executable, "-c", FETCH, f"http://{ip}/"])
            assert same == "hello from the stand-in\n", same  # same bridge, through br_netfilter's FORWARD
            assert any(p.name == "forwarding firewall" and "docker's chains present" in p.detail
                       for p in nets.probes())
        finally:
            ctrs.close()
            nets.destroy()
            outside.stop()
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(www, ignore_errors=True)
        rules = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True).stdout
        assert "dockernb" not in rules, rules

    _in_private_netns(scenario)


@pytest.fixture
def host_server() -> Iterator[tuple[str, int]]:
    """An HTTP server on the host: on loopback (rootless) or the bridge gateway (root, set later)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = f"host saw {self.client_address[0]}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "127.0.0.1", int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()


UPLINKS = ["pasta", "slirp4netns"] if os.geteuid() != 0 else ["root"]


@pytest.mark.rootless
@pytest.mark.parametrize("uplink", UPLINKS)
def test_containers_reach_out(uplink: str, root_dir: Path, host_server: tuple[str, int], busybox: Path) -> None:
    """Rootless: through each uplink to the host's loopback (host loopback allowed for this test);
    root: to a server on the host's side of the bridge."""
    env = {**os.environ, "DOCKERNB_ROOT": str(root_dir), "DOCKERNB_ROOTLESS_HOST_LOOPBACK": "1"}
    if uplink != "root":
        env["DOCKERNB_ROOTLESS_NETWORK"] = uplink
    nets = Networks(Layout(root_dir), load_config(env))
    ctrs = Containers(nets, root_dir)
    try:
        _, port = host_server
        if uplink == "root":
            target = f"http://127.0.0.1:{port}/"  # via the host's own loopback from its namespace: not forwarded
            nets.ensure_predefined()
            gw = nets.get("bridge").gateway
            # route_localnet lets a container reach a 127.0.0.1 DNAT; plain host services listen on the gateway
            srv = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", gw, "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                line = srv.stdout.readline() if srv.stdout else ""
                gport = int(line.split("port ")[1].split()[0])
                got = ctrs.output("c", [sys.executable, "-c", FETCH, f"http://{gw}:{gport}/"])
                assert "Directory listing" in got, got
            finally:
                srv.terminate()
                srv.wait()
                if srv.stdout:
                    srv.stdout.close()
            del target
        else:
            nets.place()
            hub = nets.hub.state() if nets.hub else None
            assert hub is not None and hub.uplink == uplink and hub.host_loopback
            got = ctrs.output("c", [sys.executable, "-c", FETCH, f"http://{hub.host_loopback}:{port}/"])
            assert got.startswith("host saw 127.0.0.1"), got
    finally:
        ctrs.close()
        nets.destroy()
