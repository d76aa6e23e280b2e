"""Figure: memory of the monitors of 20 detached ``sleep`` containers, dockernb beside conmon and the shim.

dockernb: 20 containers started through the monitor launcher (fork, setsid, subreaper, exec of
the C supervisor), each the monitor of a ``sleep 1000`` init. Until the runtime is wired in,
the init is a plain process (dockernb.testing.spawners.PlainSpawner): the monitor process,
which is what this measures, is the same either way. Also the launch+start latency.

podman: ``podman run -d busybox sleep 1000`` x 20, the PSS of each container's conmon.
docker: ``docker run -d busybox sleep 1000`` x 20, the PSS of each containerd-shim-runc-v2 (the
daemons are started with ../shared/anchors/setup_reference_engines.sh if they are not running,
and stopped again afterwards in that case). PSS from /proc/<pid>/smaps_rollup, as the anchors.

``python -m bench.fig_monitor`` runs just this figure (``N=20``).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

N = int(os.environ.get("N", "20"))
IMAGE = "127.0.0.1:5000/busybox:latest"
DOCKER = "/usr/bin/docker"
ANCHORS = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "setup_reference_engines.sh"


def _kib(pid: int, key: str, path: str) -> int:
    for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def _row(metric: str, engine: str, values: list[float], unit: str, note: str = "") -> str:
    if not values:
        return f"{metric} | {engine} | n/a {note}".rstrip()
    med = statistics.median(values)
    return (
        f"{metric} | {engine} | n={len(values)} | min {min(values):.0f} | median {med:.0f} | "
        f"max {max(values):.0f} {unit}" + (f" | {note}" if note else "")
    )


def _dockernb() -> tuple[list[int], list[int], list[float]]:
    from dockernb.linux.process import alive
    from dockernb.monitor.launcher import Launcher, MonitorOptions
    from dockernb.spec.container import ContainerConfig, ContainerRecord
    from dockernb.store.containers import ContainerStore
    from dockernb.store.layout import Layout
    from dockernb.testing.spawners import PlainSpawner

    root = Path(tempfile.mkdtemp(prefix="dockernb-bench-monitor-", dir="/var/tmp"))
    store = ContainerStore(Layout(root))
    launcher = Launcher()
    started = []
    latency = []
    try:
        for _ in range(N):
            rec = ContainerRecord(
                id=store.new_id(), name="", created=datetime.now(UTC), config=ContainerConfig(image="busybox")
            )
            rec = store.create(rec)
            t0 = time.perf_counter()
            pending = launcher.launch(store.paths(rec.id), PlainSpawner(["sleep", "1000"]), MonitorOptions())
            started.append(pending.start())
            latency.append((time.perf_counter() - t0) * 1000)
        time.sleep(1)
        pss = [_kib(s.monitor_pid, "Pss:", "smaps_rollup") for s in started]
        rss = [_kib(s.monitor_pid, "VmRSS:", "status") for s in started]
        return pss, rss, latency
    finally:
        for s in started:
            if alive(s.pid, s.pid_start):
                os.kill(s.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(s.monitor_pid, s.monitor_start) for s in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)


def _engine(cli: list[str], name: str) -> tuple[list[int], list[int], str]:
    """Start N detached sleeps with a docker-like CLI; PSS/RSS of each container's parent (its monitor)."""
    names = [f"nbmon-{name}-{i}" for i in range(N)]
    rm = [*cli, "rm", "-f"] + (["-t", "0"] if "podman" in cli[0] else [])
    subprocess.run([*rm, *names], capture_output=True, timeout=300)
    try:
        for n in names:
            subprocess.run(
                [*cli, "run", "-d", "--name", n, IMAGE, "sleep", "1000"], check=True, capture_output=True, timeout=120
            )
        time.sleep(2)
        pss, rss, comms = [], [], set()
        for n in names:
            pid = int(
                subprocess.run(
                    [*cli, "inspect", "-f", "{{.State.Pid}}", n], check=True, capture_output=True, text=True, timeout=60
                ).stdout.strip()
            )
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            comms.add(Path(f"/proc/{parent}/comm").read_text().strip())
            pss.append(_kib(parent, "Pss:", "smaps_rollup"))
            rss.append(_kib(parent, "VmRSS:", "status"))
        return pss, rss, ",".join(sorted(comms))
    finally:
        subprocess.run([*rm, *names], capture_output=True, timeout=300)


def _docker_up() -> bool | None:
    """True if we started the reference daemons, False if they were up, None if unavailable."""
    if not os.path.exists(DOCKER):
        return None
    if subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0:
        return False
    if os.geteuid() != 0 or not ANCHORS.exists():
        return None
    if subprocess.run(["bash", str(ANCHORS)], capture_output=True, timeout=600).returncode != 0:
        return None
    return True


def run() -> list[str]:
    rows = []
    pss, rss, latency = _dockernb()
    rows.append(_row("monitor PSS per container", "dockernb (C supervisor)", pss, "KiB", f"total {sum(pss)} KiB"))
    rows.append(_row("monitor RSS per container", "dockernb (C supervisor)", rss, "KiB"))
    rows.append(_row("launch+start, monitor and stand-in init", "dockernb", latency, "ms"))
    ours = statistics.median(pss)
    if shutil.which("podman") and os.geteuid() == 0:
        try:
            p_pss, p_rss, comm = _engine(["podman"], "podman")
            rows.append(
                _row(
                    "monitor PSS per container",
                    f"podman ({comm})",
                    p_pss,
                    "KiB",
                    f"dockernb/conmon = {ours / statistics.median(p_pss):.2f}",
                )
            )
            rows.append(_row("monitor RSS per container", f"podman ({comm})", p_rss, "KiB"))
        except (subprocess.SubprocessError, OSError, ValueError) as err:
            rows.append(f"monitor PSS per container | podman | n/a ({err})")
    started = _docker_up()
    if started is None:
        rows.append("monitor PSS per container | docker | n/a (no docker daemon here)")
    else:
        try:
            d_pss, d_rss, comm = _engine([DOCKER], "docker")
            rows.append(
                _row(
                    "monitor PSS per container",
                    f"docker ({comm})",
                    d_pss,
                    "KiB",
                    f"dockernb/shim = {ours / statistics.median(d_pss):.2f}",
                )
            )
            rows.append(_row("monitor RSS per container", f"docker ({comm})", d_rss, "KiB"))
        except (subprocess.SubprocessError, OSError, ValueError) as err:
            rows.append(f"monitor PSS per container | docker | n/a ({err})")
        finally:
            if started:
                subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    for line in run():
        print(line)
