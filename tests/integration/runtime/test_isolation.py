"""Isolation, root and rootless: what a container with docker's defaults must not see or do.

Each test runs real containers on the busybox image (see conftest.py). Paths and features are
checked on the host first: a test about a file this kernel lacks would pass for nothing.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from dockernb.linux import caps
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import IDMapping, Rlimit
from tests.integration.runtime.conftest import ROOTLESS, Box

pytestmark = pytest.mark.rootless

DOCKER_DEFAULT_CAPS = 0x00000000A80425FB


def _status(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def _probe(box: Box, host_pidns: str, *args: str, **kw: object) -> dict[str, str]:
    res = box.run("probe", host_pidns, *args, **kw)
    assert res.code == 0, res.err
    return dict(line.split(" ", 1) for line in res.out.splitlines())


def test_host_processes_are_invisible(box: Box, host_pidns: str) -> None:
    me = os.getpid()
    res = box.run("sh", "-c", f"ls /proc | grep -cE '^[0-9]+$'; probe {host_pidns} kill {me}")
    assert res.code == 0, res.err
    count, kill = res.out.splitlines()
    assert int(count) <= 4  # sh, the pipeline's ls and grep (and its subshell)
    assert kill == "kill0 ESRCH"
    assert os.path.exists(f"/proc/{me}")  # the pid we probed is real on the host


def test_container_is_pid_1_of_its_namespace(box: Box) -> None:
    res = box.run("sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    assert res.out.splitlines() == ["1", "sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' ' "]


def test_host_mounts_are_invisible(box: Box) -> None:
    host_points = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    res = box.run("cat", "/proc/self/mountinfo")
    inside = {line.split()[4] for line in res.out.splitlines()}
    expected_prefixes = ("/proc", "/dev", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
    strays = [p for p in inside if p != "/" and not p.startswith(expected_prefixes)]
    assert not strays, strays
    # host mount points outside the container's own set stay hidden
    hidden = [p for p in host_points - {"/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"}
              if not p.startswith(("/proc/", "/sys/", "/dev/"))]
    assert hidden, "the host has other mounts, or this test proves nothing"
    assert not set(hidden) & inside


def test_hostname_is_the_containers_and_cannot_change(box: Box) -> None:
    res = box.run("sh", "-c", "hostname; hostname evil 2>&1; echo rc=$?; hostname", hostname="boxed")
    lines = res.out.splitlines()
    assert lines[0] == "boxed" and lines[-1] == "boxed"
    assert "rc=1" in lines
    assert socket.gethostname() != "boxed"


def test_network_none_has_only_loopback(box: Box) -> None:
    host_ifaces = set(os.listdir("/sys/class/net"))
    assert host_ifaces - {"lo"}, "the host has a non-loopback interface, or this test proves nothing"
    res = box.run("sh", "-c", "ls /sys/class/net; ip -o link | cut -d: -f2")
    assert res.out.split() == ["lo", "lo"], res.out


def test_cannot_mount(box: Box) -> None:
    res = box.run("sh", "-c", "mount -t tmpfs none /mnt; echo rc=$?")
    assert "rc=0" not in res.out
    assert "Operation not permitted" in res.err or "permission denied" in res.err.lower()


def test_seccomp_blocks_dockers_list(box: Box, host_pidns: str) -> None:
    got = _probe(box, host_pidns, "syscalls")
    blocked = [
        "keyctl", "add_key", "request_key", "kexec_load", "init_module", "finit_module", "delete_module",
        "open_by_handle_at", "reboot", "swapon", "swapoff", "mount", "umount2", "unshare_user", "unshare_ns",
        "clone_newuser", "setns", "pivot_root", "syslog", "acct", "settimeofday", "personality_bad", "socket_vsock",
        "bpf", "perf_event_open", "iopl", "io_uring_setup",
    ]
    for name in blocked:
        assert got[name] == "EPERM", f"{name}: {got[name]}"
    assert got["clone3"] == "ENOSYS"  # so libc falls back to clone, which the filter can inspect
    assert got["chroot_allowed"] == "ok"  # CAP_SYS_CHROOT is a default capability


def test_seccomp_is_off_when_unconfined(box: Box, host_pidns: str) -> None:
    got = _probe(box, host_pidns, "syscalls", seccomp="unconfined")
    # no filter: failures now come from missing capabilities, not EPERM from seccomp for clone3
    assert got["clone3"] != "ENOSYS"


def test_proc_sys_and_sys_are_read_only(box: Box) -> None:
    res = box.run("sh", "-c", "{ echo 1 > /proc/sys/kernel/ns_last_pid; } 2>&1; touch /sys/kernel/x 2>&1; true")
    assert res.out.count("Read-only file system") == 2, res.out


@pytest.mark.parametrize("path", ["/proc/keys", "/proc/timer_list", "/proc/kcore"])
def test_masked_proc_files_read_empty(box: Box, path: str) -> None:
    if not os.path.exists(path):
        if path == "/proc/kcore":
            from tests.capabilities import require

            require("proc-kcore")
        pytest.fail(f"{path} is absent on this kernel: drop it from this list")
    if path != "/proc/kcore" and os.access(path, os.R_OK):
        assert Path(path).read_bytes()[:1], f"{path} is empty on the host, so masking proves nothing"
    res = box.run("sh", "-c", f"head -c 64 {path} | wc -c; grep -c ' {path} ' /proc/mounts")
    assert res.out.split() == ["0", "1"], res.out  # empty, because something is mounted over it


def test_sysrq_trigger_is_not_writable(box: Box) -> None:
    from tests.capabilities import require

    require("proc-sysrq-trigger")
    res = box.run("sh", "-c", "echo h > /proc/sysrq-trigger; echo rc=$?")
    assert "rc=0" not in res.out


def test_cannot_ptrace_a_host_process(box: Box, host_pidns: str) -> None:
    got = _probe(box, host_pidns, "ptrace", str(os.getpid()))
    assert got["ptrace_attach"] in ("ESRCH", "EPERM")


def test_cannot_read_host_disk_through_own_device_node(box: Box, host_pidns: str) -> None:
    dev = os.stat("/").st_dev
    major, minor = os.major(dev), os.minor(dev)
    assert Path(f"/sys/dev/block/{major}:{minor}").exists(), "the root filesystem is not on a block device"
    got = _probe(box, host_pidns, "device", "/tmp/disk", str(major), str(minor))
    # root: mknod works (CAP_MKNOD) but the devices cgroup refuses the open; rootless: no mknod at all
    assert got["open_device"] in ("EPERM", "ENOENT", "EACCES"), got
    assert "read_device" not in got
    if ROOTLESS:
        assert got["mknod"] == "EPERM"


def test_default_capabilities_are_dockers(box: Box) -> None:
    res = box.run("cat", "/proc/self/status")
    st = _status(res.out)
    assert int(st["CapEff"], 16) == DOCKER_DEFAULT_CAPS
    assert int(st["CapBnd"], 16) == DOCKER_DEFAULT_CAPS
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
    assert st["NoNewPrivs"] == "0"  # off by default, as in docker
    assert st["Seccomp"] == "2"


def test_non_root_user_has_no_effective_caps(box: Box) -> None:
    st = _status(box.run("cat", "/proc/self/status", user="nobody").out)
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert int(st["CapBnd"], 16) == DOCKER_DEFAULT_CAPS
    assert st["Uid"].split()[0] == "65534"


def test_cap_add_drop_and_no_new_privileges(box: Box) -> None:
    st = _status(
        box.run("cat", "/proc/self/status", cap_drop=("ALL",), cap_add=("NET_ADMIN",), no_new_privileges=True).out
    )
    assert int(st["CapEff"], 16) == 1 << 12
    assert int(st["CapBnd"], 16) == 1 << 12
    assert st["NoNewPrivs"] == "1"


def test_privileged_gets_the_callers_bounding_set_and_runs(box: Box) -> None:
    mine = caps.mask(caps.bounding_set())
    res = box.run("sh", "-c", "cat /proc/self/status; ls /dev | wc -l", privileged=True)
    assert res.code == 0, res.err
    st = _status(res.out)
    assert int(st["CapEff"], 16) == mine
    assert int(st["CapBnd"], 16) == mine
    assert st["Seccomp"] == "0"
    if not mine >> 24 & 1:
        # this VM: root lacks CAP_SYS_RESOURCE, where docker's --privileged fails to start
        assert not int(st["CapEff"], 16) >> 24 & 1


def test_user_namespace_gains_nothing(box: Box, root_dir: Path) -> None:
    """Container root in a user namespace is its mapped host user: no more than that user had."""
    host_file = Path("/etc/hostname")
    assert host_file.stat().st_uid == 0 and host_file.stat().st_mode & 0o022 == 0
    cid, bundle, spec = box.spec(
        cmd=("sh", "-c", "cat /proc/self/uid_map; echo x >> /mnt/host; echo rc=$?; chown 0 /mnt/host; "
             "echo rc=$?; mknod /tmp/n c 1 3; echo rc=$?; touch /mine"),
        mounts=(Mount(type="bind", source=str(host_file), target="/mnt/host", options=("rbind",)),),
    )
    mounts = box.overlay(bundle)
    if not ROOTLESS:
        # root gives the container a remapped user namespace (docker's userns-remap)
        base = 300000
        spec = replace(spec, linux=replace(
            spec.linux,
            namespaces=(*spec.linux.namespaces, *(() if spec.linux.namespace("user") else
                                                  (type(spec.linux.namespaces[0])(type="user"),))),
            uid_mappings=(IDMapping(container_id=0, host_id=base, size=65536),),
            gid_mappings=(IDMapping(container_id=0, host_id=base, size=65536),),
        ))
        for d in ("upper", "work"):
            os.chown(bundle / d, base, base)
        os.chmod(root_dir, 0o711)  # the remapped root must reach its bundle
        mounts = (Mount(type="overlay", source="overlay", options=(*mounts[0].options, "userxattr")),)
    res = box.run_spec(cid, bundle, spec, root_mounts=mounts)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    first = lines[0].split()
    expected_host = os.getuid() if ROOTLESS else 300000
    assert first[:2] == ["0", str(expected_host)]
    assert lines[1] != "rc=0" and lines[2] != "rc=0" and lines[3] != "rc=0", res.out + res.err
    created = bundle / "upper" / "mine"
    assert created.stat().st_uid == expected_host  # what the container made belongs to its user
    assert host_file.read_text() and "x\n" not in host_file.read_text()[-2:]


def test_env_user_workdir_like_docker(box: Box) -> None:
    res = box.run("sh", "-c", "pwd; id; echo $HOME; echo $HOSTNAME", user="1234:5678", workdir="/no/such/dir",
                  hostname="h1")
    assert res.out.splitlines() == ["/no/such/dir", "uid=1234 gid=5678 groups=5678", "/", "h1"]


def test_user_by_name_gets_home_and_groups(box: Box) -> None:
    passwd = (box.lower / "etc/passwd").read_text()
    assert re.search(r"^nobody:", passwd, re.M)
    res = box.run("sh", "-c", "id -u; echo $HOME", user="nobody")
    assert res.out.split()[0] == "65534"


def test_spec_resources_never_at_cgroup_root(box: Box) -> None:
    """The container's cgroups sit under the caller's own (its ``dockernb/<id>``), never at a root."""
    state, created = box.start("sleep", "30")
    from dockernb.runtime.record import load

    s = load(state)
    for ctl, path in s.cgroup_paths.items():
        assert "/dockernb/" in path, (ctl, path)
        assert str(created.pid) in Path(path, "cgroup.procs").read_text().split()


def test_linux_defaults_do_not_leak_fds(box: Box) -> None:
    secret = os.open("/etc/hostname", os.O_RDONLY)  # not CLOEXEC-free on purpose: inheritable
    os.set_inheritable(secret, True)
    try:
        res = box.run("ls", "/proc/self/fd")
        assert sorted(res.out.split()) == ["0", "1", "2", "3"]  # 3 is ls's own directory fd
    finally:
        os.close(secret)



def test_user_mounts_bind_and_tmpfs(box: Box, root_dir: Path) -> None:
    data = root_dir / "data"
    data.mkdir()
    res = box.run(
        "sh", "-c", "echo hi > /data/f; echo rc=$?; echo no > /scratch/f; echo rc=$?; grep -E ' /(data|scratch) ' "
        "/proc/mounts",
        mounts=(Mount(type="bind", source=str(data), target="/data", options=("rbind", "rw", "rprivate")),
                Mount(type="tmpfs", source="tmpfs", target="/scratch", options=("ro", "size=1m", "mode=1777"))),
    )
    lines = res.out.splitlines()
    assert lines[0] == "rc=0" and lines[1] != "rc=0"
    assert (data / "f").read_text() == "hi\n"  # the bind is the host directory itself
    scratch = next(line for line in lines if " /scratch " in line)
    assert scratch.split()[3].startswith("ro,") and "size=1024k" in scratch


def test_image_cannot_inject_python_into_the_init(box: Box, root_dir: Path) -> None:
    """The init runs Python after pivot_root, where sys.path names the image's files: an image
    that plants modules at the host interpreter's paths must not get them run with full caps."""
    import sys
    import sysconfig

    cid, bundle, spec = box.spec(cmd=("sh", "-c", "ls /pwned 2>&1; true"),
                                 ulimits=(Rlimit(type="RLIMIT_NOFILE", soft=100, hard=200),))
    trojan = "import os\nopen('/pwned', 'w').write(__name__)\nos._exit(99)\n"
    upper = bundle / "upper"
    for d in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"], *sys.path}:
        if not d or not os.path.isabs(d):
            continue
        target = upper / d.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        # every stdlib module this process has not loaded: a lazy import in the init would find one
        for name in (set(sys.stdlib_module_names) - set(sys.modules)) | {"sitecustomize", "usercustomize"}:
            (target / f"{name}.py").write_text(trojan)
    res = box.run_spec(cid, bundle, spec)
    assert res.code == 0, res.err
    assert "No such file or directory" in res.out


