"""The container's process: exit codes, signals and stop, --init (tini), the pty, exec, errors, lifecycle."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.errors import CommandNotExecutable, CommandNotFound, ContainerStateConflict, InvalidArgument
from dockernb.runtime.bundle import find_init
from tests import golden
from tests.integration.runtime.conftest import Box, _drain, _wait

pytestmark = pytest.mark.rootless


def _run_error_matches(case_id: str, err: Exception) -> None:
    """What the CLI prints for ``err`` (``dockernb: Error response from daemon: <msg>.``) vs golden."""
    import re

    case = golden.expected(case_id)
    line = f"dockernb: Error response from daemon: {err}.\n"
    assert re.fullmatch(golden.rename(case["stderr_regex"]), line), (line, case["stderr"])


def test_exit_code(box: Box) -> None:
    assert box.run("sh", "-c", "exit 7").code == 7
    assert box.run("false").code == 1


def test_pid_1_survives_its_own_sigkill(box: Box) -> None:
    res = box.run("sh", "-c", "kill -9 $$; echo survived")
    case = golden.expected("run-sigkill-pid1")
    assert (res.code, res.out) == (case["exit_code"], case["stdout"])


@pytest.mark.skipif(find_init() is None, reason="tini is not installed")
def test_init_passes_the_signal_exit_through(box: Box) -> None:
    res = box.run("sh", "-c", "kill -9 $$", init=True)
    assert res.code == golden.expected("run-sigkill-init")["exit_code"] == 137


def _zombies_after_orphan(box: Box, init: bool) -> list[str]:
    """Orphan a child, leave PID 1 to `sleep` (which never waits), and list the process states."""
    state, _ = box.start("sh", "-c", "(sleep 0.05 &); exec sleep 5", init=init)
    time.sleep(0.4)
    with tempfile.TemporaryFile() as out:
        assert rt.exec_process(state, ["ps", "-o", "stat,comm"], stdio=rt.Stdio(None, out.fileno())).wait() == 0
        out.seek(0)
        return [line.split()[0] for line in out.read().decode().splitlines()[1:]]


@pytest.mark.skipif(find_init() is None, reason="tini is not installed")
def test_init_reaps_orphans(box: Box) -> None:
    assert "Z" not in _zombies_after_orphan(box, init=True)
    # the control: without an init, the orphan stays a zombie of PID 1
    assert "Z" in _zombies_after_orphan(box, init=False)


@pytest.mark.skipif(find_init() is None, reason="tini is not installed")
def test_init_forwards_signals(box: Box) -> None:
    state, created = box.start("sleep", "100", init=True)
    time.sleep(0.05)
    rt.kill(state, signal.SIGTERM)
    assert _wait(created.pid, 5) == 128 + signal.SIGTERM


def test_killed_by_signal_is_128_plus_n(box: Box) -> None:
    state, created = box.start("sleep", "100")
    rt.kill(state, signal.SIGKILL)
    assert _wait(created.pid, 5) == 137


def test_stop_escalates_to_sigkill(box: Box) -> None:
    # busybox sleep as PID 1 ignores SIGTERM: stop must escalate
    state, created = box.start("sleep", "100")
    t0 = time.monotonic()
    assert rt.stop(state, timeout=0.3)
    assert 0.3 <= time.monotonic() - t0 < 5
    assert _wait(created.pid, 5) == 137
    assert rt.state(state).status == "stopped"
    assert not rt.stop(state)  # stopping a stopped container is not an error


def test_kill_all_reaches_every_process(box: Box) -> None:
    state, created = box.start("sh", "-c", "sleep 100 & sleep 100 & wait")
    deadline = time.monotonic() + 5
    while len(rt.pids(state)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    procs = rt.pids(state)
    assert len(procs) == 3 and created.pid in procs
    rt.kill(state, signal.SIGKILL, all_processes=True)
    assert _wait(created.pid, 5) == 137
    for pid in procs:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_tty_exit_code_and_crlf(box: Box) -> None:
    """`exit 3` in a tty gives 3 (a pty made inside the namespaces, not the caller's terminal)."""
    res = box.run("sh", "-c", "tty; stty size; echo hi; exit 3", tty=True, console_size=(40, 100))
    assert res.code == 3
    assert res.out == "/dev/pts/0\r\n40 100\r\nhi\r\n"


def test_tty_interactive_shell(box: Box) -> None:
    state, created = box.start("sh", tty=True)
    assert created.pty_master is not None
    master = created.pty_master
    try:
        os.write(master, b"echo $((6*7)); exit 5\n")
        with tempfile.TemporaryFile() as out:
            _drain(master, out.fileno())
            out.seek(0)
            assert b"42\r\n" in out.read()
        assert _wait(created.pid, 5) == 5
    finally:
        os.close(master)


def test_interactive_dash_exit_3_in_a_tty(root_dir: Path, dash_lower: Path) -> None:
    """The issue's dash bug: with the caller's terminal passed into a new pid namespace, an
    interactive dash reports 2 for `exit 3`; with a pty of its own it exits 3."""
    box = Box(root_dir / "dash", dash_lower)
    try:
        state, created = box.start("dash", "-i", tty=True)
        master = created.pty_master
        assert master is not None
        try:
            os.write(master, b"exit 3\n")
            with tempfile.TemporaryFile() as out:
                _drain(master, out.fileno())
                out.seek(0)
                transcript = out.read()
            assert b"job control turned off" not in transcript and b"can't access tty" not in transcript
            assert _wait(created.pid, 5) == 3
        finally:
            os.close(master)
    finally:
        box.cleanup()


def test_missing_command_is_dockers_127(box: Box) -> None:
    with pytest.raises(CommandNotFound) as err:
        box.run("no-such-cmd")
    assert err.value.exit_code == golden.expected("run-no-such-cmd")["exit_code"] == 127
    _run_error_matches("run-no-such-cmd", err.value)


def test_missing_path_is_dockers_127(box: Box) -> None:
    with pytest.raises(CommandNotFound) as err:
        box.run("/no/such/file")
    _run_error_matches("run-no-such-path", err.value)


def test_not_executable_is_dockers_126(box: Box) -> None:
    with pytest.raises(CommandNotExecutable) as err:
        box.run("/etc/passwd")
    assert err.value.exit_code == golden.expected("run-not-executable")["exit_code"] == 126
    _run_error_matches("run-not-executable", err.value)


def test_failed_create_leaves_nothing(box: Box) -> None:
    cid, bundle, spec = box.spec(cmd=("no-such-cmd",))
    state = box.base / "state" / "failed"
    with pytest.raises(CommandNotFound):
        rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle))
    assert not state.exists()
    from dockernb.linux import cgroups

    for own in cgroups.discover().v1.values():
        assert not Path(own, "dockernb", cid).exists()


