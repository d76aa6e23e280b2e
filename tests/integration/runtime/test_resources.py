"""Resources on this host's hybrid cgroup v1 layout (root), and docker's warnings without delegation.

v2 has no controllers here: the v2 manager is covered over a fake cgroupfs in tests/unit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.errors import ContainerStartFailed, InvalidArgument
from dockernb.linux import cgroups
from dockernb.runtime.record import load
from dockernb.spec.runtime import Rlimit
from tests import golden
from tests.capabilities import available
from tests.integration.runtime.conftest import Box, _wait

# cgroup limits need root here; the rootless pass checks docker's warnings instead (test_limits_warn_or_apply)
needs_cgroups = pytest.mark.requires_root


def _daemon_message(case_id: str) -> str:
    """The daemon's sentence in a golden `docker run` error (between the prefix and the final '.')."""
    text = golden.expected(case_id)["stderr"].splitlines()[0]
    return text.removeprefix("dockernb: Error response from daemon: ").removesuffix(".")


@pytest.mark.rootless
def test_limits_warn_or_apply(box: Box) -> None:
    """Root: the limits land in the container's cgroups. Rootless without delegation: docker's warnings."""
    cid, bundle, spec = box.spec(cmd=("cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                                 memory=64 * 1024 * 1024, pids_limit=50, cpus=0.5, cpu_shares=512)
    state = box.base / "state" / cid[:12]
    created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle))
    try:
        if available("cgroup-delegation"):
            assert created.warnings == []
            s = load(state)
            assert Path(s.cgroup_paths["memory"], "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
            assert Path(s.cgroup_paths["pids"], "pids.max").read_text().strip() == "50"
            assert Path(s.cgroup_paths["cpu"], "cpu.cfs_quota_us").read_text().strip() == "50000"
            assert Path(s.cgroup_paths["cpu"], "cpu.cfs_period_us").read_text().strip() == "100000"
            assert Path(s.cgroup_paths["cpu"], "cpu.shares").read_text().strip() == "512"
        else:
            assert created.warnings == [
                cgroups.WARN_ROOTLESS, cgroups.WARN_MEMORY, cgroups.WARN_CPU_SHARES, cgroups.WARN_CPU_QUOTA,
                cgroups.WARN_PIDS,
            ]
            assert created.warnings[1] == (
                "Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
                "Limitation discarded."
            )
    finally:
        rt.delete(state, force=True)
        _wait(created.pid, 5)


@needs_cgroups
def test_memory_limit_oom_kills(box: Box) -> None:
    state, created = box.start("sh", "-c", "head -c 200000000 /dev/zero | tail > /dev/null", memory=16 << 20)
    code = _wait(created.pid, 20)
    assert code == 137  # the pipeline's last command died of SIGKILL
    assert rt.oom_killed(state)


@needs_cgroups
def test_pids_limit(box: Box) -> None:
    res = box.run("sh", "-c", "cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; "
                  "kill $(jobs -p) 2>/dev/null; true", pids_limit=5)
    assert res.out.split()[0] == "5"
    assert "can't fork" in res.err or "Resource temporarily unavailable" in res.err, res.err


@needs_cgroups
def test_cpu_quota_throttles(box: Box) -> None:
    res = box.run("sh", "-c", "timeout 0.5 sh -c 'while :; do :; done'; cat /sys/fs/cgroup/cpu/cpu.stat",
                  cpus=0.2)
    stat = dict(line.split() for line in res.out.splitlines() if len(line.split()) == 2)
    assert int(stat["nr_throttled"]) > 0, res.out


@needs_cgroups
def test_freezer_pause_and_resume(box: Box) -> None:
    state, created = box.start("sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.01; done")
    upper = Path(load(state).cgroup_paths["freezer"])
    counter = next(b for b in box.base.glob("b*") if b.is_dir()) / "upper" / "tmp" / "n"
    deadline = time.monotonic() + 5
    while not counter.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    rt.pause(state)
    assert rt.state(state).status == "paused"
    assert Path(upper, "freezer.state").read_text().strip() == "FROZEN"
    frozen = counter.read_text()
    time.sleep(0.15)
    assert counter.read_text() == frozen
    rt.resume(state)
    assert rt.state(state).status == "running"
    time.sleep(0.15)
    assert counter.read_text() != frozen


@pytest.mark.rootless
def test_ulimit_above_hard_limit_is_dockers_error(box: Box) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard < 99999, "the hard limit is high enough that this test proves nothing"
    with pytest.raises(ContainerStartFailed) as err:
        box.run("true", ulimits=(Rlimit(type="RLIMIT_NOFILE", soft=99999, hard=99999),))
    assert str(err.value) == _daemon_message("run-ulimit-above-hard")
    assert err.value.exit_code == 1  # the CLI turns it into 125 for `run`, like any engine error


@pytest.mark.rootless
def test_ulimit_within_hard_limit(box: Box) -> None:
    res = box.run("sh", "-c", "ulimit -n; ulimit -Hn", ulimits=(Rlimit(type="RLIMIT_NOFILE", soft=100, hard=200),))
    assert res.out.split() == ["100", "200"]


@pytest.mark.rootless
def test_resource_validation_is_dockers(box: Box) -> None:
    with pytest.raises(InvalidArgument, match="^Minimum memory limit allowed is 6MB$"):
        box.spec(cmd=("true",), memory=1024)
    assert _daemon_message("run-memory-too-small") == "Minimum memory limit allowed is 6MB"
    import os

    with pytest.raises(InvalidArgument) as err:
        box.spec(cmd=("true",), cpus=99.0)
    if os.cpu_count() == 2:
        assert str(err.value) == _daemon_message("run-cpus-too-many")


@pytest.mark.rootless
def test_pause_or_say_why(box: Box) -> None:
    state, created = box.start("sleep", "30")
    if available("cgroup-delegation"):
        rt.pause(state)
        assert rt.state(state).status == "paused"
        rt.resume(state)
    else:
        from dockernb.errors import ContainerStateConflict

        with pytest.raises(ContainerStateConflict, match="no writable freezer cgroup for this user"):
            rt.pause(state)
    assert rt.state(state).status == "running"


@needs_cgroups
def test_delete_removes_cgroups_the_container_made(box: Box) -> None:
    """A privileged container can make cgroups below its own; delete kills and removes them all."""
    state, created = box.start("sh", "-c", "mkdir /sys/fs/cgroup/pids/inner && sh -c 'echo $$ > "
                               "/sys/fs/cgroup/pids/inner/cgroup.procs; exec sleep 100' & exec sleep 100",
                               privileged=True)
    paths = load(state).cgroup_paths
    inner = Path(paths["pids"], "inner")
    deadline = time.monotonic() + 5
    while not (inner.exists() and Path(inner, "cgroup.procs").read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Path(inner, "cgroup.procs").read_text().strip()
    assert len(rt.pids(state)) == 2  # the process in the sub-cgroup counts too
    rt.delete(state, force=True)
    _wait(created.pid, 5)
    assert not any(Path(p).exists() for p in paths.values())
