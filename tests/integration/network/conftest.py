"""Fixtures for network tests: a Networks per test root, stand-in containers, busybox from the kit.

Every test gets its own state root (so, as root, its own bridge names, subnets and nftables
table); the ``nets`` fixture destroys everything the root put in the kernel and checks that
nothing is left: no bridge, no table, no netd, no hub, no uplink.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockernb.config import load_config
from dockernb.linux.netlink import Netlink
from dockernb.network.base import EndpointRequest, Sandbox, SandboxRequest
from dockernb.network.manager import Networks
from dockernb.spec.ports import parse_port_specs
from dockernb.store.layout import Layout
from dockernb.testing.standin import StandIn


@pytest.fixture(scope="session")
def busybox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's static busybox (from its rootfs tarball), and a web root with index.html."""
    tars = sorted(glob.glob("/var/cache/dockernb/kit/rootfs/busybox-*.tar"))
    tars = [t for t in tars if "arm64" not in t]
    if not tars:
        pytest.fail("the kit's busybox rootfs is missing: run `make kit`")
    d = tmp_path_factory.mktemp("busybox")
    with tarfile.open(tars[0]) as tf:
        member = tf.getmember("bin/busybox")
        src = tf.extractfile(member)
        assert src is not None
        (d / "busybox").write_bytes(src.read())
    (d / "busybox").chmod(0o755)
    www = d / "www"
    (www / "cgi-bin").mkdir(parents=True)
    (www / "index.html").write_text("hello from the stand-in\n")
    return d


def _kernel_leftovers(nets: Networks) -> list[str]:
    out = []
    if not nets.settings.rootless:
        with Netlink() as nl:
            names = {n.bridge for n in nets.store.networks() if n.bridge}
            out += [f"link {link.name}" for link in nl.links() if link.name in names]
        r = subprocess.run(["nft", "list", "table", "ip", nets.settings.table], capture_output=True)
        if r.returncode == 0:
            out.append(f"nft table {nets.settings.table}")
    pid = nets.netd.pid()
    if pid and os.path.exists(f"/proc/{pid}") and b"dockernb.network.netd" in Path(f"/proc/{pid}/cmdline").read_bytes():
        out.append(f"netd {pid}")
    hub = nets.store.state("hub")
    for key in ("pid", "uplink_pid"):
        p = int(hub.get(key, 0))
        if p and os.path.exists(f"/proc/{p}/stat") and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z":
            out.append(f"hub process {p}")
    return out


@pytest.fixture
def nets(root_dir: Path) -> Iterator[Networks]:
    env = {**os.environ, "DOCKERNB_ROOT": str(root_dir)}
    layout = Layout(root_dir)
    layout.ensure()
    n = Networks(layout, load_config(env))
    try:
        yield n
    finally:
        n.destroy()
        left = _kernel_leftovers(n)
        assert not left, f"left behind: {left}"


@dataclass
class Ctr:
    """A stand-in container: its sandbox and its process."""

    name: str
    cid: str
    sandbox: Sandbox
    proc: StandIn

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def files(self) -> dict[str, str]:
        return {"/etc/hosts": self.sandbox.hosts_path, "/etc/resolv.conf": self.sandbox.resolv_path}