def test_unknown_user_is_dockers_error(box: Box) -> None:
    with pytest.raises(InvalidArgument, match="^unable to find user nobodyx: no matching entries in passwd file$"):
        box.run("true", user="nobodyx")


def test_lifecycle_states_and_idempotent_delete(box: Box) -> None:
    cid, bundle, spec = box.spec(cmd=("sleep", "100"))
    state = box.base / "state" / "life"
    created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle))
    try:
        assert rt.state(state).status == "created"
        assert Path(f"/proc/{created.pid}/cmdline").read_bytes().startswith(f"dockernb-init {cid[:12]}".encode())
        with pytest.raises(ContainerStateConflict):
            rt.delete(state) if False else rt.exec_process(state, ["true"])
        rt.start(state)
        assert rt.state(state).status == "running"
        assert Path(f"/proc/{created.pid}/cmdline").read_bytes().startswith(b"sleep")
        with pytest.raises(ContainerStateConflict):
            rt.start(state)
        with pytest.raises(ContainerStateConflict):
            rt.delete(state)  # running, no force
        rt.kill(state, signal.SIGKILL)
        assert _wait(created.pid, 5) == 137
        assert rt.state(state).status == "stopped"
        with pytest.raises(ContainerStateConflict):
            rt.kill(state, signal.SIGTERM)
    finally:
        rt.delete(state, force=True)
        _wait(created.pid, 1)
    assert not state.exists()
    rt.delete(state)  # again: no error, nothing to do
    rt.delete(box.base / "never-created")


def test_create_from_another_process_then_start(box: Box) -> None:
    """A monitor-like split: create in a forked child that leaves, start from here."""
    cid, bundle, spec = box.spec(cmd=("sh", "-c", "echo started"))
    state = box.base / "state" / "split"
    r, w = os.pipe()
    out_r, out_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(r)
            os.setsid()
            created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle),
                                stdio=rt.Stdio(None, out_w, out_w))
            os.write(w, str(created.pid).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    os.close(out_w)
    init_pid = int(os.read(r, 64))
    os.close(r)
    os.waitpid(child, 0)  # the creator is gone: the init was reparented
    try:
        assert rt.state(state).status == "created"
        rt.start(state)
        assert os.read(out_r, 64) == b"started\n"
    finally:
        os.close(out_r)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{init_pid}").exists() and "Z" not in Path(f"/proc/{init_pid}/stat").read_text() \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        rt.delete(state, force=True)


def test_exec_into_running_container(box: Box) -> None:
    state, created = box.start("sleep", "100")
    with tempfile.TemporaryFile() as out:
        proc = rt.exec_process(state, ["sh", "-c", "echo $$; ps -o pid,comm | grep -c sleep; id -u; pwd"],
                               stdio=rt.Stdio(None, out.fileno(), out.fileno()), cwd="/tmp", user="nobody")
        assert proc.pid in rt.pids(state)  # it joined the container's cgroups (or pid namespace)
        assert proc.wait() == 0
        out.seek(0)
        lines = out.read().decode().split()
    assert int(lines[0]) > 1 and lines[1:] == ["1", "65534", "/tmp"]
    exits = rt.exec_process(state, ["sh", "-c", "exit 5"])
    assert exits.wait() == 5


def test_exec_errors_are_dockers(box: Box) -> None:
    state, _ = box.start("sleep", "100")
    with pytest.raises(CommandNotFound) as err:
        rt.exec_process(state, ["no-such-cmd"])
    assert f"{err.value}\r\n" == golden.expected("exec-no-such-cmd")["stdout"]
    with pytest.raises(CommandNotExecutable) as err2:
        rt.exec_process(state, ["/etc/passwd"])
    assert f"{err2.value}\r\n" == golden.expected("exec-not-executable")["stdout"]


def test_exec_with_tty(box: Box) -> None:
    state, _ = box.start("sleep", "100")
    proc = rt.exec_process(state, ["sh", "-c", "tty; exit 4"], tty=True)
    assert proc.pty_master is not None
    with tempfile.TemporaryFile() as out:
        _drain(proc.pty_master, out.fileno())
        os.close(proc.pty_master)
        out.seek(0)
        assert out.read().startswith(b"/dev/pts/")
    assert proc.wait() == 4


def test_exec_into_stopped_container_is_refused(box: Box) -> None:
    state, created = box.start("true")
    _wait(created.pid, 5)
    with pytest.raises(ContainerStateConflict, match="is not running"):
        rt.exec_process(state, ["true"])
