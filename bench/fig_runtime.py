"""Figure: ``run busybox true`` from a prepared bundle to the exit code, dockernb's runtime vs runc.

One bundle, written by dockernb.runtime.bundle with docker's defaults (14 capabilities, the default
seccomp filter, masked paths, a new network namespace, cgroups in every v1 hierarchy, a
read-only busybox root), run side by side, alternating, N times each:

- dockernb in-process: ``dockernb.runtime.run`` (create + start + wait + delete) from this process;
- runc: ``runc run -b <bundle>`` as a subprocess (how the reference 12.6 ms was measured);
- dockernb CLI: ``python -m dockernb.runtime run -b <bundle>`` (Python's start-up counts).

Rows: metric, engine, n, min, median, max (ms), and the median ratio to runc. Needs root.
``python -m bench.fig_runtime`` runs just this figure (``RUNS=n`` sets the repetitions).
"""

from __future__ import annotations

import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("RUNS", "30"))


def _busybox_tar() -> Path:
    kit = Path(os.environ.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit"))
    found = [p for p in glob.glob(str(kit / "rootfs" / "busybox-*.tar")) if "arm64" not in p]
    if not found:
        raise RuntimeError(f"no busybox rootfs in {kit}/rootfs: run `make kit`")
    return Path(sorted(found)[0])


def _row(metric: str, engine: str, samples: list[float], base: float | None) -> str:
    med = statistics.median(samples)
    ratio = f"{med / base:.2f}x runc" if base else "reference"
    return (f"{metric} | {engine} | n={len(samples)} | min {min(samples):.1f} | median {med:.1f} | "
            f"max {max(samples):.1f} ms | {ratio}")


def run() -> list[str]:
    if os.geteuid() != 0:
        return ["runtime: run busybox true | skipped: the runc comparison needs root"]
    if shutil.which("runc") is None:
        raise RuntimeError("runc is not installed")
    from dockernb import runtime as rt
    from dockernb.runtime.bundle import ContainerIntent, build_spec, write_bundle

    work = Path(tempfile.mkdtemp(prefix="dockernb-bench-runtime-", dir="/var/tmp"))
    try:
        bundle = work / "bundle"
        (bundle / "rootfs").mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(_busybox_tar()), "-C", str(bundle / "rootfs")], check=True)
        spec = build_spec(ContainerIntent(container_id="b" * 64, cmd=("true",), read_only=True),
                          rootfs=bundle / "rootfs")
        write_bundle(bundle, spec)
        state_root = work / "state"
        inproc: list[float] = []
        runc: list[float] = []
        cli: list[float] = []
        env = dict(os.environ)
        for i in range(RUNS + 2):  # the first two of each are warm-up
            t0 = time.perf_counter()
            code = rt.run(f"bench-{i}", state_dir=state_root / f"d{i}", bundle=bundle)
            t1 = time.perf_counter()
            assert code == 0, code
            subprocess.run(["runc", "--root", str(work / "runc"), "run", "-b", str(bundle), f"bench-{i}"],
                           check=True, stdin=subprocess.DEVNULL)
            t2 = time.perf_counter()
            if i < RUNS // 3 + 2:
                subprocess.run([sys.executable, "-m", "dockernb.runtime", "--root", str(state_root), "run", "-b",
                                str(bundle), f"cli-{i}"], check=True, stdin=subprocess.DEVNULL, env=env)
                t3 = time.perf_counter()
                if i >= 2:
                    cli.append((t3 - t2) * 1000)
            if i >= 2:
                inproc.append((t1 - t0) * 1000)
                runc.append((t2 - t1) * 1000)
        base = statistics.median(runc)
        metric = "runtime: run busybox true (prepared bundle -> exit)"
        return [
            _row(metric, "runc 1.1.5 (subprocess)", runc, None),
            _row(metric, "dockernb runtime, in-process", inproc, base),
            _row(metric, "dockernb runtime CLI (python -m dockernb.runtime run)", cli, base),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for line in run():
        print(line)
