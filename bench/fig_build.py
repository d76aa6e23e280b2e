"""Figure: a fully cached rebuild of the build issue's Dockerfile, dockernb beside docker's classic builder.

Until the executor lands (images, runtime), dockernb's side is the builder's own share of a
cached rebuild, in process: context selection and checksums, parsing, the plan, substitution,
a cache lookup per step, the image config records, tagging, all against the in-memory
FakeExecutor (so image reads cost nothing here). docker's side is the whole
``DOCKER_BUILDKIT=0 docker build -q`` (CLI, context upload, daemon), measured in the same run
when a docker daemon answers; the issue's budget for dockernb's complete cached rebuild is
40 ms, against docker's 52 ms on this machine (../shared/anchors/REFERENCE.md).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from dockernb.build.builder import Builder, BuildOptions
from dockernb.build.cache import BuildCache
from dockernb.build.context import context_from_dir
from dockernb.build.image import ImageDoc, RunConfig
from dockernb.testing.fake_executor import FakeExecutor

DOCKERFILE = 'FROM {base}\nRUN echo hello > /hello\nENV A=1\nWORKDIR /app\nCOPY f.txt /app/\nCMD ["cat","/hello"]\n'
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
DOCKER = "/usr/bin/docker"


def _ours(ctx_dir: Path, work: Path) -> list[float]:
    executor = FakeExecutor()
    executor.add_base("debian:bookworm", ImageDoc(config=RunConfig(cmd=["bash"])))
    builder = Builder(executor, cache=BuildCache(work / "cache"), tmp_dir=work)
    options = BuildOptions(tags=("nbbench:dockernb",))

    def once() -> None:
        with context_from_dir(ctx_dir) as ctx:
            for _ in builder.build(ctx, options):
                pass

    once()  # fill the cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _docker(ctx_dir: Path) -> list[float] | None:
    if not shutil.which(DOCKER):
        return None
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    if subprocess.run([DOCKER, "info"], capture_output=True, env=env, timeout=20).returncode != 0:
        return None
    cmd = [DOCKER, "build", "-q", "-t", "nbbench:classic", str(ctx_dir)]
    if subprocess.run(cmd, capture_output=True, env=env, timeout=300).returncode != 0:
        return None
    try:
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=True, timeout=60)
            times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        subprocess.run([DOCKER, "rmi", "-f", "nbbench:classic"], capture_output=True, env=env, timeout=60)


def run() -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="dockernb-bench-build-"))
    try:
        ours_dir = work / "ours"
        docker_dir = work / "docker"
        for d, base in ((ours_dir, "debian:bookworm"), (docker_dir, "127.0.0.1:5000/debian:bookworm")):
            d.mkdir()
            (d / "Dockerfile").write_text(DOCKERFILE.format(base=base))
            (d / "f.txt").write_text("f\n")
        ours = statistics.median(_ours(ours_dir, work))
        theirs = _docker(docker_dir)
        rows = [f"build cached rebuild | dockernb builder share (fake executor, in process) | {ours:.1f} ms"]
        if theirs is None:
            rows.append("build cached rebuild | docker classic builder | not measured (no docker daemon answered)")
        else:
            median = statistics.median(theirs)
            rows.append(f"build cached rebuild | docker classic builder (docker build -q) | {median:.1f} ms")
            rows.append(f"build cached rebuild | ratio dockernb share / docker | {ours / median:.2f}")
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)
