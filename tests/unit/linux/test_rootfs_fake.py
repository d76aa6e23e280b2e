"""The rootfs steps against a real directory tree and a recording FakeSyscalls (no root, no mounts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockernb.linux import rootfs
from dockernb.linux import syscalls as sc
from dockernb.runtime.bundle import ContainerIntent, build_spec
from dockernb.spec.mount import Mount
from dockernb.testing.syscalls import FakeSyscalls

pytestmark = pytest.mark.rootless


def test_parse_options() -> None:
    o = rootfs.parse_options(["nosuid", "noexec", "mode=755", "size=65536k", "rprivate", "ro"])
    assert o.flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_RDONLY
    assert o.propagation == (sc.MS_PRIVATE | sc.MS_REC,)
    assert o.data == "mode=755,size=65536k"
    assert rootfs.parse_options(["rbind", "rw"]).flags == sc.MS_BIND | sc.MS_REC
    assert rootfs.parse_options(["ro", "rw"]).flags == 0


def test_open_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    (root / "etc" / "evil").symlink_to("/../../outside")  # aims at the host, relative or absolute
    (root / "abs").symlink_to(str(outside))
    (root / "dangling").symlink_to("/nowhere")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        (root / "outside").mkdir()  # inside the root, both links resolve here
        (root / str(outside).lstrip("/")).mkdir(parents=True)
        for path in ("/etc/evil/made", "/abs/made"):
            got = rootfs.open_in_root(fd, path, create="dir")
            real = os.readlink(f"/proc/self/fd/{got}")
            os.close(got)
            assert real.startswith(str(root)), real
        assert not list(outside.iterdir())  # nothing was created outside the root
        with pytest.raises(OSError, match="points nowhere"):
            rootfs.open_in_root(fd, "/dangling/x", create="dir")
        f = rootfs.open_in_root(fd, "/etc/hostname", create="file")
        os.close(f)
        assert (root / "etc" / "hostname").is_file()
        with pytest.raises(FileNotFoundError):
            rootfs.open_in_root(fd, "/no/such")
    finally:
        os.close(fd)


def _plan(tmp_path: Path, **kw: object) -> rootfs.RootfsPlan:
    root = tmp_path / "rootfs"
    for d in ("proc", "sys", "dev", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    intent = ContainerIntent(
        container_id="f" * 64, cmd=("sh",), rootless=True,
        mounts=(Mount(type="bind", source=str(data), target="/data", options=("rbind", "ro")),),
    )
    spec = build_spec(intent, root_path=str(root))
    return rootfs.RootfsPlan(spec=spec, rootfs=str(root), userns=True, **kw)  # type: ignore[arg-type]


def test_mount_all_in_spec_order_inside_the_root(tmp_path: Path) -> None:
    plan = _plan(tmp_path, cgroups_v1=(rootfs.CgroupMount("memory", "memory", "/sys/fs/cgroup/memory/x"),),
                 cgroupns=True)
    fake = FakeSyscalls()
    fake.fail["mount"] = PermissionError(1, "v1 cgroup mount refused")  # only the first call fails
    calls: list[tuple[object, ...]] = []

    class Once(FakeSyscalls):
        def mount(self, source, target, fstype, flags, data):  # type: ignore[no-untyped-def]
            real = os.readlink(target) if target.startswith("/proc/self/fd/") else target
            calls.append((source, real, fstype, flags, data))
            if fstype == "cgroup":
                raise PermissionError(1, "cgroup v1 in a user namespace")

    rootfs.mount_all(Once(), plan)
    root = plan.rootfs
    targets = [c[1] for c in calls]
    assert targets[0] == f"{root}/proc" and calls[0][2] == "proc"
    assert targets[1] == f"{root}/dev" and calls[1][2] == "tmpfs"
    assert f"{root}/dev/pts" in targets and f"{root}/dev/mqueue" in targets
    assert all(t.startswith(root) for t in targets), targets
    # the user's read-only bind: a bind, then a remount of the new mount with MS_RDONLY
    data = [c for c in calls if c[1] == f"{root}/data"]
    assert data[0][0] == str(tmp_path / "data") and data[0][3] & sc.MS_BIND
    assert data[1][3] & sc.MS_REMOUNT and data[1][3] & sc.MS_RDONLY
    # cgroup v1 refused in the user namespace: the host directory is bound instead
    cg = [c for c in calls if c[1] == f"{root}/sys/fs/cgroup/memory"]
    assert cg[0][2] == "cgroup" and cg[1][0] == "/sys/fs/cgroup/memory/x" and cg[1][3] & sc.MS_BIND


def test_proc_must_not_be_a_symlink(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    os.rmdir(Path(plan.rootfs) / "proc")
    (Path(plan.rootfs) / "proc").symlink_to("tmp")
    (Path(plan.rootfs) / "tmp").mkdir()
    with pytest.raises(OSError, match="is a symlink in the image"):
        rootfs.mount_all(FakeSyscalls(), plan)


def test_devices_are_bound_in_a_user_namespace(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    fake = FakeSyscalls()
    rootfs.create_devices(fake, plan)
    binds = [c for c in fake.calls if c[0] == "mount"]
    assert [c[1] for c in binds] == [d.path for d in rootfs.DEFAULT_DEVICES if os.path.exists(d.path)]
    assert all(c[2].startswith(plan.rootfs + "/dev/") and c[4] == sc.MS_BIND for c in binds)  # type: ignore[union-attr]
    rootfs.dev_links(plan)
    dev = Path(plan.rootfs) / "dev"
    assert os.readlink(dev / "ptmx") == "pts/ptmx" and os.readlink(dev / "fd") == "/proc/self/fd"
    assert os.readlink(dev / "stderr") == "/proc/self/fd/2"


def test_prepare_mounts_the_snapshot_then_binds_the_root(tmp_path: Path) -> None:
    snap = (Mount(type="overlay", source="overlay", options=("lowerdir=/l", "upperdir=/u", "workdir=/w")),)
    plan = _plan(tmp_path, root_mounts=snap)
    fake = FakeSyscalls()
    order: list[object] = []

    def snapshot(mounts: object, target: str) -> None:
        order.append(len(fake.calls))
        fake.calls.append(("snapshot", mounts, target))

    rootfs.prepare(fake, plan, mount_snapshot=snapshot)
    assert fake.calls == [
        ("mount", None, "/", None, sc.MS_SLAVE | sc.MS_REC, None),
        ("snapshot", list(snap), plan.rootfs),
        ("mount", plan.rootfs, plan.rootfs, None, sc.MS_BIND | sc.MS_REC, None),
    ]
    fuse = (Mount(type="fuse.fuse-overlayfs", source="overlay", options=("lowerdir=/l",)),)
    fake2 = FakeSyscalls()
    rootfs.prepare(fake2, _plan(tmp_path, root_mounts=fuse), mount_snapshot=snapshot)
    assert [c[0] for c in fake2.calls] == ["mount", "mount"]  # fuse was mounted before, by a helper
