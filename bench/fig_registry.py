"""Figure: fetching debian:bookworm's 63 MB layer from the kit's open registry to /dev/null.

dockernb's registry client (hashing every byte as it passes, as a pull does) side by side with
``skopeo copy ... dir:`` (manifest, config and layer written to disk; ../shared/anchors: 0.3 s) and
``curl -o /dev/null`` (the wire alone), all in the same run, page cache dropped before each sample
(as ../shared/anchors does; needs root, otherwise the row says "warm cache"). Also the cost of
importing the client, the reason it is built on the stdlib's http.client.

``python -m bench.fig_registry`` prints the rows; ``python -m bench.fig_registry fetch REF`` is the
fresh-process measurement (interpreter start, imports, resolve, fetch).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

REF = "127.0.0.1:5000/library/debian:bookworm"
RUNS = int(os.environ.get("DOCKERNB_BENCH_RUNS", "5"))


def _drop_caches() -> bool:
    if os.geteuid() != 0:
        return False
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")
    return True


def _fetch(ref_text: str) -> tuple[int, str]:
    """Resolve and stream the first layer to nowhere, verified; returns (bytes, digest)."""
    from dockernb.config import load_config
    from dockernb.registry import RegistryClient
    from dockernb.spec.reference import parse_reference

    client = RegistryClient(load_config())
    try:
        resolved = client.resolve(parse_reference(ref_text))
        layer = resolved.manifest.layers[0]
        buf = bytearray(1 << 20)
        total = 0
        with client.open_blob(resolved.source, layer) as reader:
            while n := reader.readinto(buf):
                total += n
        return total, str(layer.digest)
    finally:
        client.close()


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run() -> list[str]:
    if not shutil.which("skopeo") or not shutil.which("curl"):
        return ["fig_registry: skopeo and curl are needed"]
    from dockernb.config import load_config
    from dockernb.registry import RegistryClient
    from dockernb.spec.reference import parse_reference

    client = RegistryClient(load_config())
    resolved = client.resolve(parse_reference(REF))
    layer = resolved.manifest.layers[0]
    url = f"http://127.0.0.1:5000/v2/{resolved.source.path}/blobs/{layer.digest}"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    samples: dict[str, list[float]] = {"inproc": [], "process": [], "skopeo": [], "curl": []}
    cold = True

    def inproc() -> None:
        h = hashlib.sha256()
        with client.open_blob(resolved.source, layer) as reader:
            buf = bytearray(1 << 20)
            while n := reader.readinto(buf):
                h.update(memoryview(buf)[:n])  # a second hash, as the content store's writer would do

    with tempfile.TemporaryDirectory(prefix="dockernb-bench-") as scratch:
        target = os.path.join(scratch, "dir")
        for _ in range(RUNS):
            cold = _drop_caches() and cold
            samples["inproc"].append(_timed(inproc))
            cold = _drop_caches() and cold
            samples["process"].append(_timed(lambda: subprocess.run(
                [sys.executable, "-m", "bench.fig_registry", "fetch", REF], check=True, env=env,
                stdout=subprocess.DEVNULL)))  # fmt: skip
            cold = _drop_caches() and cold
            samples["skopeo"].append(_timed(lambda: subprocess.run(
                ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{REF}", f"dir:{target}"],
                check=True)))  # fmt: skip
            shutil.rmtree(target, ignore_errors=True)
            cold = _drop_caches() and cold
            samples["curl"].append(_timed(lambda: subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", url], check=True)))  # fmt: skip
    client.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dockernb.registry.transport"],
        env=env, capture_output=True, text=True, check=True,
    ).stderr.splitlines()
    cumulative = {line.split("|")[2].strip(): int(line.split("|")[1]) for line in imports if line.count("|") == 2
                  and line.split("|")[1].strip().isdigit()}  # fmt: skip
    http_client = cumulative.get("http.client", 0)
    client_total = cumulative.get("dockernb.registry.transport", 0)
    cache = "cold cache" if cold else "warm cache (not root: page cache not dropped)"
    return [
        f"registry fetch of {REF} layer ({layer.size / 1e6:.1f} MB, sha256 verified), {cache}, median of {RUNS}: "
        f"dockernb {med['inproc']:.3f}s in-process, {med['process']:.3f}s as a fresh process | "
        f"skopeo copy dir: {med['skopeo']:.3f}s | curl -o /dev/null {med['curl']:.3f}s | "
        f"ratio dockernb/skopeo {med['inproc'] / med['skopeo']:.2f} (process {med['process'] / med['skopeo']:.2f}), "
        f"dockernb/curl {med['inproc'] / med['curl']:.2f}",
        f"registry client transport: stdlib http.client, import {http_client / 1000:.1f} ms "
        f"(dockernb.registry.transport with its dependencies {client_total / 1000:.1f} ms; httpx 0.28 measured at "
        "~115 ms here, for the same wire speed)",
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "fetch":
        size, digest = _fetch(sys.argv[2] if len(sys.argv) > 2 else REF)
        print(size, digest)
    else:
        for row in run():
            print(row)
