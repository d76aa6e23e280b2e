"""Root only: what a rootless test cannot show (it owns the container's user namespace and so holds
every capability over it) or cannot use here (/dev/fuse, loading BPF programs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.runtime.conftest import Box
from tests.integration.runtime.test_isolation import DOCKER_DEFAULT_CAPS

pytestmark = pytest.mark.requires_root


def test_created_init_is_not_dumpable(box: Box) -> None:
    """Before execve the init is a copy of the caller's memory running the caller's interpreter:
    a process with the container's capabilities may not read its memory (or open its exe)."""
    import signal
    import time

    from dockernb import runtime as rt
    from dockernb.linux import syscalls as sc

    cid, bundle, spec = box.spec(cmd=("true",))
    state = box.base / "state" / "nodump"
    created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=box.overlay(bundle))
    box.created.append((state, created.pid))
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 9
        try:
            os.close(r)
            # the container's capabilities (no CAP_SYS_PTRACE), and a dumpable peer holding the same
            sc.LinuxSyscalls().capset(DOCKER_DEFAULT_CAPS, DOCKER_DEFAULT_CAPS, 0)
            peer = os.fork()
            if peer == 0:
                time.sleep(30)
                os._exit(0)
            results = []
            for pid in (peer, created.pid):
                try:
                    os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
                    results.append("open")
                except PermissionError:
                    results.append("denied")
            os.kill(peer, signal.SIGKILL)
            os.waitpid(peer, 0)
            os.write(w, " ".join(results).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    got = os.read(r, 64).decode()
    os.close(r)
    os.waitpid(child, 0)
    assert got == "open denied"


def test_fuse_overlayfs_snapshot_outside_the_container(box: Box) -> None:
    """A fuse snapshot (the storage layer's fallback driver) is mounted by a helper that joins the
    init's mount namespace: the fuse daemon is no process of the container and leaves with it."""
    import shutil
    import time

    from dockernb.spec.mount import Mount

    assert shutil.which("fuse-overlayfs") and os.access("/dev/fuse", os.R_OK | os.W_OK)
    cid, bundle, spec = box.spec(cmd=("sh", "-c", "head -1 /proc/mounts; ps -o comm; echo x > /tmp/y; cat /tmp/y"))
    opts = box.overlay(bundle)[0].options
    fuse = (Mount(type="fuse.fuse-overlayfs", source="overlay", options=opts),)
    res = box.run_spec(cid, bundle, spec, root_mounts=fuse)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].split()[:3] == ["fuse-overlayfs", "/", "fuse.fuse-overlayfs"]
    assert "fuse-overlayfs" not in lines[1:]  # ps inside shows only the container's processes
    assert lines[-1] == "x" and (bundle / "upper" / "tmp" / "y").read_text() == "x\n"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        daemons = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).count(str(bundle / "upper"))]
        if not daemons:
            break
        time.sleep(0.02)
    assert not daemons, "the fuse daemon outlived the container"


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_v2_device_filter(root_dir: Path) -> None:
    """cgroup v2 has no devices files: the eBPF filter must allow the rules' devices and refuse the rest.
    This host's v2 tree has no controllers, but BPF device programs need none."""
    from dockernb.linux import cgroups, devfilter
    from dockernb.spec.runtime import DeviceRule

    h = cgroups.discover()
    assert h.v2 is not None, "no cgroup2 mount here"
    d = Path(h.v2, f"dockernb-devtest-{os.getpid()}")
    d.mkdir()
    try:
        devfilter.attach(str(d), (DeviceRule(allow=False, access="rwm"),
                                  DeviceRule(allow=True, type="c", major=1, minor=3, access="rw"),
                                  DeviceRule(allow=True, type="c", access="m")))
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            code = 1
            try:
                os.close(r)
                (d / "cgroup.procs").write_text("0")
                res = []
                for path in ("/dev/null", "/dev/zero"):
                    try:
                        os.close(os.open(path, os.O_RDONLY))
                        res.append("ok")
                    except PermissionError:
                        res.append("EPERM")
                node = root_dir / "blk"
                try:
                    os.mknod(node, 0o600 | 0o060000, os.makedev(*divmod(os.stat("/").st_dev, 256)))
                    res.append("ok")
                except PermissionError:
                    res.append("EPERM")
                os.write(w, " ".join(res).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        got = os.read(r, 64).decode()
        os.close(r)
        os.waitpid(child, 0)
        assert got == "ok EPERM EPERM"  # null allowed; zero refused; no block node for the host's disk
    finally:
        d.rmdir()
