"""bundle.py: docker's run semantics turned into an OCI spec (no root, no containers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument, InvalidMountSpec
from dockernb.linux import caps
from dockernb.runtime import keys
from dockernb.runtime.bundle import DEFAULT_PATH, INIT_PATH, ContainerIntent, ImageDefaults, build_spec, write_bundle
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Rlimit, spec_from_json

pytestmark = pytest.mark.rootless

CID = "c0ffee" + "0" * 58


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "app:x:1000:1000::/home/app:/bin/sh\n"
    )
    (root / "etc/group").write_text("root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\nnogroup:x:65534:\n")
    return root


def spec_for(rootfs: Path, **kw: object):  # type: ignore[no-untyped-def]
    return build_spec(ContainerIntent(container_id=CID, **kw), rootfs=rootfs)  # type: ignore[arg-type]


def test_argv_rules(rootfs: Path) -> None:
    img = ImageDefaults(entrypoint=("/entry",), cmd=("default", "cmd"))
    assert spec_for(rootfs, image=img).process.args == ("/entry", "default", "cmd")
    assert spec_for(rootfs, image=img, cmd=("x",)).process.args == ("/entry", "x")
    # a new entrypoint drops the image's CMD
    assert spec_for(rootfs, image=img, entrypoint=("/other",)).process.args == ("/other",)
    # --entrypoint "" clears the image's entrypoint; the image's CMD stays the default
    assert spec_for(rootfs, image=img, entrypoint=()).process.args == ("default", "cmd")
    with pytest.raises(InvalidArgument, match="^No command specified$"):
        spec_for(rootfs, image=ImageDefaults())
    assert spec_for(rootfs, cmd=("sh",), init=True).process.args == (INIT_PATH, "--", "sh")


def test_env_defaults_and_overrides(rootfs: Path) -> None:
    img = ImageDefaults(env=("PATH=/img/bin", "LANG=C"), cmd=("sh",))
    env = spec_for(rootfs, image=img, env=("LANG=fr", "X=1"), tty=True, hostname="h").process.env
    assert env == ("PATH=/img/bin", "HOSTNAME=h", "TERM=xterm", "LANG=fr", "X=1")
    env = spec_for(rootfs, cmd=("sh",)).process.env
    assert env == (f"PATH={DEFAULT_PATH}", f"HOSTNAME={CID[:12]}")


def test_user_resolution_from_the_image(rootfs: Path) -> None:
    u = spec_for(rootfs, cmd=("id",), rootless=False).process.user
    assert (u.uid, u.gid, u.additional_gids) == (0, 0, (0, 10))
    u = spec_for(rootfs, cmd=("id",), user="app", rootless=False).process.user
    assert (u.uid, u.gid, u.additional_gids) == (1000, 1000, (1000, 10, 50))
    u = spec_for(rootfs, cmd=("id",), user="1234:5678", rootless=False).process.user
    assert (u.uid, u.gid, u.additional_gids) == (1234, 5678, (5678,))
    u = spec_for(rootfs, cmd=("id",), user="app:staff", group_add=("wheel", "77"), rootless=False).process.user
    assert (u.uid, u.gid, u.additional_gids) == (1000, 50, (50, 10, 77))
    with pytest.raises(InvalidArgument, match="unable to find user ghost: no matching entries in passwd file"):
        spec_for(rootfs, cmd=("id",), user="ghost")


def test_user_left_to_the_init_without_a_rootfs() -> None:
    spec = build_spec(ContainerIntent(container_id=CID, cmd=("id",), user="app", group_add=("wheel",)))
    assert spec.annotations[keys.USER] == "app"
    assert spec.annotations[keys.GROUP_ADD] == "wheel"
    assert spec.process.user.uid == 0


def test_rootless_moves_groups_to_an_annotation(rootfs: Path) -> None:
    spec = spec_for(rootfs, cmd=("id",), user="app", rootless=True)
    assert spec.process.user.additional_gids == ()  # runc refuses them without root
    assert spec.annotations[keys.ADDITIONAL_GIDS] == "1000,10,50"
    assert spec.linux.namespace("user") is not None
    assert spec.linux.uid_mappings and spec.linux.gid_mappings


def test_docker_default_security(rootfs: Path) -> None:
    spec = spec_for(rootfs, cmd=("sh",), rootless=False)
    c = spec.process.capabilities
    assert c is not None and c.bounding == caps.DOCKER_DEFAULT == c.effective == c.permitted
    assert c.inheritable == () and c.ambient == ()
    assert not spec.process.no_new_privileges
    assert spec.linux.seccomp is not None and spec.linux.seccomp.default_action == "SCMP_ACT_ERRNO"
    assert all(os.path.exists(p) for p in spec.linux.masked_paths)
    assert "/proc/keys" in spec.linux.masked_paths and "/proc/sys" in spec.linux.readonly_paths
    types = {m.target: m.type for m in spec.mounts}
    assert types["/proc"] == "proc" and types["/dev"] == "tmpfs" and types["/sys/fs/cgroup"] == "cgroup"
    assert "ro" in next(m for m in spec.mounts if m.target == "/sys").options
    kinds = [n.type for n in spec.linux.namespaces]
    assert set(kinds) == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    devices = spec.linux.resources.devices if spec.linux.resources else ()
    assert devices[0].allow is False and devices[0].type == "a"


def test_non_root_user_gets_only_a_bounding_set(rootfs: Path) -> None:
    c = spec_for(rootfs, cmd=("sh",), user="nobody").process.capabilities
    assert c is not None and c.bounding == caps.DOCKER_DEFAULT and c.effective == () and c.permitted == ()


def test_privileged(rootfs: Path) -> None:
    spec = spec_for(rootfs, cmd=("sh",), privileged=True, rootless=False)
    c = spec.process.capabilities
    assert c is not None and set(c.bounding) == set(caps.bounding_set())
    assert spec.linux.seccomp is None and spec.linux.masked_paths == () and spec.linux.readonly_paths == ()
    assert spec.linux.resources and spec.linux.resources.devices[0].allow


def test_cap_add_drop_validation(rootfs: Path) -> None:
    c = spec_for(rootfs, cmd=("sh",), cap_drop=("ALL",), cap_add=("net_admin",)).process.capabilities
    assert c is not None and c.bounding == ("CAP_NET_ADMIN",)
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_BOGUS"'):
        spec_for(rootfs, cmd=("sh",), cap_add=("CAP_BOGUS",))


def test_resources_follow_docker(rootfs: Path) -> None:
    r = spec_for(rootfs, cmd=("sh",), memory=64 << 20, cpus=1.5, pids_limit=10, cpu_shares=512).linux.resources
    assert r is not None and r.memory is not None and r.cpu is not None
    assert (r.memory.limit, r.memory.swap) == (64 << 20, 128 << 20)
    assert (r.cpu.quota, r.cpu.period, r.cpu.shares) == (150000, 100000, 512)
    assert r.pids_limit == 10
    with pytest.raises(InvalidArgument, match="^Minimum memory limit allowed is 6MB$"):
        spec_for(rootfs, cmd=("sh",), memory=1000)
    with pytest.raises(InvalidArgument, match="^Range of CPUs is from 0.01 to"):
        spec_for(rootfs, cmd=("sh",), cpus=1000.0)
    with pytest.raises(InvalidArgument, match="soft limit must be less than or equal to hard limit: 10 > 5"):
        spec_for(rootfs, cmd=("sh",), ulimits=(Rlimit(type="RLIMIT_NOFILE", soft=10, hard=5),))


def test_mounts(rootfs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hostname = tmp_path / "hostname"
    hostname.write_text("h\n")
    spec = spec_for(
        rootfs,
        cmd=("sh",),
        mounts=(Mount(type="bind", source=str(data), target="/data", options=("rbind", "ro")),
                Mount(type="tmpfs", source="tmpfs", target="/dev/shm", options=("size=1m",))),
        etc_files={"/etc/hostname": str(hostname)},
    )
    targets = [m.target for m in spec.mounts]
    assert targets.count("/dev/shm") == 1  # the user's tmpfs replaced the default one
    assert "/data" in targets and "/etc/hostname" in targets
    with pytest.raises(InvalidMountSpec, match="bind source path does not exist"):
        spec_for(rootfs, cmd=("sh",), mounts=(Mount(type="bind", source="/no/such", target="/x"),))
    with pytest.raises(InvalidMountSpec, match="Duplicate mount point: /x"):
        spec_for(rootfs, cmd=("sh",), mounts=(Mount(type="tmpfs", source="t", target="/x"),) * 2)


def test_network_modes(rootfs: Path) -> None:
    none = spec_for(rootfs, cmd=("sh",))
    net = none.linux.namespace("network")
    assert net is not None and net.path == "" and none.annotations[keys.LOOPBACK] == "up"
    host = spec_for(rootfs, cmd=("sh",), network="host")
    assert host.linux.namespace("network") is None
    joined = spec_for(rootfs, cmd=("sh",), network="/run/netns/x").linux.namespace("network")
    assert joined is not None and joined.path == "/run/netns/x"


def test_written_bundle_round_trips(rootfs: Path, tmp_path: Path) -> None:
    spec = spec_for(rootfs, cmd=("sh", "-c", "echo hi"), memory=64 << 20, tty=True, console_size=(24, 80))
    path = write_bundle(tmp_path / "bundle", spec)
    data = json.loads(path.read_text())
    assert data["process"]["terminal"] is True and data["root"]["path"] == "rootfs"
    assert data["linux"]["resources"]["memory"]["limit"] == 64 << 20
    assert spec_from_json(data) == spec


def test_sysctls_follow_dockers_whitelist(rootfs: Path) -> None:
    spec = spec_for(rootfs, cmd=("sh",), sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"})
    assert dict(spec.linux.sysctl) == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
    with pytest.raises(InvalidArgument, match="sysctl 'kernel.panic' is not whitelisted"):
        spec_for(rootfs, cmd=("sh",), sysctls={"kernel.panic": "1"})
    with pytest.raises(InvalidArgument, match="not allowed in host network namespace"):
        spec_for(rootfs, cmd=("sh",), network="host", sysctls={"net.ipv4.ip_forward": "1"})


def test_joining_a_user_namespace_by_path(rootfs: Path) -> None:
    me = f"/proc/{os.getpid()}/ns/user"
    spec = spec_for(rootfs, cmd=("sh",), network="new", userns_path=me)
    user = spec.linux.namespace("user")
    assert user is not None and user.path == me
    assert spec.linux.uid_mappings == () and spec.linux.gid_mappings == ()  # the joined namespace's own
    net = spec.linux.namespace("network")
    assert net is not None and net.path == "" and spec.annotations[keys.LOOPBACK] == "up"
