"""Figure: building the build issue's Dockerfile, dockernb beside docker's classic builder, BuildKit and podman.

The Dockerfile (../shared/anchors): ``FROM debian:bookworm`` / ``RUN echo hello > /hello`` /
``ENV A=1`` / ``WORKDIR /app`` / ``COPY f.txt /app/`` / ``CMD ["cat","/hello"]``, the base image
pulled beforehand from the kit's registry (127.0.0.1:5000) by every engine. Measured in one run:

* dockernb in-process (an engine made beforehand, as a notebook holds one: the build alone) and as
  a process (``python -m dockernb build -q``: interpreter, imports, build), a cold ``--no-cache``
  build (the RUN in a container on the default bridge) and a fully cached rebuild;
* docker 20.10's classic builder (``DOCKER_BUILDKIT=0``) and BuildKit (``DOCKER_BUILDKIT=1``, its
  cache pruned before each cold run) against a private dockerd (its own data root and socket, a
  bridge of its own, no iptables), timed around the CLI as the anchors were;
* podman (buildah) with its own ``--root``/``--runroot``.

Anchors on this machine: classic 546 ms cold / 52 ms cached, BuildKit 244 / 69, podman 663 / 226.
The issue's targets: cached in-process under 40 ms, cold no slower than the classic builder.
``DOCKERNB_BENCH_RUNS`` sets the cold runs (10); cached runs are 3x that. Needs root (dockerd); a
reference engine that is absent is reported as such. ``python -m bench.fig_build`` prints the rows.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DOCKERFILE = 'FROM {base}\nRUN echo hello > /hello\nENV A=1\nWORKDIR /app\nCOPY f.txt /app/\nCMD ["cat","/hello"]\n'
REF = "127.0.0.1:5000/library/debian:bookworm"
RUNS = int(os.environ.get("DOCKERNB_BENCH_RUNS", "10"))
DOCKER = "/usr/bin/docker"
BRIDGE = "nbbench0"

_INPROC = r"""
import json, sys, time
ctx, cold_runs, cached_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from dockernb.engine import Engine
eng = Engine.from_env()
for _ in eng.images.pull("debian:bookworm"):
    pass

def build(no_cache):
    for _ in eng.builds.build(ctx, cwd=ctx, tags=["nbbench:dockernb"], no_cache=no_cache):
        pass

build(True)  # warm: imports, the bridge, the unpacked base
cold, cached = [], []
for _ in range(cold_runs):
    t = time.perf_counter(); build(True); cold.append(time.perf_counter() - t)
for _ in range(cached_runs):
    t = time.perf_counter(); build(False); cached.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "cached": cached}))
eng.containers.networks.destroy()
eng.close()
"""


def _timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=300)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, env=env, capture_output=True, timeout=300)


@contextmanager
def _bridge() -> Iterator[None]:
    """A bridge for the private dockerd's containers (not docker0: another daemon may own it)."""
    _run(["ip", "link", "del", BRIDGE])
    _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    _run(["ip", "addr", "add", "10.233.0.1/24", "dev", BRIDGE])
    _run(["ip", "link", "set", BRIDGE, "up"])
    try:
        yield
    finally:
        _run(["ip", "link", "del", BRIDGE])


