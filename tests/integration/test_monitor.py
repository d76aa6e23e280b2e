"""The monitor with stand-in inits (plain processes): logs, attach, exits, reaping, survival, restarts.

Both supervisors run the same checks where it matters: the C one (the default) and the Python
twin used when no C compiler is installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.errors import CommandNotExecutable, CommandNotFound, InternalError
from dockernb.linux.process import alive, parent_pid, start_time
from dockernb.logs.jsonfile import BUF_SIZE, encode_entry, parse_time
from dockernb.logs.reader import log_files, read_logs
from dockernb.monitor import reconcile
from dockernb.monitor.attach import STDERR, STDOUT, AttachClient
from dockernb.spec.status import ContainerStatus
from dockernb.testing.spawners import PlainSpawner
from tests.integration.monitor_harness import ENV, Harness, children_of

pytestmark = pytest.mark.rootless


@pytest.fixture(params=["c", "python"])
def harness(request: pytest.FixtureRequest, root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    if request.param == "python":
        monkeypatch.setenv("DOCKERNB_MONITOR_SUPERVISOR", "python")
    h = Harness(root_dir)
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def c_harness(root_dir: Path) -> Iterator[Harness]:
    h = Harness(root_dir)
    try:
        yield h
    finally:
        h.cleanup()


def _logs(h: Harness, rec_id: str, **kw: object) -> tuple[bytes, bytes]:
    out, err = b"", b""
    for line in read_logs(h.store.paths(rec_id).log, **kw):  # type: ignore[arg-type]
        if line.stream == "stdout":
            out += line.data
        else:
            err += line.data
    return out, err


def test_golden_log_and_exit_code(harness: Harness) -> None:
    # the lg-a container of ../shared/golden: echo out1; echo err1 >&2; echo out2; printf no-newline
    rec = harness.create(["sh", "-c", "echo out1; echo err1 >&2; echo out2; printf no-newline; exit 3"])
    started, _ = harness.start(rec, post_exit=False)
    state = harness.wait(rec)
    assert (state.status, state.exit_code) == (ContainerStatus.EXITED, 3)
    assert state.finished_at is not None and state.pid == 0
    assert _logs(harness, rec.id) == (b"out1\nout2\nno-newline", b"err1\n")
    assert _logs(harness, rec.id, tail=1) == (b"no-newline", b"")
    assert _logs(harness, rec.id, tail=0) == (b"", b"")
    raw = harness.store.paths(rec.id).log.read_bytes().splitlines()
    assert all(line.startswith(b'{"log":"') and b',"stream":"std' in line for line in raw)
    harness.wait_gone(started.monitor_pid, started.monitor_start)
    assert not harness.store.paths(rec.id).attach.exists()


def test_log_bytes_match_dockers_encoder(harness: Harness) -> None:
    # escapes, binary, invalid UTF-8, a tab, HTML characters, and a line longer than the 16 KiB buffer
    script = r"""printf 'tab\there "q" \\ <&>\n'; printf '\377\300\257bin\001\n'; printf 'é€\342\200\250\n'
    head -c 40000 /dev/zero | tr '\0' x; printf '\nend'"""
    rec = harness.create(["sh", "-c", script])
    harness.start(rec, post_exit=False)
    harness.wait(rec)
    lines = harness.store.paths(rec.id).log.read_bytes().splitlines(keepends=True)
    expected = [
        b'tab\there "q" \\ <&>\n',
        b"\xff\xc0\xafbin\x01\n",
        "é€\u2028\n".encode(),
        b"x" * BUF_SIZE,
        b"x" * BUF_SIZE,
        b"x" * (40000 - 2 * BUF_SIZE) + b"\n",
        b"end",
    ]
    assert len(lines) == len(expected)
    stamps = []
    for raw, data in zip(lines, expected, strict=True):
        stamp = json.loads(raw)["time"]
        stamps.append(stamp)
        assert raw == encode_entry("stdout", data, parse_time(stamp)), raw
    # the parts of one long line carry the time of its first part (docker's partial rule)
    assert stamps[3] == stamps[4] == stamps[5]


@pytest.mark.parametrize(("argv", "code"), [(["sh", "-c", "kill -9 $$"], 137), (["false"], 1), (["true"], 0)])
def test_exit_codes_and_signals(c_harness: Harness, argv: list[str], code: int) -> None:
    rec = c_harness.create(argv)
    c_harness.start(rec, post_exit=False)
    assert c_harness.wait(rec).exit_code == code
    record = c_harness.store.exit_record(rec.id)
    assert record is not None and record.signal == (9 if code == 137 else 0)


def test_stop_by_signal_from_outside(c_harness: Harness) -> None:
    rec = c_harness.create(["sleep", "100"])
    started, _ = c_harness.start(rec, post_exit=False)
    assert c_harness.state(rec).status is ContainerStatus.RUNNING
    os.kill(started.pid, signal.SIGTERM)
    assert c_harness.wait(rec).exit_code == 143


def test_start_failures_leave_nothing(c_harness: Harness) -> None:
    for argv, error, code in (
        (["no-such-cmd"], CommandNotFound, 127),
        (["/etc/passwd"], CommandNotExecutable, 126),
    ):
        rec = c_harness.create(argv)
        paths = c_harness.store.paths(rec.id)
        pending = c_harness.launcher.launch(paths, PlainSpawner(argv, ENV), c_harness.options(rec))
        with pytest.raises(error) as err:
            pending.start()
        assert err.value.exit_code == code
        assert f'exec: "{argv[0]}"' in str(err.value)
        c_harness.wait_gone(pending.monitor_pid, pending.monitor_start)
        assert not alive(pending.pid, pending.pid_start)
        assert not paths.attach.exists() and not paths.exit.exists()


def test_abort_kills_the_created_init(c_harness: Harness) -> None:
    rec = c_harness.create(["sleep", "100"])
    paths = c_harness.store.paths(rec.id)
    pending = c_harness.launcher.launch(paths, PlainSpawner(["sleep", "100"], ENV), c_harness.options(rec))
    assert alive(pending.pid, pending.pid_start)
    pending.abort()
    c_harness.wait_gone(pending.monitor_pid, pending.monitor_start)
    c_harness.wait_gone(pending.pid, pending.pid_start)
    assert not paths.attach.exists()


def test_monitor_is_small_titled_and_detached(c_harness: Harness) -> None:
    rec = c_harness.create(["sleep", "100"])
    started, _ = c_harness.start(rec, post_exit=False)
    mon = started.monitor_pid
    assert Path(f"/proc/{mon}/cmdline").read_bytes().split(b"\0")[:2] == [b"dockernb-monitor", rec.id[:12].encode()]
    # its own session and process group, away from the caller's
    assert os.getsid(mon) != os.getsid(0) and os.getpgid(mon) != os.getpgid(0)
    assert os.getsid(started.pid) != os.getsid(0)
    assert parent_pid(started.pid) == mon
    rollup = Path(f"/proc/{mon}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    assert pss < 1024  # KiB: the budget is 1 MB per container
    os.kill(started.pid, signal.SIGKILL)
    c_harness.wait(rec)


def test_orphans_are_reaped_by_the_subreaper(c_harness: Harness) -> None:
    # the init starts a grandchild and exits its child: the grandchild is orphaned. The flag was
    # set by the Python launcher before it exec'd the C supervisor: this checks it survived execve.
    rec = c_harness.create(["sh", "-c", "(sleep 0.6 &) ; sleep 0.3; exit 0"])
    paths = c_harness.store.paths(rec.id)
    started, _ = c_harness.start(rec, post_exit=False, drain_ms=100)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kids = [pid for pid, _ in children_of(started.monitor_pid) if pid != started.pid]
        if kids:
            break
        time.sleep(0.02)
    assert kids, "the orphan was not reparented to the monitor"
    orphan = kids[0]
    assert parent_pid(orphan) == started.monitor_pid
    c_harness.wait(rec)
    # the monitor drained output for 100 ms then finished; the orphan, still running, kept going
    while alive(orphan, 0) and time.monotonic() < deadline + 5:
        time.sleep(0.02)
    assert not [k for k in children_of(started.monitor_pid) if k[1] == "Z"], "a zombie was left"
    assert paths.exit.exists()


def test_reaps_orphans_while_running(c_harness: Harness) -> None:
    rec = c_harness.create(["sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; sleep 1"])
    started, _ = c_harness.start(rec, post_exit=False)
    time.sleep(0.5)
    assert not [k for k in children_of(started.monitor_pid) if k[1] == "Z"]
    c_harness.wait(rec)


def test_attach_fans_out_and_takes_stdin_from_one_client(harness: Harness) -> None:
    rec = harness.create(["sh", "-c", "read x; echo got $x; echo err >&2; read y; echo second $y"], open_stdin=True)
    started, first = harness.start(rec, attach=True, stdin=True, post_exit=False)
    assert first is not None
    paths = harness.store.paths(rec.id)
    second = AttachClient.connect(paths, stdin=True)  # stdin is the first client's
    time.sleep(0.1)
    second.write(b"ignored\n")
    first.write(b"hello\n")
    time.sleep(0.1)
    first.write(b"world\n")
    outs = []
    for client in (first, second):
        out, err = b"", b""
        for kind, data in client.frames(10):
            if kind == STDOUT:
                out += data
            elif kind == STDERR:
                err += data
        outs.append((out, err, client.exit_code))
        client.close()
    assert outs[0] == (b"got hello\nsecond world\n", b"err\n", 0)
    assert outs[1][1:] == (b"err\n", 0) and outs[1][0].endswith(b"second world\n")
    harness.wait(rec)


def test_stdin_once_closes_stdin(harness: Harness) -> None:
    # golden run-i-stdin: docker run -i busybox cat, with two lines on stdin
    rec = harness.create(["cat"], open_stdin=True, stdin_once=True)
    _, client = harness.start(rec, attach=True, stdin=True, post_exit=False)
    assert client is not None
    client.write(b"line1\nline2\n")
    client.close_stdin()
    out = b"".join(data for kind, data in client.frames(10) if kind == STDOUT)
    client.close()
    assert (out, client.exit_code) == (b"line1\nline2\n", 0)
    harness.wait(rec)


def test_without_stdin_once_stdin_outlives_a_client(c_harness: Harness) -> None:
    rec = c_harness.create(["sh", "-c", "read a; read b; echo $a$b"], open_stdin=True)
    c_harness.start(rec, post_exit=False)
    paths = c_harness.store.paths(rec.id)
    with AttachClient.connect(paths, stdin=True) as one:
        one.write(b"x\n")
        one.close_stdin()  # not stdin_once: the container's stdin stays open
    time.sleep(0.1)
    with AttachClient.connect(paths, stdin=True) as two:
        two.write(b"y\n")
        out = b"".join(d for k, d in two.frames(10) if k == STDOUT)
    assert out == b"xy\n"
    c_harness.wait(rec)


def test_tty_merges_streams_and_resizes(harness: Harness) -> None:
    # golden logs-tty: with a tty, everything is stdout and lines end in CRLF
    rec = harness.create(["sh", "-c", "read x; stty size; echo out; echo err >&2"], tty=True, open_stdin=True)
    _, client = harness.start(rec, attach=True, stdin=True, post_exit=False)
    assert client is not None
    client.resize(33, 101)
    time.sleep(0.05)
    client.write(b"go\n")
    out = b"".join(d for k, d in client.frames(10) if k == STDOUT)
    client.close()
    assert b"33 101\r\nout\r\nerr\r\n" in out and client.exit_code == 0
    harness.wait(rec)
    stdout, stderr = _logs(harness, rec.id)
    assert stderr == b"" and stdout.endswith(b"33 101\r\nout\r\nerr\r\n")


def test_monitor_rotates_the_log(harness: Harness) -> None:
    rec = harness.create(
        ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"],
        log_opts={"max-size": "2k", "max-file": "3"},
    )
    harness.start(rec, post_exit=False)
    harness.wait(rec)
    path = harness.store.paths(rec.id).log
    files = log_files(path)
    assert [p.name.split("-json")[1] for p in files] == [".log.2", ".log.1", ".log"]
    assert all(p.stat().st_size < 2000 + 200 for p in files)
    out, _ = _logs(harness, rec.id)
    lines = out.decode().splitlines()
    assert lines == [f"line {i}" for i in range(300 - len(lines), 300)] and len(lines) > 30


def test_log_driver_none_writes_nothing(c_harness: Harness) -> None:
    rec = c_harness.create(["echo", "hi"], log_driver="none")
    c_harness.start(rec, post_exit=False)
    c_harness.wait(rec)
    assert not c_harness.store.paths(rec.id).log.exists()


def test_follow_stops_when_the_container_exits(c_harness: Harness) -> None:
    rec = c_harness.create(["sh", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.1; done"])
    c_harness.start(rec, post_exit=False)
    paths = c_harness.store.paths(rec.id)
    t0 = time.monotonic()
    lines = [line.data for line in read_logs(paths.log, follow=True, done=lambda: paths.exit.exists(), poll=0.05)]
    assert lines == [b"tick %d\n" % i for i in range(1, 6)]
    assert time.monotonic() - t0 < 5


LAUNCHER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[2])
    from tests.integration.monitor_harness import Harness
    from pathlib import Path
    h = Harness(Path(sys.argv[1]))
    rec = h.create(["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"], name="detached")
    started, _ = h.start(rec)
    print(rec.id, started.pid, started.pid_start, started.monitor_pid, started.monitor_start, flush=True)
    time.sleep(100)   # a kernel that stays around until it is killed
    """
)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_container_outlives_its_launchers_process_group(root_dir: Path, how: str) -> None:
    """Jupyter SIGINTs the kernel's process group on interrupt and SIGKILLs it on restart."""
    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(root_dir), repo],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, like a kernel: we signal the whole group
        env=dict(os.environ, PYTHONPATH=repo),
    )
    assert proc.stdout is not None
    cid, pid, pid_start, mon, mon_start = proc.stdout.readline().split()
    h = Harness(root_dir)
    h.processes += [(int(pid), int(pid_start)), (int(mon), int(mon_start))]
    try:
        os.killpg(proc.pid, getattr(signal, how))
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGKILL)  # then the restart
        proc.wait(timeout=10)
        proc.stdout.close()
        time.sleep(0.3)
        assert alive(int(pid), int(pid_start)) and alive(int(mon), int(mon_start))
        # a new process sees it running, and its log still grows
        state = reconcile.effective(h.store, cid)
        assert state.status is ContainerStatus.RUNNING
        log = h.store.paths(cid).log
        size = log.stat().st_size
        time.sleep(0.3)
        assert log.stat().st_size > size
    finally:
        h.cleanup()


