"""Figure: pulling the kit's debian:bookworm (63 MB gzip, 164 MB unpacked) from 127.0.0.1:5000, side by side.

Engines measured in the same run, alternating, the page cache dropped (``sync; echo 1 >
/proc/sys/vm/drop_caches``, as ../shared/anchors does) before every "not present" pull:

* ``dockernb`` as a fresh process (``python -m dockernb pull -q``: interpreter, imports, pull), with its
  peak RSS (``wait4``'s ``ru_maxrss``), and in-process (an engine made beforehand: the pull alone);
* ``docker pull`` against a private dockerd 20.10 (its own data root, overlay2, no networking; the image
  removed between runs); ``podman pull`` with its own ``--root``/``--runroot`` (overlay).

Then the "already present" pull: dockernb in-process (the figure the issue sets: under 100 ms) and as a
process, docker and podman (anchors: 27 ms and 33 ms). ``DOCKERNB_BENCH_RUNS`` sets the cold runs (5);
the warm ones are 6x that. Needs root (page cache, dockerd); the reference engines are skipped, with a
note, when absent. ``python -m bench.fig_pull`` prints the rows.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REF = "127.0.0.1:5000/library/debian:bookworm"
RUNS = int(os.environ.get("DOCKERNB_BENCH_RUNS", "5"))
DOCKER = "/usr/bin/docker"

_INPROC = r"""
import json, os, resource, sys, time
ref, warm = sys.argv[1], int(sys.argv[2])
from dockernb.engine import Engine
eng = Engine.from_env()
images = eng.images
images.snapshotter  # the driver is chosen (probed) once per engine, not per pull
if not warm:
    os.sync()
    open("/proc/sys/vm/drop_caches", "w").write("1\n")
t = time.perf_counter()
for _ in images.pull(ref):
    pass
cold = time.perf_counter() - t
times = []
for _ in range(warm):
    t = time.perf_counter()
    for _ in images.pull(ref):
        pass
    times.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": times, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
