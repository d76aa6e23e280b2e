"""Pieces of the process stages that need no namespaces: messages, argv[0] lookup, errors, state."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from dockernb.errors import CommandNotExecutable, CommandNotFound, ContainerStartFailed, NoSuchContainer
from dockernb.runtime import console, record
from dockernb.runtime.create import CREATE_PREFIX, EXEC_PREFIX, start_error
from dockernb.runtime.init import InitError, look_path
from dockernb.runtime.messages import Channel, Msg

pytestmark = pytest.mark.rootless


def test_channel_carries_messages_and_fds() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    left, right = Channel(a), Channel(b)
    r, w = os.pipe()
    try:
        left.send(Msg.INIT_PID, {"pid": 42})
        left.send(Msg.PTY, {}, [w])
        assert right.recv() == (Msg.INIT_PID, {"pid": 42}, [])
        kind, payload, fds = right.recv()
        assert kind is Msg.PTY and len(fds) == 1
        os.write(fds[0], b"x")
        os.close(fds[0])
        assert os.read(r, 1) == b"x"
        left.close()
        assert right.recv() == (None, {}, [])  # EOF: the peer exec'd or died
    finally:
        os.close(r)
        os.close(w)
        right.close()


def test_look_path_is_gos(tmp_path: Path) -> None:
    bin1, bin2 = tmp_path / "bin1", tmp_path / "bin2"
    bin1.mkdir()
    bin2.mkdir()
    (bin1 / "tool").write_text("not executable")
    (bin2 / "tool").write_text("#!/bin/sh\n")
    (bin2 / "tool").chmod(0o755)
    (bin1 / "dir").mkdir()
    env = [f"PATH={bin1}:{bin2}"]
    assert look_path("tool", env) == str(bin2 / "tool")  # non-executable entries are skipped
    with pytest.raises(InitError) as nf:
        look_path("nope", env)
    assert (nf.value.kind, nf.value.message) == ("not_found", 'exec: "nope": executable file not found in $PATH')
    with pytest.raises(InitError) as np:
        look_path(str(bin1 / "tool"), env)
    assert (np.value.kind, np.value.message) == ("not_executable", f'exec: "{bin1}/tool": permission denied')
    with pytest.raises(InitError) as nd:
        look_path(str(bin1 / "dir"), env)
    assert nd.value.kind == "not_executable"
    with pytest.raises(InitError) as missing:
        look_path("/no/such/file", env)
    assert missing.value.message == 'exec: "/no/such/file": stat /no/such/file: no such file or directory'
    with pytest.raises(InitError):
        look_path("tool", [])  # no PATH at all: only names with a slash run


def test_errors_map_to_dockers_classes() -> None:
    e = start_error("not_found", 'exec: "x": executable file not found in $PATH')
    assert isinstance(e, CommandNotFound) and e.exit_code == 127
    assert str(e) == f'{CREATE_PREFIX}exec: "x": executable file not found in $PATH: unknown'
    e2 = start_error("not_executable", 'exec: "/etc/passwd": permission denied', prefix=EXEC_PREFIX)
    assert isinstance(e2, CommandNotExecutable) and str(e2).startswith("OCI runtime exec failed: exec failed:")
    e3 = start_error("setup", "mount proc: permission denied")
    assert type(e3) is ContainerStartFailed and "error during container init: mount proc" in str(e3)
    assert str(start_error("user", "unable to find user x: no matching entries in passwd file")).startswith("unable")


def test_record_status_and_pid_reuse(tmp_path: Path) -> None:
    with pytest.raises(NoSuchContainer):
        record.load(tmp_path / "none")
    me = os.getpid()
    start = record.process_start_time(me)
    assert start is not None
    s = record.State(id="c1", pid=me, pid_start=start, bundle="/b", config="/b/config.json", status="created",
                     created="2026-01-01T00:00:00Z", rootless=True, cgroup_kind="none")
    record.save(tmp_path, s)
    assert stat.S_IMODE(os.stat(tmp_path / "state.json").st_mode) == 0o600
    loaded = record.load(tmp_path)
    assert loaded == s and record.status(loaded) == "created"
    loaded.status = "running"
    assert record.status(loaded) == "running"
    loaded.pid_start += 1  # the same pid, a different process: ours is gone
    assert record.status(loaded) == "stopped"
    loaded.pid = 2**22 + 1
    assert record.status(loaded) == "stopped"


def test_pty_resize() -> None:
    master, slave = os.openpty()
    try:
        console.resize(master, 33, 101)
        assert console.window_size(slave) == (33, 101)
    finally:
        os.close(master)
        os.close(slave)


def test_sealed_child_imports_nothing_from_disk() -> None:
    from dockernb.runtime.init import seal_imports

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            seal_imports()
            import json  # noqa: F401 - already loaded: fine

            try:
                import wave  # noqa: F401 - a stdlib module nobody here imported: must not load
                code = 2
            except ImportError:
                code = 0
        finally:
            os._exit(code)
    os.close(w)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