def test_killed_monitor_is_reconciled(c_harness: Harness) -> None:
    rec = c_harness.create(["sleep", "100"])
    started, _ = c_harness.start(rec)
    os.kill(started.monitor_pid, signal.SIGKILL)
    c_harness.wait_gone(started.monitor_pid, started.monitor_start)
    # read-only view first: not running any more, with docker's lost-shim code
    assert reconcile.effective(c_harness.store, rec.id).status is ContainerStatus.EXITED
    assert c_harness.store.state(rec.id).status is ContainerStatus.RUNNING  # nothing written yet
    state = reconcile.reconcile(c_harness.store, rec.id, reconcile.kill_init)
    assert (state.status, state.exit_code) == (ContainerStatus.EXITED, reconcile.MONITOR_LOST)
    assert c_harness.store.state(rec.id).status is ContainerStatus.EXITED
    c_harness.wait_gone(started.pid, started.pid_start)  # the orphaned init was killed


def test_an_earlier_runs_post_exit_leaves_a_newer_run_alone(c_harness: Harness) -> None:
    # docker restart: the new run's start clears the exit record before the old run's post-exit
    # handler (slow rootless) reads it; that handler must not take the new run for a lost one
    from dockernb.monitor.postexit import handle

    rec = c_harness.create(["sleep", "100"])
    started, _ = c_harness.start(rec, post_exit=False)
    assert c_harness.store.exit_record(rec.id) is None
    assert handle(c_harness.root, rec.id) == 0  # this process is not the run's monitor
    state = c_harness.store.state(rec.id)
    assert (state.status, state.monitor_pid) == (ContainerStatus.RUNNING, started.monitor_pid)
    assert alive(started.pid, started.pid_start)
    os.kill(started.pid, signal.SIGKILL)
    assert c_harness.wait(rec).exit_code == 137


