"""Figures for networking: a GET through a published port, and the cost of a container's network.

1. One HTTP GET to busybox httpd through a published port (curl's time_total, 200 sequential
   GETs from one curl process, a new TCP connection each, as ../shared/anchors measured):
   dockernb's kernel DNAT (127.0.0.1), netd's userspace proxy (userland-proxy mode, and the IPv6
   path [::1]), rootless (netd in the hub, when the rootless copy of the tree exists), beside
   the host's own httpd, docker (docker-proxy) and podman (netavark DNAT) when they run.
2. Setting up and tearing down the default network for one container, minus the same with
   ``--network none``: ``create_sandbox`` + the container's process (a stand-in: fork, new
   netns, exec /bin/true) + ``attach`` + exit + ``teardown``. The runtime is not wired yet, so
   this is the networking share of ``run --rm busybox true`` (target < 30 ms; docker adds 75 ms
   and podman 180 ms, measured live below when they run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dockernb.config import load_config
from dockernb.network.base import SandboxRequest
from dockernb.network.manager import Networks
from dockernb.spec.ports import parse_port_specs
from dockernb.store.layout import Layout
from dockernb.testing.standin import StandIn

NREQ = int(os.environ.get("BENCH_NREQ", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
DOCKER = "/usr/bin/docker"
HTTPD_CMD = "mkdir -p /www && echo hello-from-container > /www/index.html && exec busybox httpd -f -p 80 -h /www"
# where tests/rootless/run-as-user.sh keeps this tree's world-readable copy (one per source tree)
_TREE = Path(__file__).resolve().parents[1]
_DIGEST = hashlib.sha256((str(_TREE) + "\n").encode()).hexdigest()[:8]  # as `pwd | sha256sum`
ROOTLESS_DIR = Path(os.environ.get("DOCKERNB_ROOTLESS_DIR") or f"/var/tmp/dockernb-rootless-{_DIGEST}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _busybox(work: Path) -> Path:
    tars = [t for t in sorted(Path("/var/cache/dockernb/kit/rootfs").glob("busybox-*.tar")) if "arm64" not in t.name]
    with tarfile.open(tars[0]) as tf:
        src = tf.extractfile(tf.getmember("bin/busybox"))
        assert src is not None
        (work / "busybox").write_bytes(src.read())
    (work / "busybox").chmod(0o755)
    (work / "www").mkdir(exist_ok=True)
    (work / "www" / "index.html").write_text("hello-from-container\n")
    return work


def _wait(url: str) -> bool:
    for _ in range(100):
        if subprocess.run(["curl", "-fsS", "-m", "1", "-o", "/dev/null", url], capture_output=True).returncode == 0:
            return True
        time.sleep(0.05)
    return False


def _curl_median_us(url: str) -> float | None:
    if not _wait(url):
        return None
    args = []
    for _ in range(NREQ):
        args += ["-o", "/dev/null", url]
    out = subprocess.run(["curl", "-s", "-w", "%{time_total}\n", *args], capture_output=True, text=True).stdout
    vals = [float(x) * 1e6 for x in out.split()]
    return statistics.median(vals) if len(vals) == NREQ else None


@contextlib.contextmanager
def _networks(work: Path, name: str, **env: str) -> Iterator[Networks]:
    root = work / name
    layout = Layout(root)
    layout.ensure()
    nets = Networks(layout, load_config({**os.environ, "DOCKERNB_ROOT": str(root), **env}))
    try:
        yield nets
    finally:
        nets.destroy()


@contextlib.contextmanager
def _httpd_container(nets: Networks, bb: Path, ports: list[str]) -> Iterator[None]:
    cid = os.urandom(32).hex()
    req = SandboxRequest(container_id=cid, name="nbnet-http", hostname=cid[:12],
                         files_dir=nets.layout.container(cid), ports=tuple(parse_port_specs(ports)))
    sb = nets.create_sandbox(req)
    proc = StandIn(sb.plan, [str(bb / "busybox"), "httpd", "-f", "-p", "80", "-h", str(bb / "www")])
    try:
        nets.attach(cid, proc.pid)
        proc.start()
        proc.wait_listening(80)
        yield
    finally:
        proc.stop()
        nets.teardown(cid)





def _samples_us(url: str, n: int) -> list[float]:
    args = []
    for _ in range(n):
        args += ["-o", "/dev/null", url]
    out = subprocess.run(["curl", "-s", "-w", "%{time_total}\n", *args], capture_output=True, text=True).stdout
    return [float(x) * 1e6 for x in out.split()]


def _interleaved(urls: dict[str, str]) -> dict[str, float | None]:
    """NREQ GETs per target in ROUNDS interleaved rounds: on a shared, busy machine every target
    sees the same load, so the medians compare even when the absolute values drift."""
    ready = {label: url for label, url in urls.items() if _wait(url)}
    samples: dict[str, list[float]] = {label: [] for label in ready}
    per_round = max(1, NREQ // ROUNDS)
    for _ in range(ROUNDS):
        for label, url in ready.items():
            samples[label] += _samples_us(url, per_round)
    return {label: (statistics.median(samples[label]) if samples.get(label) else None) for label in urls}


@contextlib.contextmanager
def _host_httpd(bb: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([str(bb / "busybox"), "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(bb / "www")])
    try:
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _engine_httpd(engine: list[str], stop: list[str]) -> Iterator[str | None]:
    port = _free_port()
    try:
        r = subprocess.run([*engine, "run", "-d", "--name", "nbnet-http", "-p", f"127.0.0.1:{port}:80", "busybox",
                            "sh", "-c", HTTPD_CMD], capture_output=True, text=True, timeout=120)
        yield f"http://127.0.0.1:{port}/index.html" if r.returncode == 0 else None
    finally:
        subprocess.run(stop, capture_output=True, timeout=120)


def _engine_ok(engine: list[str]) -> bool:
    if not shutil.which(engine[0]):
        return False
    r = subprocess.run([*engine, "image", "inspect", "busybox"], capture_output=True, timeout=30)
    return r.returncode == 0



def _rootless_http() -> float | None:
    """The same GET as rootless (netd proxy inside the hub), run as the test user from the rootless copy."""
    src, py = ROOTLESS_DIR / "src", ROOTLESS_DIR / "venv" / "bin" / "python"
    if os.geteuid() != 0 or not (src / "bench" / "fig_network.py").exists() or not py.exists():
        return None
    user = os.environ.get("DOCKERNB_TEST_USER", "dockernb-test")
    try:
        uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True, check=True).stdout)
    except (subprocess.CalledProcessError, ValueError):
        return None
    r = subprocess.run(["runuser", "-u", user, "--", "env", "-i", f"HOME=/home/{user}", "PATH=/usr/bin:/bin",
                        f"XDG_RUNTIME_DIR=/run/user/{uid}", f"BENCH_NREQ={NREQ}", str(py), "-m", "bench.fig_network",
                        "rootless-http"], cwd=src, capture_output=True, text=True, timeout=300)
    try:
        value = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return float(value) if value is not None else None



def _setup_costs(work: Path) -> tuple[list[float], list[float]]:
    """(none, bridge) per-container costs in ms, measured alternately."""
    none: list[float] = []
    bridge: list[float] = []
    with _networks(work, "cost") as nets:
        nets.ensure_predefined()
        for i in range(2 * (RUNS + 3)):
            mode = "none" if i % 2 == 0 else "bridge"
            cid = os.urandom(32).hex()
            t0 = time.perf_counter()
            sb = nets.create_sandbox(SandboxRequest(container_id=cid, name=f"c{i}", hostname=cid[:12],
                                                    files_dir=nets.layout.container(cid), network_mode=mode))
            proc = StandIn(sb.plan, ["/bin/true"])
            nets.attach(cid, proc.pid)
            proc.start()
            os.waitpid(proc.pid, 0)
            nets.teardown(cid)
            if i >= 6:  # warm-up: the bridge, the table
                (none if mode == "none" else bridge).append((time.perf_counter() - t0) * 1000)
            shutil.rmtree(nets.layout.container(cid), ignore_errors=True)
    return none, bridge


def _engine_net_cost(engine: list[str]) -> float | None:
    """docker/podman: run --rm busybox true, default network minus --network none (alternating runs)."""
    default: list[float] = []
    none: list[float] = []
    try:
        for i in range(20):
            extra = [] if i % 2 == 0 else ["--network", "none"]
            t0 = time.perf_counter()
            subprocess.run([*engine, "run", "--rm", *extra, "busybox", "true"], capture_output=True, timeout=120,
                           check=True)
            (default if i % 2 == 0 else none).append((time.perf_counter() - t0) * 1000)
    except subprocess.CalledProcessError:
        return None
    return statistics.median(default) - statistics.median(none)


def _row(metric: str, engine: str, value: float | None, unit: str) -> str:
    return f"{metric} | {engine} | " + (f"{value:.0f} {unit}" if value is not None else "not measured")


def run() -> list[str]:
    if os.geteuid() != 0:
        return ["network | figures need root (bridges, nftables); run `make bench` as root"]
    work = Path(tempfile.mkdtemp(prefix="dockernb-bench-net-"))
    rows = []
    docker, podman = [DOCKER], ["podman"]
    try:
        bb = _busybox(work)
        get = f"HTTP GET through -p (median of {NREQ}, {ROUNDS} interleaved rounds)"
        p1, p2, p3 = _free_port(), _free_port(), _free_port()
        with contextlib.ExitStack() as stack:
            urls: dict[str, str] = {"host busybox httpd (no container)": stack.enter_context(_host_httpd(bb))}
            dnat = stack.enter_context(_networks(work, "dnat"))
            stack.enter_context(_httpd_container(dnat, bb, [f"127.0.0.1:{p1}:80", f"{p2}:80"]))
            urls["dockernb root, kernel DNAT (127.0.0.1)"] = f"http://127.0.0.1:{p1}/index.html"
            urls["dockernb root, netd proxy ([::1], IPv6 path)"] = f"http://[::1]:{p2}/index.html"
            proxy = stack.enter_context(_networks(work, "proxy", DOCKERNB_USERLAND_PROXY="1"))
            stack.enter_context(_httpd_container(proxy, bb, [f"127.0.0.1:{p3}:80"]))
            urls["dockernb root, userland-proxy mode (netd, 127.0.0.1)"] = f"http://127.0.0.1:{p3}/index.html"
            if _engine_ok(docker):
                url = stack.enter_context(_engine_httpd(docker, [DOCKER, "rm", "-f", "nbnet-http"]))
                if url:
                    urls["docker 20.10 (docker-proxy)"] = url
            if _engine_ok(podman):
                url = stack.enter_context(_engine_httpd(podman, ["podman", "rm", "-f", "-t", "0", "nbnet-http"]))
                if url:
                    urls["podman 4.3 (netavark DNAT)"] = url
            for label, value in _interleaved(urls).items():
                rows.append(_row(get, label, value, "us"))
        if not any("docker" in r for r in rows):
            rows.append(f"{get} | docker | not measured (no docker daemon with busybox)")
        rows.append(_row(get, "dockernb rootless (netd proxy in the hub; measured after the others)",
                         _rootless_http(), "us"))
        none_ms, bridge_ms = _setup_costs(work)
        none, bridge = statistics.median(none_ms), statistics.median(bridge_ms)
        cost = "network setup + teardown, one container"
        rows.append(_row(cost, "dockernb --network none (create_sandbox..teardown, with the process)", none, "ms"))
        rows.append(_row(cost, "dockernb default bridge (same)", bridge, "ms"))
        rows.append(f"{cost} | dockernb bridge minus none (target < 30 ms) | {bridge - none:.1f} ms")
        if _engine_ok(docker):
            rows.append(_row(cost, "docker: run --rm busybox true, default minus --network none",
                             _engine_net_cost(docker), "ms"))
        if _engine_ok(podman):
            rows.append(_row(cost, "podman: run --rm busybox true, default minus --network none",
                             _engine_net_cost(podman), "ms"))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rootless_main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dockernb-bench-net-", dir=os.environ.get("XDG_RUNTIME_DIR")))
    try:
        bb = _busybox(work)
        port = _free_port()
        with _networks(work, "rootless") as nets, _httpd_container(nets, bb, [f"127.0.0.1:{port}:80"]):
            print(json.dumps(_curl_median_us(f"http://127.0.0.1:{port}/index.html")))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["rootless-http"]:
        _rootless_main()
    else:
        print("\n".join(run()))