@contextmanager
def _dockerd(base: Path) -> Iterator[dict[str, str] | None]:
    if shutil.which("dockerd") is None or not os.path.exists(DOCKER):
        yield None
        return
    (base / "daemon.json").write_text(json.dumps({"insecure-registries": ["127.0.0.1:5000"]}))
    log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    with _bridge():
        proc = subprocess.Popen(
            ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "-H",
             f"unix://{base}/docker.sock", "--pidfile", str(base / "docker.pid"), f"--bridge={BRIDGE}",
             "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
             "--storage-driver=overlay2", "--config-file", str(base / "daemon.json")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        env = {**os.environ, "DOCKER_HOST": f"unix://{base}/docker.sock", "DOCKER_CONFIG": str(base / "client")}
        try:
            deadline = time.monotonic() + 30
            while _run([DOCKER, "version"], env).returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    yield None
                    return
                time.sleep(0.2)
            yield env
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000 if xs else float("nan")


def _docker(env: dict[str, str], ctx: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    if _run([DOCKER, "pull", "-q", REF], env).returncode != 0:
        return out
    for kind, flag in (("classic", "0"), ("buildkit", "1")):
        benv = {**env, "DOCKER_BUILDKIT": flag}
        tag = f"nbbench:{kind}"
        cold = []
        for _ in range(RUNS):
            _run([DOCKER, "rmi", "-f", tag], benv)
            if kind == "buildkit":
                _run([DOCKER, "builder", "prune", "-af"], benv)
            cold.append(_timed([DOCKER, "build", "-q", "--no-cache", "-t", tag, str(ctx)], benv))
        _timed([DOCKER, "build", "-q", "-t", tag, str(ctx)], benv)
        cached = [_timed([DOCKER, "build", "-q", "-t", tag, str(ctx)], benv) for _ in range(3 * RUNS)]
        if _run([DOCKER, "run", "--rm", "--network", "none", tag], benv).stdout != b"hello\n":
            raise RuntimeError(f"docker {kind}: the image does not print hello")
        out[f"{kind}_cold"], out[f"{kind}_cached"] = cold, cached
    return out


def _podman(base: Path, ctx: Path) -> dict[str, list[float]]:
    podman = shutil.which("podman")
    if podman is None:
        return {}
    pm = [podman, "--root", str(base / "root"), "--runroot", str(base / "run"), "--storage-driver", "overlay"]
    env = dict(os.environ)
    try:
        if _run([*pm, "pull", "-q", "--tls-verify=false", REF]).returncode != 0:
            return {}
        build = [*pm, "build", "-q", "--tls-verify=false", "-t", "nbbench:podman", str(ctx)]
        cold = []
        for _ in range(RUNS):
            _run([*pm, "rmi", "-f", "nbbench:podman"])
            cold.append(_timed([*build[:-1], "--no-cache", str(ctx)], env))
        _timed(build, env)
        cached = [_timed(build, env) for _ in range(3 * RUNS)]
        return {"podman_cold": cold, "podman_cached": cached}
    finally:
        _run([*pm, "system", "reset", "-f"])


LAB_DOCKERFILE = """FROM python:3.11
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
RUN pip3 install "fastapi[all]"
WORKDIR /app
ADD main.py /app/
CMD python -m uvicorn main:app --host 0.0.0.0 --port 8000
"""


def _fastapi_lab(scratch: Path, nb_env: dict[str, str], notes: list[str]) -> list[str]:
    """The seed's FastAPI lab built ``--no-cache`` by dockernb (as a process), its ``pip3 install`` from PyPI
    and from the tests' wheelhouse (:mod:`dockernb.testing.wheelhouse`), alternately, ``DOCKERNB_BENCH_LAB_RUNS``
    times each (2); ``DOCKERNB_BENCH_LAB_RUNS=0`` skips it."""
    from dockernb.testing.wheelhouse import WheelIndex, ensure

    runs = int(os.environ.get("DOCKERNB_BENCH_LAB_RUNS", "2"))
    if runs <= 0:
        return []
    lab = scratch / "lab"
    lab.mkdir()
    (lab / "Dockerfile").write_text(LAB_DOCKERFILE)
    (lab / "main.py").write_text('from fastapi import FastAPI\n\napp = FastAPI()\n')
    nb = [sys.executable, "-m", "dockernb"]
    if _run([*nb, "pull", "-q", "python:3.11"], nb_env).returncode != 0:
        notes.append("FastAPI lab: python:3.11 not pulled")
        return []
    t = time.perf_counter()
    wheels = ensure(["fastapi[all]"])  # the tests' cache: 0 s when a test run filled it
    fetched = time.perf_counter() - t
    gateway = json.loads(_run([*nb, "network", "inspect", "bridge"], nb_env).stdout)[0]["IPAM"]["Config"][0]["Gateway"]
    build = [*nb, "build", "-q", "--no-cache", "-t", "nbbench:lab", "."]
    pypi, local = [], []
    with WheelIndex(wheels) as index:
        for _ in range(runs):
            pypi.append(_timed(build, nb_env, lab))
            local.append(_timed([*build[:-1], *index.build_args(gateway), "."], nb_env, lab))
    wheel_mb = sum(f.stat().st_size for f in wheels.iterdir()) / 1e6
    return [f"FastAPI lab build (--no-cache, as a process), median of {runs}: pip from PyPI "
            f"{statistics.median(pypi):.1f} s | from the wheelhouse {statistics.median(local):.1f} s "
            f"(ratio {statistics.median(local) / statistics.median(pypi):.2f}; {len(list(wheels.glob('*.whl')))} "
            f"wheels, {wheel_mb:.0f} MB, fetched once in {fetched:.1f} s)"]


def run() -> list[str]:
    if os.geteuid() != 0:
        return ["fig_build: needs root (a private dockerd, bridges)"]
    if "DOCKERNB_REGISTRY_MIRRORS" not in os.environ:
        return ["fig_build: needs the kit's environment (make bench sets it)"]
    # as users run it: with compiled bytecode cached
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": os.getcwd(), "DOCKERNB_IMAGE_STORES": ""})
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dockernb-bench-build-", dir="/var/tmp") as scratch_dir:
        scratch = Path(scratch_dir)
        ours, theirs = scratch / "ours", scratch / "theirs"
        for d, base in ((ours, "debian:bookworm"), (theirs, REF)):
            d.mkdir()
            (d / "Dockerfile").write_text(DOCKERFILE.format(base=base))
            (d / "f.txt").write_text("dockernb anchor file\n")
        root = scratch / "root"
        nb_env = {**env, "DOCKERNB_ROOT": str(root)}
        got = json.loads(subprocess.run([sys.executable, "-c", _INPROC, str(ours), str(RUNS), str(3 * RUNS)],
                                        env=nb_env, capture_output=True, text=True, check=True).stdout)  # fmt: skip
        cli = [sys.executable, "-m", "dockernb", "build", "-q", "-t", "nbbench:dockernb", "."]
        proc_cold = [_timed([*cli[:-1], "--no-cache", "."], nb_env, ours) for _ in range(RUNS)]
        proc_cached = [_timed(cli, nb_env, ours) for _ in range(3 * RUNS)]
        check = subprocess.run([sys.executable, "-m", "dockernb", "run", "--rm", "nbbench:dockernb"], env=nb_env,
                               capture_output=True, text=True)  # fmt: skip
        if check.stdout != "hello\n":
            notes.append(f"dockernb's image printed {check.stdout!r}")
        subprocess.run([sys.executable, "-c", "from dockernb.engine import Engine\n"
                        "e = Engine.from_env(); e.containers.networks.destroy(); e.close()"], env=nb_env,
                       capture_output=True)  # fmt: skip
        lab_rows = _fastapi_lab(scratch, nb_env, notes)
        from dockernb.testing.roots import wipe_root

        wipe_root(root)
        (scratch / "dockerd").mkdir()
        ref: dict[str, list[float]] = {}
        with _dockerd(scratch / "dockerd") as denv:
            if denv is None:
                notes.append("docker: no dockerd here")
            else:
                ref.update(_docker(denv, theirs))
        (scratch / "podman").mkdir()
        ref.update(_podman(scratch / "podman", theirs))
        if "podman_cold" not in ref:
            notes.append("podman: not measured")

    def med(key: str) -> str:
        return f"{_ms(ref[key]):.0f} ms" if key in ref else "n/a"

    def ratio(ours_ms: float, key: str) -> str:
        return f"{ours_ms / _ms(ref[key]):.2f}" if key in ref else "n/a"

    cold_in, cached_in = _ms(got["cold"]), _ms(got["cached"])
    cold_p, cached_p = _ms(proc_cold), _ms(proc_cached)
    rows = [
        f"build cold (--no-cache), median of {RUNS}: dockernb {cold_in:.0f} ms in-process ({cold_p:.0f} ms as a "
        f"process) | docker classic {med('classic_cold')} | BuildKit {med('buildkit_cold')} | podman "
        f"{med('podman_cold')} | ratio dockernb/classic {ratio(cold_in, 'classic_cold')} in-process, "
        f"{ratio(cold_p, 'classic_cold')} as a process (anchors: classic 546, BuildKit 244, podman 663 ms)",
        f"build cached, median of {3 * RUNS}: dockernb {cached_in:.1f} ms in-process ({cached_p:.0f} ms as a "
        f"process) | docker classic {med('classic_cached')} | BuildKit {med('buildkit_cached')} | podman "
        f"{med('podman_cached')} | ratio dockernb in-process/classic {ratio(cached_in, 'classic_cached')} "
        "(target: under 40 ms in-process; anchors: classic 52, BuildKit 69, podman 226 ms)",
    ]
    return rows + lab_rows + [f"fig_build note: {n}" for n in notes]


if __name__ == "__main__":
    for row in run():
        print(row)