def test_restart_policy_with_backoff(c_harness: Harness) -> None:
    rec = c_harness.create(["sh", "-c", "echo run; exit 1"], restart="on-failure:2")
    t0 = time.monotonic()
    started, _ = c_harness.start(rec)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = c_harness.state(rec)
        if state.restart_count == 2 and state.status is ContainerStatus.EXITED:
            break
        time.sleep(0.05)
    assert (state.status, state.exit_code, state.restart_count) == (ContainerStatus.EXITED, 1, 2)
    assert state.generation == 3
    assert time.monotonic() - t0 >= 0.3  # 100 ms then 200 ms of backoff
    assert _logs(c_harness, rec.id) == (b"run\nrun\nrun\n", b"")
    c_harness.monitor_idle(started.monitor_pid, started.monitor_start)


def test_manual_stop_prevents_restart(c_harness: Harness) -> None:
    rec = c_harness.create(["sleep", "100"], restart="always")
    started, _ = c_harness.start(rec)
    # what the engine's stop does: mark it, then signal
    with c_harness.store.lock(rec.id):
        state = c_harness.store.state(rec.id)
        state.manually_stopped = True
        c_harness.store.save_state(rec.id, state)
    os.kill(started.pid, signal.SIGKILL)
    c_harness.monitor_idle(started.monitor_pid, started.monitor_start)
    state = c_harness.store.state(rec.id)
    assert (state.status, state.exit_code, state.restart_count) == (ContainerStatus.EXITED, 137, 0)


