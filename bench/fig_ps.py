"""Figure: ``ps -a`` with 50 stopped containers, dockernb in process beside docker and podman.

dockernb: 50 exited containers in a store; one ``ps -a`` is what the engine will do for it:
read every record and state (the store), fold in exit records and check monitors (reconcile),
sort newest first, render docker's table (present). docker and podman: ``ps -a`` from their CLI
with 50 exited ``busybox true`` containers, in the same run. The issue's budget: 15 ms
(docker 18 ms, podman 43 ms on this machine).

``python -m bench.fig_ps`` runs just this figure (``RUNS=n``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.fig_monitor import ANCHORS, DOCKER, IMAGE, _docker_up

RUNS = int(os.environ.get("RUNS", "30"))
COUNT = 50


def _row(engine: str, samples: list[float], note: str = "") -> str:
    med = statistics.median(samples)
    return (
        f"ps -a, {COUNT} stopped containers | {engine} | n={len(samples)} | min {min(samples):.1f} | "
        f"median {med:.1f} | max {max(samples):.1f} ms" + (f" | {note}" if note else "")
    )


def _dockernb() -> list[float]:
    from dockernb.monitor.reconcile import effective
    from dockernb.present.containers import render_ps
    from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary
    from dockernb.spec.status import ContainerState, ContainerStatus
    from dockernb.store.containers import ContainerStore
    from dockernb.store.layout import Layout

    root = Path(tempfile.mkdtemp(prefix="dockernb-bench-ps-", dir="/var/tmp"))
    try:
        store = ContainerStore(Layout(root))
        now = datetime.now(UTC)
        for _ in range(COUNT):
            store.create(
                ContainerRecord(
                    id=store.new_id(),
                    name="",
                    created=now,
                    config=ContainerConfig(image="busybox", cmd=("true",)),
                    path="true",
                ),
                ContainerState(status=ContainerStatus.EXITED, started_at=now, finished_at=now, generation=1),
            )

        def ps() -> str:
            items = [ContainerSummary(record=rec, state=effective(store, rec.id, state)) for rec, state in store.list()]
            items.sort(key=lambda s: s.record.created, reverse=True)
            return render_ps(items)

        assert ps().count("\n") == COUNT + 1
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            ps()
            times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _engine(cli: list[str], label: str) -> list[float]:
    names = [f"nbps-{label}-{i}" for i in range(COUNT)]
    rm = [*cli, "rm", "-f", *names]
    subprocess.run(rm, capture_output=True, timeout=300)
    try:
        for n in names:
            subprocess.run([*cli, "run", "--name", n, IMAGE, "true"], check=True, capture_output=True, timeout=120)
        cmd = [*cli, "ps", "-a"]
        subprocess.run(cmd, check=True, capture_output=True)
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        subprocess.run(rm, capture_output=True, timeout=300)


def run() -> list[str]:
    ours = _dockernb()
    rows = [_row("dockernb in-process (store, reconcile, render)", ours)]
    if shutil.which("podman") and os.geteuid() == 0:
        try:
            theirs = _engine(["podman"], "podman")
            rows.append(
                _row("podman", theirs, f"dockernb/podman = {statistics.median(ours) / statistics.median(theirs):.2f}")
            )
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"ps -a | podman | n/a ({err})")
    started = _docker_up()
    if started is None:
        rows.append("ps -a | docker | n/a (no docker daemon here)")
    else:
        try:
            theirs = _engine([DOCKER], "docker")
            rows.append(
                _row("docker", theirs, f"dockernb/docker = {statistics.median(ours) / statistics.median(theirs):.2f}")
            )
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"ps -a | docker | n/a ({err})")
        finally:
            if started:
                subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    for line in run():
        print(line)