class Containers:
    """Starts stand-ins the way the engine will start containers, and stops them all at the end."""

    def __init__(self, nets: Networks, root: Path) -> None:
        self.nets, self.root = nets, root
        self.all: list[Ctr] = []
        self.veths: set[str] = set()  # host ends, to check that none outlives its container

    def run(self, name: str, argv: Sequence[str], *, network: str = "bridge", ports: Sequence[str] = (),
            aliases: Sequence[str] = (), publish_all: bool = False, exposed: Sequence[tuple[int, str]] = (),
            joined: Ctr | None = None, wait_port: int = 0, files: bool = False, stdout: int | None = None,
            cwd: str | None = None, extra: Sequence[str] = ()) -> Ctr:
        cid = os.urandom(32).hex()
        req = SandboxRequest(
            container_id=cid, name=name, hostname=cid[:12], files_dir=self.root / "containers" / cid,
            network_mode=f"container:{joined.cid}" if joined else network, joined_pid=joined.pid if joined else 0,
            joined_files_dir=Path(joined.sandbox.hosts_path).parent if joined else None,
            aliases=tuple(aliases), ports=tuple(parse_port_specs(ports)), publish_all=publish_all,
            exposed=tuple(exposed), extra_networks=tuple(EndpointRequest(network=n) for n in extra))
        sb = self.nets.create_sandbox(req)
        try:
            mounts = {"/etc/hosts": sb.hosts_path, "/etc/resolv.conf": sb.resolv_path} if files else None
            proc = StandIn(sb.plan, argv, files=mounts, stdout=stdout, cwd=cwd)
        except BaseException:
            self.nets.teardown(cid)
            raise
        ctr = Ctr(name, cid, sb, proc)
        self.all.append(ctr)
        try:
            ctr.sandbox = self.nets.attach(cid, proc.pid)
        except BaseException:
            self.stop(ctr)
            raise
        record = self.nets.store.sandbox(cid)
        for nid in record.networks if record else []:
            ep = self.nets.store.endpoint(nid, cid)
            if ep is not None and ep.host_ifname:
                self.veths.add(ep.host_ifname)
        proc.start()
        if wait_port:
            proc.wait_listening(wait_port)
        return ctr

    def stop(self, ctr: Ctr) -> None:
        """What the engine does at container exit: the process ends, then teardown."""
        ctr.proc.stop()
        self.nets.teardown(ctr.cid)

    def output(self, name: str, argv: Sequence[str], timeout: float = 10, **kw: object) -> str:
        """Run a one-shot stand-in (a client) and return what it printed."""
        r, w = os.pipe()
        try:
            ctr = self.run(name, argv, stdout=w, **kw)  # type: ignore[arg-type]
        finally:
            os.close(w)
        chunks = []
        deadline = time.monotonic() + timeout
        os.set_blocking(r, False)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(r, 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        self.stop(ctr)
        return b"".join(chunks).decode(errors="replace")

    def close(self) -> None:
        for ctr in self.all:
            with contextlib.suppress(Exception):
                self.stop(ctr)

    def leftover_veths(self, timeout: float = 3.0) -> list[str]:
        """Host-side veths still present (the kernel removes them with the dead namespace)."""
        if self.nets.settings.rootless:
            return []  # they live in the hub, which destroy() removes whole
        deadline = time.monotonic() + timeout
        while True:
            left = sorted(v for v in self.veths if Path(f"/sys/class/net/{v}").exists())
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)


@pytest.fixture
def ctrs(nets: Networks, root_dir: Path) -> Iterator[Containers]:
    c = Containers(nets, root_dir)
    try:
        yield c
    finally:
        c.close()
        assert c.leftover_veths() == []


def httpd(busybox: Path, port: int = 80) -> list[str]:
    return [str(busybox / "busybox"), "httpd", "-f", "-p", str(port), "-h", str(busybox / "www")]


def http_get(host: str, port: int, path: str = "/", timeout: float = 2.0) -> str:
    """One GET with a short timeout (a DNAT without route_localnet hangs rather than fails)."""
    h = f"[{host}]" if ":" in host else host
    with urllib.request.urlopen(f"http://{h}:{port}{path}", timeout=timeout) as resp:  # noqa: S310 - loopback only
        return str(resp.read().decode())


def refused(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when nothing answers there any more (refused or timed out)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(100) == b""
        except OSError:
            return True


def free_port() -> int:
    """A port free on both 0.0.0.0 and :: right now."""
    for _ in range(50):
        with socket.socket() as s4, socket.socket(socket.AF_INET6) as s6:
            s4.bind(("0.0.0.0", 0))
            port = int(s4.getsockname()[1])
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s6.bind(("::", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")
