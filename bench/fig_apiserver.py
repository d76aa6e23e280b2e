"""Engine API requests per second over one keep-alive connection: dockernb serve vs dockerd.

Both servers are asked the same raw HTTP/1.1 requests, back to back, by the same small client
(one request in flight, like the docker CLI), in the same run. dockerd comes from
../shared/anchors/setup_reference_engines.sh; if this figure started it, it stops it again.
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


def _rps(sock_path: str, target: str, *, seconds: float = 2.0, limit: int = 20000) -> float:
    """Requests per second for ``target`` on one keep-alive connection (after 100 warm-up requests)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rb")
    req = f"GET {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockernb-bench\r\n\r\n".encode()

    def one() -> None:
        s.sendall(req)
        length, status = 0, f.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"{target}: {status!r}")
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        f.read(length)

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
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if started and os.geteuid() == 0:
            subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
