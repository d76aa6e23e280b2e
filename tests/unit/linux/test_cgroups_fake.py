"""Cgroup managers over a fake cgroupfs tree: v2 (which has no controllers on this host), v1, none."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from dockernb.linux import cgroups
from dockernb.spec.runtime import CpuResources, DeviceRule, MemoryResources, Resources

pytestmark = pytest.mark.rootless

RES = Resources(
    devices=(DeviceRule(allow=False, access="rwm"), DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm")),
    memory=MemoryResources(limit=64 << 20, swap=128 << 20, reservation=32 << 20),
    cpu=CpuResources(shares=1024, quota=50000, period=100000, cpus="0"),
    pids_limit=20,
)


def _v2_tree(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    """A unified hierarchy as the kernel would show it: the files a new cgroup gets, pre-made."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("")
    return root


def _populate_v2(d: Path) -> None:
    for name in ("cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "memory.max", "memory.swap.max",
                 "memory.low", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max", "cgroup.freeze",
                 "cgroup.kill"):
        (d / name).write_text("")
    (d / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (d / "cgroup.events").write_text("populated 0\nfrozen 1\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (d / "memory.current").write_text("4096\n")


def test_v2_create_apply_destroy(tmp_path: Path) -> None:
    own = _v2_tree(tmp_path / "unified" / "user.slice")
    filters: list[tuple[str, int]] = []
    m = cgroups.V2Manager(str(own / "dockernb" / "abc"), ["cpu", "memory", "pids", "cpuset", "hugetlb"],
                          device_filter=lambda path, rules: filters.append((path, len(rules))))
    # the kernel makes these files in every new cgroup; the fake makes them as mkdir happens
    (own / "dockernb").mkdir()
    _populate_v2(own / "dockernb")
    (own / "dockernb" / "abc").mkdir()
    _populate_v2(own / "dockernb" / "abc")
    warnings = m.create(RES)
    assert warnings == []
    d = own / "dockernb" / "abc"
    assert (own / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids"
    assert (own / "dockernb" / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "memory.swap.max").read_text() == str(64 << 20)  # v1's memsw minus memory
    assert (d / "memory.low").read_text() == str(32 << 20)
    assert (d / "cpu.weight").read_text() == "39"  # runc's conversion of 1024 shares
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "cpuset.cpus").read_text() == "0"
    assert (d / "pids.max").read_text() == "20"
    assert filters == [(str(d), 2 + len(cgroups.ALWAYS_ALLOWED_DEVICES))]  # the device rules, as eBPF
    m.add(4242)
    assert (d / "cgroup.procs").read_text() == "4242"
    m.freeze()
    assert (d / "cgroup.freeze").read_text() == "1"
    assert m.oom_killed()
    stats = m.stats()
    assert (stats.memory_usage, stats.memory_limit, stats.cpu_usage_ns) == (4096, 64 << 20, 1_500_000)
    m.kill_all(signal.SIGKILL)
    assert (d / "cgroup.kill").read_text() == "1"
    for f in list(d.iterdir()):
        f.unlink()
    for f in list((own / "dockernb").iterdir()):
        if f.is_file():
            f.unlink()
    m.destroy()
    assert not (own / "dockernb").exists()  # the empty parent goes too
    m.destroy()  # idempotent


def test_v2_missing_controllers_warn(tmp_path: Path) -> None:
    own = _v2_tree(tmp_path / "u", controllers="hugetlb")
    m = cgroups.V2Manager(str(own / "dockernb" / "x"), ["hugetlb"], device_filter=lambda path, rules: None)
    warnings = m.create(RES)
    assert cgroups.WARN_MEMORY in warnings and cgroups.WARN_PIDS in warnings and cgroups.WARN_CPU_QUOTA in warnings


def test_v2_goes_beside_a_busy_cgroup(tmp_path: Path) -> None:
    """The no-internal-processes rule: a cgroup holding processes cannot delegate controllers."""
    mount = _v2_tree(tmp_path / "unified")
    own = _v2_tree(mount / "session")
    (own / "cgroup.procs").write_text("1234\n")
    h = cgroups.Hierarchies(v1={}, v2=str(own), v2_controllers=("memory", "pids"), v2_mount=str(mount))
    m = cgroups.manager_for("dockernb/c1", hierarchies=h)
    assert isinstance(m, cgroups.V2Manager)
    assert m.path == str(mount / "dockernb" / "c1")
    (own / "cgroup.procs").write_text("")
    assert cgroups.manager_for("dockernb/c1", hierarchies=h).paths() == {"": str(own / "dockernb" / "c1")}


def test_v1_create_writes_device_rules_and_limits(tmp_path: Path) -> None:
    dirs = {}
    for ctl in ("memory", "cpu", "pids", "devices", "freezer", "cpuset"):
        base = tmp_path / ctl
        base.mkdir()
        dirs[ctl] = str(base)
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0\n")
    m = cgroups.V1Manager.under(dirs, "dockernb/c1")
    # pre-make what the kernel would create, so the writes land in files
    for ctl, files in {
        "memory": ["memory.limit_in_bytes", "memory.soft_limit_in_bytes"],
        "cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
        "pids": ["pids.max"],
        "devices": [],
        "cpuset": ["cpuset.cpus", "cpuset.mems"],
    }.items():
        for level in ("dockernb", "dockernb/c1"):
            d = tmp_path / ctl / level
            d.mkdir(parents=True, exist_ok=True)
            for f in files:
                (d / f).write_text("")
    log: list[tuple[str, str]] = []
    real = cgroups._write

    def spy(path: str, value: str) -> None:
        log.append((os.path.relpath(path, tmp_path), value))
        real(path, value) if os.path.exists(path) else None

    cgroups._write = spy  # type: ignore[assignment]
    try:
        warnings = m.create(RES)
    finally:
        cgroups._write = real  # type: ignore[assignment]
    assert warnings == [cgroups.WARN_SWAP]  # no memsw file: swap accounting is off
    devices = [v for p, v in log if p.startswith("devices/")]
    assert devices[:2] == ["a", "c 1:3 rwm"] and "c *:* m" in devices and "c 136:* rwm" in devices
    assert ("memory/dockernb/c1/memory.limit_in_bytes", str(64 << 20)) in log
    assert ("cpu/dockernb/c1/cpu.cfs_quota_us", "50000") in log
    assert ("pids/dockernb/c1/pids.max", "20") in log
    # a fresh v1 cpuset inherits its parent's cpus and mems before it can hold tasks
    assert ("cpuset/dockernb/cpuset.cpus", "0-1") in log
    assert ("cpuset/dockernb/c1/cpuset.cpus", "0") in log


def test_null_manager_warns_like_docker() -> None:
    m = cgroups.NullManager()
    assert m.create(None) == [] and m.create(Resources()) == []
    warnings = m.create(RES)
    assert warnings[0] == cgroups.WARN_ROOTLESS
    assert cgroups.WARN_MEMORY in warnings and cgroups.WARN_PIDS in warnings
    with pytest.raises(OSError, match="no writable freezer"):
        m.freeze()


def test_discover_reads_mountinfo_and_membership(tmp_path: Path) -> None:
    proc = tmp_path / "proc" / "42"
    proc.mkdir(parents=True)
    (proc / "mountinfo").write_text(
        "30 24 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "31 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "32 24 0:28 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
        "33 24 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
        "34 24 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    )
    (proc / "cgroup").write_text(
        "5:name=systemd:/\n4:pids:/docker/abc/inner\n3:cpu,cpuacct:/user\n2:memory:/user/job\n0::/session\n"
    )
    h = cgroups.discover("42", proc=str(tmp_path / "proc"))
    assert h.v1["memory"] == "/sys/fs/cgroup/memory/user/job"
    assert h.v1["cpu"] == h.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/user"
    assert h.v1["pids"] == "/sys/fs/cgroup/pids/inner"  # a mount of a sub-cgroup: paths are relative to it
    assert h.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert h.v2 == "/sys/fs/cgroup/unified/session"
    assert ("/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct") in h.v1_mounts


def test_relative_path_stays_below_the_caller() -> None:
    assert cgroups.relative_path("abc") == "dockernb/abc"
    assert cgroups.relative_path("abc", "/machine/x") == "machine/x"
    with pytest.raises(ValueError):
        cgroups.relative_path("abc", "../../escape")