eng.close()
"""


def _drop_caches() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("1\n")


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {err}")
    return elapsed, usage.ru_maxrss


def _wipe(path: Path) -> None:
    from dockernb.testing.roots import wipe_root

    wipe_root(path)


@contextmanager
def _dockerd(base: Path) -> Iterator[dict[str, str] | None]:
    if shutil.which("dockerd") is None or not os.path.exists(DOCKER):
        yield None
        return
    (base / "daemon.json").write_text(json.dumps({"insecure-registries": ["127.0.0.1:5000"]}))
    log = open(base / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"), "-H",
         f"unix://{base}/docker.sock", "--pidfile", str(base / "docker.pid"), "--bridge=none", "--iptables=false",
         "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--storage-driver=overlay2",
         "--config-file", str(base / "daemon.json")],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{base}/docker.sock", "DOCKER_CONFIG": str(base / "client")}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([DOCKER, "version"], env=env, capture_output=True).returncode != 0:
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


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def run() -> list[str]:
    if os.geteuid() != 0:
        return ["fig_pull: needs root (drops the page cache, runs a private dockerd)"]
    # as users run it: with compiled bytecode cached (a sandbox may set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": os.getcwd(), "DOCKERNB_IMAGE_STORES": ""})
    samples: dict[str, list[float]] = {k: [] for k in ("nb_proc", "nb_inproc", "docker", "podman")}
    rss: list[int] = []
    warm: dict[str, list[float]] = {k: [] for k in ("nb_inproc", "nb_proc", "docker", "podman")}
    notes = []
    podman = shutil.which("podman")
    with tempfile.TemporaryDirectory(prefix="dockernb-bench-pull-", dir="/var/tmp") as scratch_dir:
        scratch = Path(scratch_dir)
        (scratch / "dockerd").mkdir()
        with _dockerd(scratch / "dockerd") as denv:
            if denv is None:
                notes.append("docker: no dockerd here")
            pm = [podman, "--root", str(scratch / "podman-root"), "--runroot", str(scratch / "podman-run"),
                  "--storage-driver", "overlay"] if podman else None  # fmt: skip
            if pm is None:
                notes.append("podman: not installed")
            for i in range(RUNS):
                root = scratch / f"nb-{i}"
                _drop_caches()
                t, kib = _timed([sys.executable, "-m", "dockernb", "pull", "-q", REF],
                                {**env, "DOCKERNB_ROOT": str(root)})  # fmt: skip
                samples["nb_proc"].append(t)
                rss.append(kib)
                _wipe(root)
                out = subprocess.run([sys.executable, "-c", _INPROC, REF, "0"], env={**env, "DOCKERNB_ROOT": str(root)},
                                     capture_output=True, text=True, check=True).stdout  # fmt: skip
                got = json.loads(out)
                samples["nb_inproc"].append(got["cold"])
                rss.append(int(got["rss"]))
                _wipe(root)
                if denv is not None:
                    subprocess.run([DOCKER, "rmi", "-f", REF], env=denv, capture_output=True)
                    _drop_caches()
                    samples["docker"].append(_timed([DOCKER, "pull", "-q", REF], denv)[0])
                if pm is not None:
                    subprocess.run([*pm, "rmi", "-f", REF], capture_output=True)
                    _drop_caches()
                    samples["podman"].append(_timed([*pm, "pull", "-q", "--tls-verify=false", REF])[0])
            # already present
            root = scratch / "nb-warm"
            out = subprocess.run([sys.executable, "-c", _INPROC, REF, str(6 * RUNS)],
                                 env={**env, "DOCKERNB_ROOT": str(root)}, capture_output=True, text=True,
                                 check=True).stdout  # fmt: skip
            warm["nb_inproc"] = json.loads(out)["warm"]
            for _ in range(2 * RUNS):
                warm["nb_proc"].append(_timed([sys.executable, "-m", "dockernb", "pull", "-q", REF],
                                              {**env, "DOCKERNB_ROOT": str(root)})[0])  # fmt: skip
            _wipe(root)
            for _ in range(6 * RUNS):
                if denv is not None:
                    warm["docker"].append(_timed([DOCKER, "pull", "-q", REF], denv)[0])
                if pm is not None:
                    warm["podman"].append(_timed([*pm, "pull", "-q", "--tls-verify=false", REF])[0])
            if pm is not None:
                subprocess.run([*pm, "rmi", "-af"], capture_output=True)
                subprocess.run([*pm, "system", "reset", "-f"], capture_output=True)
    med = {k: _median(v) for k, v in samples.items()}
    wmed = {k: _median(v) * 1000 for k, v in warm.items()}

    def ratio(a: str, b: str, d: dict[str, float] = med) -> str:
        return f"{d[a] / d[b]:.2f}" if d[b] == d[b] and d[b] else "n/a"

    rows = [
        f"pull {REF}, not present, page cache dropped, median of {RUNS}: dockernb {med['nb_proc']:.2f}s as a "
        f"process ({med['nb_inproc']:.2f}s in-process) | docker {med['docker']:.2f}s | podman {med['podman']:.2f}s | "
        f"ratio dockernb/docker {ratio('nb_proc', 'docker')} (in-process {ratio('nb_inproc', 'docker')}), "
        f"dockernb/podman {ratio('nb_proc', 'podman')} (anchors: docker 2.14s, podman 2.16s)",
        f"pull peak RSS (dockernb, process and in-process runs): max {max(rss) / 1024:.0f} MB, median "
        f"{statistics.median(rss) / 1024:.0f} MB (budget 150 MB)",
        f"pull {REF}, already present, median: dockernb {wmed['nb_inproc']:.1f} ms in-process "
        f"({wmed['nb_proc']:.0f} ms as a process) | docker {wmed['docker']:.1f} ms | podman {wmed['podman']:.1f} ms "
        "(anchors: docker 27 ms, podman 33 ms; budget 100 ms in-process)",
    ]
    return rows + [f"fig_pull note: {n}" for n in notes]


Row = Callable[[], list[str]]

if __name__ == "__main__":
    for row in run():
        print(row)