def test_auto_remove(c_harness: Harness) -> None:
    rec = c_harness.create(["true"], auto_remove=True, name="gone-soon")
    started, _ = c_harness.start(rec)
    c_harness.monitor_idle(started.monitor_pid, started.monitor_start)
    assert not c_harness.store.paths(rec.id).dir.exists()
    assert rec.id not in c_harness.store.ids()


def test_many_monitors_start_quickly(c_harness: Harness) -> None:
    recs = [c_harness.create(["sleep", "100"]) for _ in range(5)]
    t0 = time.monotonic()
    started = [c_harness.start(r, post_exit=False)[0] for r in recs]
    assert time.monotonic() - t0 < 5
    for s in started:
        assert start_time(s.monitor_pid) == s.monitor_start
        os.kill(s.pid, signal.SIGKILL)
    for r in recs:
        assert c_harness.wait(r).exit_code == 137


def test_a_start_the_engine_never_recorded_is_adopted(c_harness: Harness) -> None:
    """The engine died between the monitor's start and writing state.json (a kernel restart)."""
    argv = ["sh", "-c", "sleep 0.5; exit 4"]
    rec = c_harness.create(argv)
    paths = c_harness.store.paths(rec.id)
    pending = c_harness.launcher.launch(paths, PlainSpawner(argv, ENV), c_harness.options(rec))
    c_harness.processes += [(pending.monitor_pid, pending.monitor_start), (pending.pid, pending.pid_start)]
    pending.start()
    assert c_harness.store.state(rec.id).status is ContainerStatus.CREATED  # never recorded
    seen = reconcile.effective(c_harness.store, rec.id)
    assert (seen.status, seen.monitor_pid, seen.generation) == (ContainerStatus.RUNNING, pending.monitor_pid, 1)
    c_harness.monitor_idle(pending.monitor_pid, pending.monitor_start)  # the post-exit handler recorded it all
    state = c_harness.store.state(rec.id)
    assert (state.status, state.exit_code, state.generation) == (ContainerStatus.EXITED, 4, 1)