def test_sysctls_only_of_the_containers_own_namespaces(box: Box) -> None:
    import dataclasses

    from dockernb.errors import InvalidConfig

    res = box.run("cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni",
                  sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"})
    assert res.out.split() == ["1", "1234"]
    # a bundle from elsewhere asking for a global (host-wide) sysctl, or a path trick, is refused
    for key in ("kernel.panic", "net/../../sysrq-trigger", "kernel.hostname"):
        cid, bundle, spec = box.spec(cmd=("true",))
        linux = dataclasses.replace(spec.linux, sysctl={key: "1"},
                                    namespaces=tuple(n for n in spec.linux.namespaces if n.type != "uts"))
        with pytest.raises(InvalidConfig):
            box.run_spec(cid, bundle, dataclasses.replace(spec, linux=linux))


def test_single_id_mapping(box: Box) -> None:
    """Without subordinate ids (or the setuid helpers) a user namespace maps only the caller."""
    uid, gid = os.getuid(), os.getgid()
    res = box.run(
        "sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups; id -u; grep ' /dev/pts ' /proc/mounts",
        uid_mappings=(IDMapping(container_id=0, host_id=uid, size=1),),
        gid_mappings=(IDMapping(container_id=0, host_id=gid, size=1),),
    )
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].split() == ["0", str(uid), "1"]
    assert lines[1] == ("deny" if ROOTLESS else "allow")  # an unprivileged writer must deny setgroups
    assert lines[2] == "0"
    assert "gid=5" not in lines[3]  # no tty group to give devpts in a one-id namespace
