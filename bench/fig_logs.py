"""Figure: ``logs`` of a container that printed 100,000 lines, and ``logs --tail 10``, beside docker and podman.

dockernb: the container's json-file log is written by the real monitor (the C supervisor)
while a stand-in init runs ``seq 1 100000``; then, in process, the log reader and the logs
renderer write everything to /dev/null (``logs``), the last ten lines (``--tail 10``), and
everything with ``-t``. The same through a fresh Python process shows what start-up adds
(the ``dockernb logs`` verb is wired in the integration phase). docker and podman: their CLI
(``docker logs C > /dev/null``), with the same container command, measured in the same run.
The issue's budget: under 0.5 s for all lines, under 20 ms for ``--tail 10``.

``python -m bench.fig_logs`` runs just this figure (``RUNS=n``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.fig_monitor import ANCHORS, DOCKER, IMAGE, _docker_up

RUNS = int(os.environ.get("RUNS", "15"))
LINES = 100_000


def _row(metric: str, engine: str, samples: list[float], note: str = "") -> str:
    med = statistics.median(samples)
    return (
        f"{metric} | {engine} | n={len(samples)} | min {min(samples):.1f} | median {med:.1f} | "
        f"max {max(samples):.1f} ms" + (f" | {note}" if note else "")
    )


def _time(fn: Callable[[], object], runs: int = RUNS) -> list[float]:
    fn()  # warm the page cache, as every engine's figure does
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _make_log(root: Path) -> Path:
    from dockernb.monitor.launcher import Launcher, MonitorOptions
    from dockernb.monitor.reconcile import effective
    from dockernb.spec.container import ContainerConfig, ContainerRecord
    from dockernb.spec.status import ContainerStatus
    from dockernb.store.containers import ContainerStore
    from dockernb.store.layout import Layout
    from dockernb.testing.spawners import PlainSpawner

    store = ContainerStore(Layout(root))
    rec = store.create(
        ContainerRecord(id=store.new_id(), name="nblogs", created=datetime.now(UTC), config=ContainerConfig(image="x"))
    )
    paths = store.paths(rec.id)
    started = Launcher().launch(paths, PlainSpawner(["seq", "1", str(LINES)]), MonitorOptions()).start()
    state = store.state(rec.id)
    state.status, state.monitor_pid, state.monitor_start, state.generation = (
        ContainerStatus.RUNNING,
        started.monitor_pid,
        started.monitor_start,
        1,
    )
    store.save_state(rec.id, state)
    deadline = time.monotonic() + 60
    while effective(store, rec.id).status is ContainerStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    return paths.log


def _dockernb(log: Path) -> list[str]:
    from dockernb.logs.reader import read_logs
    from dockernb.present.logs import log_chunks

    null = os.open(os.devnull, os.O_WRONLY)

    def logs(**kw: object) -> None:
        ts = bool(kw.pop("timestamps", False))
        for _, data in log_chunks(read_logs(log, **kw), timestamps=ts):  # type: ignore[arg-type]
            os.write(null, data)

    count = sum(1 for _ in read_logs(log))
    assert count == LINES, count
    rows = [
        _row("logs, 100,000 lines", "dockernb in-process", _time(logs)),
        _row("logs --tail 10", "dockernb in-process", _time(lambda: logs(tail=10))),
        _row("logs -t, 100,000 lines", "dockernb in-process", _time(lambda: logs(timestamps=True))),
    ]
    script = (
        "import os,sys\nfrom pathlib import Path\nfrom dockernb.logs.reader import read_logs\n"
        "from dockernb.present.logs import log_chunks\nout=sys.stdout.buffer\n"
        "tail=int(sys.argv[2])\n"
        "for s,d in log_chunks(read_logs(Path(sys.argv[1]),tail=tail)): out.write(d)\n"
    )
    for metric, tail in (("logs, 100,000 lines", "-1"), ("logs --tail 10", "10")):
        cmd = [sys.executable, "-c", script, str(log), tail]
        rows.append(
            _row(
                metric,
                "dockernb, a fresh Python process",
                _time(lambda cmd=cmd: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)),
            )
        )
    os.close(null)
    return rows


def _engine(cli: list[str], label: str) -> list[str]:
    name = f"nblogs-{label}"
    rm = [*cli, "rm", "-f", name]
    subprocess.run(rm, capture_output=True, timeout=120)
    try:
        subprocess.run(
            [*cli, "run", "--name", name, IMAGE, "seq", "1", str(LINES)],
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=300,
        )
        rows = []
        for metric, extra in (("logs, 100,000 lines", []), ("logs --tail 10", ["--tail", "10"])):
            cmd = [*cli, "logs", *extra, name]
            rows.append(
                _row(metric, label, _time(lambda cmd=cmd: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)))
            )
        return rows
    finally:
        subprocess.run(rm, capture_output=True, timeout=120)


def run() -> list[str]:
    root = Path(tempfile.mkdtemp(prefix="dockernb-bench-logs-", dir="/var/tmp"))
    try:
        rows = _dockernb(_make_log(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if shutil.which("podman") and os.geteuid() == 0:
        try:
            rows += _engine(["podman"], "podman")
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"logs | podman | n/a ({err})")
    started = _docker_up()
    if started is None:
        rows.append("logs | docker | n/a (no docker daemon here)")
    else:
        try:
            rows += _engine([DOCKER], "docker")
        except (subprocess.SubprocessError, OSError) as err:
            rows.append(f"logs | docker | n/a ({err})")
        finally:
            if started:
                subprocess.run(["bash", str(ANCHORS), "stop"], capture_output=True, timeout=120)
    return rows


if __name__ == "__main__":
    for line in run():
        print(line)