def test_oom_kill_is_recorded(harness: Harness, tmp_path: Path) -> None:
    """The monitor compares the cgroup's oom_kill counter before and after the run."""
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    rec = harness.create(["sleep", "0.5"])
    paths = harness.store.paths(rec.id)
    spawner = PlainSpawner(["sleep", "0.5"], ENV, oom_file=str(events))
    pending = harness.launcher.launch(paths, spawner, harness.options(rec, post_exit=False))
    harness.processes += [(pending.monitor_pid, pending.monitor_start), (pending.pid, pending.pid_start)]
    pending.start()
    time.sleep(0.1)
    events.write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")  # the kernel killed something meanwhile
    harness.wait_gone(pending.monitor_pid, pending.monitor_start)
    record = harness.store.exit_record(rec.id)
    assert record is not None and record.oom_killed


class _LeakySpawner(PlainSpawner):
    """Forks without closing anything, as a careless runtime might."""

    def create(self, stdio):  # type: ignore[no-untyped-def]
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(stdio.stdout, 1)
            os.dup2(stdio.stderr, 2)
            if os.read(go_r, 1):
                os.execvpe(self.argv[0], self.argv, self.env)
            os._exit(126)
        os.close(go_r)
        self._go = go_w
        self._err = os.open(os.devnull, os.O_RDONLY)
        from dockernb.monitor.spawner import Task

        return Task(pid=pid)


