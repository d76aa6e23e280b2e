"""Pure parts of the monitor: docker's restart manager, detach keys, spawn specs, the C source's build."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument, ProbeFailed
from dockernb.monitor import build
from dockernb.monitor.attach import DetachScanner, parse_detach_keys
from dockernb.monitor.restart import DEFAULT_DELAY, MAX_DELAY, RestartDecision, decide
from dockernb.monitor.spawner import SpawnSpec, load_spawner
from dockernb.spec.container import RestartPolicy
from dockernb.testing.spawners import PlainSpawner, plain_spec

pytestmark = pytest.mark.rootless


def _decide(
    policy: str, code: int = 1, *, stopped: bool = False, count: int = 0, ran: float = 1.0, prev: float = 0.0
) -> RestartDecision:
    return decide(
        RestartPolicy.parse(policy),
        exit_code=code,
        manually_stopped=stopped,
        restart_count=count,
        ran_for=ran,
        previous_delay=prev,
    )


def test_restart_policies_like_docker() -> None:
    assert not _decide("no").restart and not _decide("").restart
    assert _decide("always", 0).restart and _decide("unless-stopped", 0).restart
    assert not _decide("always", stopped=True).restart
    assert not _decide("unless-stopped", stopped=True).restart
    assert _decide("on-failure", 1).restart and not _decide("on-failure", 0).restart
    assert _decide("on-failure:2", count=1).restart and not _decide("on-failure:2", count=2).restart
    assert _decide("on-failure:0", count=100).restart  # 0 = no limit


def test_backoff_doubles_to_a_minute_and_resets_after_ten_seconds() -> None:
    delays, prev = [], 0.0
    for _ in range(12):
        prev = _decide("always", prev=prev).delay
        delays.append(prev)
    assert delays[:4] == [DEFAULT_DELAY, 0.2, 0.4, 0.8]
    assert delays[-1] == MAX_DELAY and max(delays) == MAX_DELAY
    assert _decide("always", prev=MAX_DELAY, ran=10.0).delay == DEFAULT_DELAY


def test_restart_policy_parsing_errors() -> None:
    assert str(RestartPolicy.parse("on-failure:3")) == "on-failure:3"
    for text, message in [
        ("bogus", "invalid restart policy 'bogus'"),
        ("on-failure:x", "maximum retry count must be an integer"),
        ("always:3", "maximum retry count cannot be used with restart policy 'always'"),
        ("a:b:c", "invalid restart policy format"),
        ("on-failure:-1", "maximum retry count cannot be negative"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            RestartPolicy.parse(text)
        assert str(err.value) == message


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@,ctrl-[,ctrl-_") == b"a\x00\x1b\x1f"
    for bad in ("ctrl-", "ctrl-pq", "", "alt-x"):
        with pytest.raises(InvalidArgument, match="Invalid detach keys"):
            parse_detach_keys(bad)
    scan = DetachScanner(b"\x10\x11")
    assert scan.feed(b"ab") == (b"ab", False)
    assert scan.feed(b"c\x10") == (b"c", False)  # a possible start is held back
    assert scan.feed(b"x") == (b"\x10x", False)  # ...and released when it was not the sequence
    assert scan.feed(b"\x10") == (b"", False)
    assert scan.feed(b"\x11rest") == (b"", True)


def test_spawn_spec_round_trip() -> None:
    spec = plain_spec(["sleep", "1"], {"PATH": "/bin"})
    again = SpawnSpec.from_json(spec.to_json())
    assert again == spec
    spawner = load_spawner(again)
    assert isinstance(spawner, PlainSpawner) and spawner.argv == ["sleep", "1"]


def test_binary_cache_is_keyed_and_private(tmp_path: Path) -> None:
    env = {"DOCKERNB_MONITOR_CACHE": str(tmp_path / "cache"), "PATH": os.environ["PATH"]}
    first = build.supervisor_binary(env)
    assert first is not None and first.name.startswith("dockernb-monitor-")
    assert build.supervisor_binary(env) == first  # cached: same hash, no rebuild
    mtime = first.stat().st_mtime_ns
    assert build.supervisor_binary(env) == first and first.stat().st_mtime_ns == mtime
    assert os.stat(first).st_mode & stat.S_IXUSR
    os.chmod(tmp_path / "cache", 0o777)  # someone else could swap the binary: refuse it
    with pytest.raises(ProbeFailed, match="writable by another user"):
        build.supervisor_binary(env)
    os.chmod(tmp_path / "cache", 0o700)
    assert build.supervisor_binary({**env, "DOCKERNB_MONITOR_SUPERVISOR": "python"}) is None
    no_compiler = {"PATH": "/nonexistent", "DOCKERNB_MONITOR_CACHE": str(tmp_path / "empty")}
    assert build.supervisor_binary(no_compiler) is None  # the launcher then runs the Python supervisor


def test_an_exit_recorded_as_the_monitor_exits_is_not_a_lost_monitor() -> None:
    """The monitor writes exit.json then exits: a reader that missed the record and then finds the
    monitor gone must look again rather than call the run lost (exit 255)."""
    from datetime import UTC, datetime
    from typing import Any, cast

    from dockernb.monitor.reconcile import MONITOR_LOST, effective
    from dockernb.spec.status import ContainerState, ContainerStatus, ExitRecord

    record = ExitRecord(generation=1, exit_code=0, finished_at=datetime.now(UTC))

    class Store:  # exit.json appears between the first read and the monitor check
        reads = 0

        def exit_record(self, container_id: str) -> ExitRecord | None:
            self.reads += 1
            return None if self.reads == 1 else record

    dead = ContainerState(status=ContainerStatus.RUNNING, pid=1, monitor_pid=0, generation=1)
    now = effective(cast(Any, Store()), "c", dead)
    assert (now.status, now.exit_code) == (ContainerStatus.EXITED, 0)

    class Empty:
        def exit_record(self, container_id: str) -> ExitRecord | None:
            return None

    assert effective(cast(Any, Empty()), "c", dead).exit_code == MONITOR_LOST
