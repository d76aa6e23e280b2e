"""Figure: ``run busybox true`` from a prepared bundle to the exit code, dockernb's runtime vs runc.

Two bundles on a read-only busybox root: "docker" (written by dockernb.runtime.bundle with docker's
defaults: 14 capabilities, the default seccomp filter, masked paths, a new network namespace,
cgroups in every v1 hierarchy) and "runc spec" (runc's own default config.json, as the reference
figure of 12.6 ms was measured). Each is run side by side, alternating, N times:

- dockernb in-process: ``dockernb.runtime.run`` (create + start + wait + delete) from this process;
- runc: ``runc run -b <bundle>`` as a subprocess (how the reference 12.6 ms was measured);
- dockernb CLI: ``python -m dockernb.runtime run -b <bundle>`` (Python's start-up counts).

Rows: metric, engine, n, min, median, max (ms), and the median ratio to runc. Needs root.
``python -m bench.fig_runtime`` runs just this figure (``RUNS=n`` sets the repetitions).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
        rootfs = work / "rootfs"
        rootfs.mkdir()
        subprocess.run(["tar", "-xf", str(_busybox_tar()), "-C", str(rootfs)], check=True)
        docker = work / "docker"
        write_bundle(docker, build_spec(ContainerIntent(container_id="b" * 64, cmd=("true",), read_only=True),
                                        rootfs=rootfs, root_path=str(rootfs)))
        plain = work / "runc-spec"
        plain.mkdir()
        subprocess.run(["runc", "spec", "-b", str(plain)], check=True)
        config = json.loads((plain / "config.json").read_text())
        config["process"].update(terminal=False, args=["true"])
        config["root"]["path"] = str(rootfs)
        (plain / "config.json").write_text(json.dumps(config))
        rows = []
        for label, bundle in (("docker defaults", docker), ("runc spec defaults", plain)):
            rows += _measure(work, label, bundle, rt)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, label: str, bundle: Path, rt: Any) -> list[str]:
    state_root = work / "state"
    inproc: list[float] = []
    runc: list[float] = []
    cli: list[float] = []
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
                            str(bundle), f"cli-{i}"], check=True, stdin=subprocess.DEVNULL)
            t3 = time.perf_counter()
            if i >= 2:
                cli.append((t3 - t2) * 1000)
        if i >= 2:
            inproc.append((t1 - t0) * 1000)
            runc.append((t2 - t1) * 1000)
    base = statistics.median(runc)
    metric = f"runtime: run busybox true, {label} bundle (prepared bundle -> exit)"
    return [
        _row(metric, "runc 1.1.5 (subprocess)", runc, None),
        _row(metric, "dockernb runtime, in-process", inproc, base),
        _row(metric, "dockernb runtime CLI (python -m dockernb.runtime run)", cli, base),
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