def test_the_callers_fds_do_not_leak_into_the_container(c_harness: Harness, tmp_path: Path) -> None:
    """An inheritable fd of the caller (a lock, a kernel's socket) stays with the caller."""
    import fcntl

    rec = c_harness.create(["sleep", "100"])
    paths = c_harness.store.paths(rec.id)
    lock_path = tmp_path / "kernel.lock"
    held = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    os.set_inheritable(held, True)  # not close-on-exec, as C libraries often leave them
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        pending = c_harness.launcher.launch(paths, _LeakySpawner(["sleep", "100"], ENV), c_harness.options(rec))
        c_harness.processes += [(pending.monitor_pid, pending.monitor_start), (pending.pid, pending.pid_start)]
        pending.start()
    finally:
        os.close(held)
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: neither monitor nor container kept it
    finally:
        os.close(fd)
    for pid in (pending.pid, pending.monitor_pid):
        targets = []
        for n in os.listdir(f"/proc/{pid}/fd"):
            try:  # the monitor may be closing or exec'ing while we look: a vanished fd is not a leak
                targets.append(os.readlink(f"/proc/{pid}/fd/{n}"))
            except FileNotFoundError:
                pass
        assert str(lock_path) not in targets


def test_an_init_whose_monitor_died_before_start_never_runs(c_harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    argv = ["sh", "-c", f"echo ran > {marker}"]
    rec = c_harness.create(argv)
    pending = c_harness.launcher.launch(c_harness.store.paths(rec.id), PlainSpawner(argv, ENV), c_harness.options(rec))
    c_harness.processes += [(pending.monitor_pid, pending.monitor_start), (pending.pid, pending.pid_start)]
    os.kill(pending.monitor_pid, signal.SIGKILL)
    c_harness.wait_gone(pending.pid, pending.pid_start)
    with pytest.raises(InternalError, match="monitor exited during start"):
        pending.start(timeout=5)
    assert not marker.exists()


def test_wait_until_stopped(c_harness: Harness) -> None:
    from dockernb.monitor.wait import wait_until_stopped

    rec = c_harness.create(["sh", "-c", "sleep 0.3; exit 5"])
    c_harness.start(rec)
    assert wait_until_stopped(c_harness.store, rec.id, timeout=0.05) is None  # still running
    t0 = time.monotonic()
    state = wait_until_stopped(c_harness.store, rec.id, timeout=10)
    assert state is not None and (state.status, state.exit_code) == (ContainerStatus.EXITED, 5)
    assert time.monotonic() - t0 < 2
    # a removed container: NoSuchContainer (docker wait's error)
    gone = c_harness.create(["true"], auto_remove=True)
    started, _ = c_harness.start(gone)
    c_harness.monitor_idle(started.monitor_pid, started.monitor_start)
    from dockernb.errors import NoSuchContainer

    with pytest.raises(NoSuchContainer):
        wait_until_stopped(c_harness.store, gone.id, timeout=1)
