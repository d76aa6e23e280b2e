"""Engine API figures, dockernb serve vs dockerd in the same run.

- requests per second over one keep-alive connection (``/_ping``, ``/version``, and
  ``/containers/json?all=1`` with 50 containers): the same raw HTTP/1.1 requests, back to back,
  from the same small client (one request in flight, like the docker CLI);
- the docker 20.10 CLI itself: ``docker run --rm busybox true`` and ``docker ps`` wall time,
  ``DOCKER_HOST`` on our socket vs dockerd's (medians).

dockerd comes from ../shared/anchors/setup_reference_engines.sh; if this figure started it, it
stops it again.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from dockernb.testing.apiserver import ServedApi

ANCHORS = Path(__file__).resolve().parents[2] / "shared/anchors/setup_reference_engines.sh"
DOCKERD_SOCK = "/var/run/docker.sock"
PATHS = ("/_ping", "/version")
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client


def _rps(sock_path: str, target: str, *, seconds: float = 2.0, limit: int = 20000) -> float:
    """Requests per second for ``target`` on one keep-alive connection (after 100 warm-up requests)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rb")
    req = f"GET {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockernb-bench\r\n\r\n".encode()

    def one() -> None:
        s.sendall(req)
        length, chunked, status = 0, False, f.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"{target}: {status!r}")
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                chunked = True  # Go's server chunks a large body it did not measure
        if not chunked:
            f.read(length)
            return
        while (size := int(f.readline().split(b";")[0], 16)) > 0:
            f.read(size + 2)
        f.readline()

    try:
        for _ in range(100):
            one()
        n, start = 0, time.perf_counter()
        while n < limit and time.perf_counter() - start < seconds:
            one()
            n += 1
        return n / (time.perf_counter() - start)
    finally:
        f.close()
        s.close()


def _dockerd_up() -> bool:
    try:
        return _rps(DOCKERD_SOCK, "/_ping", seconds=0.01, limit=1) > 0
    except OSError:
        return False


def _cli_ms(host: str, args: list[str], n: int) -> float:
    """Median wall time (ms) of ``docker ARGS`` against ``host`` (after one warm-up run)."""
    env = {**os.environ, "DOCKER_HOST": host}
    env.pop("DOCKER_CONTEXT", None)
    times = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        subprocess.run([DOCKER, *args], env=env, check=True, capture_output=True, timeout=120)
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _cli_rows(ours: str, theirs: str) -> list[str]:
    rows = []
    env = {**os.environ, "DOCKER_HOST": ours}
    subprocess.run([DOCKER, "pull", "-q", "busybox"], env=env, check=True, capture_output=True, timeout=300)
    for label, args, n in (("run --rm busybox true", ["run", "--rm", "busybox", "true"], 15),
                           ("ps", ["ps"], 20)):
        a, b = _cli_ms(ours, args, n), _cli_ms(theirs, args, n)
        rows.append(f"apiserver docker CLI `docker {label}` median ms: dockernb serve {a:.0f} | dockerd {b:.0f} "
                    f"| ratio {a / b:.2f} (lower is better)")
    return rows


def _list_rps(ours: str, theirs: str, count: int = 50) -> str:
    """``GET /containers/json?all=1`` req/s with ``count`` created containers on each engine."""
    made: dict[str, list[str]] = {}
    target = "/v1.41/containers/json?all=1"
    try:
        for host in (ours, theirs):
            env = {**os.environ, "DOCKER_HOST": host}
            made[host] = [subprocess.run([DOCKER, "create", "--label", "dockernb-bench=1", "busybox", "true"],
                                         env=env, check=True, capture_output=True, text=True,
                                         timeout=60).stdout.strip() for _ in range(count)]  # fmt: skip
        a = statistics.median(_rps(ours.removeprefix("unix://"), target) for _ in range(3))
        b = statistics.median(_rps(theirs.removeprefix("unix://"), target) for _ in range(3))
    finally:
        for host, ids in made.items():
            if ids:
                subprocess.run([DOCKER, "rm", "-f", *ids], env={**os.environ, "DOCKER_HOST": host},
                               capture_output=True, timeout=300)
    return (f"apiserver GET /containers/json ({count} containers) keep-alive req/s: dockernb {a:,.0f} | "
            f"dockerd {b:,.0f} | ratio {a / b:.2f} (higher is better)")


def run() -> list[str]:
    started = False
    if not _dockerd_up():
        subprocess.run(["bash", str(ANCHORS), "up"], check=True, capture_output=True, timeout=600)
        started = True
    root = Path(tempfile.mkdtemp(prefix="dockernb-bench-api-", dir="/var/tmp"))
    rows = []
    try:
        with ServedApi(root=root) as api:
            for path in PATHS:
                ours = statistics.median(_rps(str(api.socket_path), path) for _ in range(3))
                theirs = statistics.median(_rps(DOCKERD_SOCK, path) for _ in range(3))
                rows.append(f"apiserver GET {path} keep-alive req/s: dockernb {ours:,.0f} | dockerd {theirs:,.0f} "
                            f"| ratio {ours / theirs:.2f} (higher is better)")
            dockerd = f"unix://{DOCKERD_SOCK}"
            rows += _cli_rows(api.docker_host, dockerd)
            rows.append(_list_rps(api.docker_host, dockerd))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if started and os.geteuid() == 0:
            subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
