"""Figures for containers end to end: the engine's own verbs on real images, beside docker and podman.

Measured with ``engine.containers`` (the runtime, the monitor, the network, the snapshots, all
real) on the kit's busybox, in one run:

1. ``run --rm busybox true`` in process (create, start, attach, exit, remove), with the default
   network and with ``--network none``; their difference is the network's cost. The same from
   the CLI (``dockernb run --rm busybox true``: Python's start-up counts). docker and podman run
   the same command line beside it when they are here (targets: < 25 ms in process, network < 30 ms;
   runc 12.6, docker 251, podman 310 on this machine's reference run).
2. ``ps -a`` with 50 stopped containers, in process (list + render) and from the CLI (< 15 ms).
3. ``exec`` of ``true`` into a running container, in process and from the CLI (< 40 ms).
4. The monitors' PSS for 20 detached ``sleep`` containers (< 20 MB in all).
5. ``logs`` of a container that printed 100,000 lines, and ``logs --tail 10`` (< 0.5 s, < 20 ms).

``python -m bench.fig_containers`` runs just this figure (``RUNS=n``). Needs the kit (``make kit``).
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.fig_monitor import ANCHORS, DOCKER, IMAGE, _docker_up, _kib

RUNS = int(os.environ.get("RUNS", "20"))


def _row(metric: str, engine: str, samples: list[float], unit: str = "ms", note: str = "") -> str:
    med = statistics.median(samples)
    return (f"{metric} | {engine} | n={len(samples)} | min {min(samples):.1f} | median {med:.1f} | "
            f"max {max(samples):.1f} {unit}" + (f" | {note}" if note else ""))


def _time(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _kit_env() -> dict[str, str]:
    env = dict(os.environ)
    kit = Path(env.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit")) / "env.sh"
    if "DOCKERNB_REGISTRY_MIRRORS" not in env and kit.exists():
        for line in kit.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dockernb", *args], env=env, check=True, capture_output=True, timeout=120)


def _reference(cli: list[str], rows: list[str], runs: int) -> None:
    """The same command lines through docker's or podman's CLI."""
    name = os.path.basename(cli[0])
    subprocess.run([*cli, "pull", IMAGE], capture_output=True, timeout=300)
    for net in ("default", "none"):
        argv = [*cli, "run", "--rm", *(["--network", "none"] if net == "none" else []), IMAGE, "true"]
        samples = _time(lambda a=argv: subprocess.run(a, check=True, capture_output=True, timeout=120), runs)
        rows.append(_row(f"run --rm busybox true, network {net}", f"{name} CLI", samples))
    cname = "nbbench-exec"
    rm = [*cli, "rm", "-f", *(["-t", "0"] if name == "podman" else []), cname]
    subprocess.run(rm, capture_output=True, timeout=120)
    try:
        subprocess.run([*cli, "run", "-d", "--name", cname, IMAGE, "sleep", "1000"], check=True, capture_output=True,
                       timeout=120)
        samples = _time(lambda: subprocess.run([*cli, "exec", cname, "true"], check=True, capture_output=True,
                                               timeout=60), runs)
        rows.append(_row("exec true", f"{name} CLI", samples))
    finally:
        subprocess.run(rm, capture_output=True, timeout=120)


def run() -> list[str]:
    from dockernb.engine import Engine
    from dockernb.present.containers import render_ps
    from dockernb.present.logs import log_chunks
    from dockernb.testing.roots import wipe_root

    rows: list[str] = []
    env = _kit_env()
    base = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() != 0 else "/var/tmp"
    root = Path(tempfile.mkdtemp(prefix="dockernb-bench-containers-", dir=base))
    env["DOCKERNB_ROOT"] = str(root)
    eng = Engine.from_env(env)
    c = eng.containers
    try:
        for _ in eng.images.pull("busybox"):
            pass
        # 1. run --rm busybox true
        for net in ("default", "none"):
            c.run("busybox", ["true"], network=net, remove=True)  # warm: caches, the bridge, netd
        samples: dict[str, list[float]] = {"default": [], "none": []}
        for _ in range(RUNS):
            for net in ("default", "none"):
                samples[net] += _time(lambda n=net: c.run("busybox", ["true"], network=n, remove=True), 1)
        for net in ("default", "none"):
            rows.append(_row(f"run --rm busybox true, network {net}", "dockernb in process", samples[net]))
        extra = statistics.median(samples["default"]) - statistics.median(samples["none"])
        rows.append(f"default network's extra cost over --network none | dockernb in process | {extra:.1f} ms "
                    "(target < 30; docker 75, podman 180)")
        cli_runs = max(3, RUNS // 3)
        for net in ("default", "none"):
            argv = ["run", "--rm", *(["--network", "none"] if net == "none" else []), "busybox", "true"]
            rows.append(_row(f"run --rm busybox true, network {net}", "dockernb CLI",
                             _time(lambda a=argv: _cli(env, *a), cli_runs)))
        # 2. ps -a with 50 stopped containers
        for _ in range(50):
            c.run("busybox", ["true"], network="none")
        ps = _time(lambda: render_ps(c.list(all=True)), max(RUNS, 30))
        rows.append(_row("ps -a, 50 stopped containers", "dockernb in process", ps, note="target < 15"))
        rows.append(_row("ps -a, 50 stopped containers", "dockernb CLI", _time(lambda: _cli(env, "ps", "-a"),
                                                                                 cli_runs)))
        for s in c.list(all=True):
            c.remove(s.record.id)
        # 3. exec true
        runner = c.run("busybox", ["sleep", "1000"], detach=True, name="nbbench-exec")

        def exec_true() -> None:
            proc = c.exec_start(runner.id, ["true"])
            assert proc is not None
            proc.close()
            proc.wait()

        exec_true()
        rows.append(_row("exec true", "dockernb in process", _time(exec_true, max(RUNS, 30)), note="target < 40"))
        rows.append(_row("exec true", "dockernb CLI", _time(lambda: _cli(env, "exec", "nbbench-exec", "true"),
                                                            cli_runs)))
        c.remove(runner.id, force=True)
        # 4. monitors' PSS, 20 detached sleep containers
        ids = [c.run("busybox", ["sleep", "1000"], detach=True).id for _ in range(20)]
        time.sleep(1)
        pss = [_kib(c.current_state(i).monitor_pid, "Pss:", "smaps_rollup") for i in ids]
        rows.append(_row("monitor PSS per container, 20 detached sleep", "dockernb (C supervisor)", pss, "KiB",
                         f"total {sum(pss) / 1024:.2f} MiB (target < 20 MB; conmon 0.41, shim 3.0 MB each)"))
        for i in ids:
            c.remove(i, force=True)
        # 5. logs of 100,000 lines
        r = c.run("busybox", ["seq", "1", "100000"], name="nbbench-logs")
        assert r.exit_code == 0

        def all_lines() -> None:
            sink = io.BytesIO()
            for _, data in log_chunks(c.logs("nbbench-logs")):
                sink.write(data)

        def tail() -> None:
            for _ in log_chunks(c.logs("nbbench-logs", tail=10)):
                pass

        rows.append(_row("logs, 100,000 lines", "dockernb in process", _time(all_lines, max(3, RUNS // 4)),
                         note="target < 500"))
        rows.append(_row("logs --tail 10 of 100,000 lines", "dockernb in process", _time(tail, RUNS),
                         note="target < 20"))
        rows.append(_row("logs, 100,000 lines", "dockernb CLI", _time(lambda: _cli(env, "logs", "nbbench-logs"),
                                                                       cli_runs)))
        c.remove("nbbench-logs")
    finally:
        for cid in c.store.ids():
            try:
                c.remove(cid, force=True)
            except Exception:  # noqa: BLE001 - best effort at the end of a bench
                pass
        if (root / "networks").exists():
            c.networks.destroy()
        eng.close()
        wipe_root(root)
    # the references, side by side
    runs = max(5, RUNS // 2)
    if shutil.which("podman") and os.geteuid() == 0:
        try:
            _reference(["podman"], rows, runs)
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"podman | n/a ({err})")
    started = _docker_up()
    if started is None:
        rows.append("docker | n/a (no docker daemon here)")
    else:
        try:
            _reference([DOCKER], rows, runs)
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"docker | n/a ({err})")
        finally:
            if started:
                subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
