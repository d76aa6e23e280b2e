"""Fixtures for the runtime's integration tests: a busybox rootfs, a syscall probe, a container runner.

The rootfs comes from the kit's busybox tarball, unpacked once per session with tar (the test
user owns it in the rootless pass). Each test's containers run on an overlay of it (the
snapshot shape the storage layer will hand over: a Mount list the runtime mounts inside the
container's own mount namespace), so tests never write into the shared tree. The static
``probe`` binary (probe.c, built here with gcc) tries the system calls a container must not get.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.runtime.bundle import ContainerIntent, build_spec, write_bundle
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Spec

HERE = Path(__file__).parent
ROOTLESS = os.geteuid() != 0


def _kit_tar(name: str) -> Path:
    kit = Path(os.environ.get("DOCKERNB_KIT_DIR", "/var/cache/dockernb/kit"))
    found = [p for p in glob.glob(str(kit / "rootfs" / f"{name}-*.tar")) if "arm64" not in p]
    if not found:
        pytest.fail(f"no {name} rootfs tarball in {kit}/rootfs: run `make kit` first")
    return Path(sorted(found)[0])


def _scratch_base() -> str:
    return os.environ.get("XDG_RUNTIME_DIR", "/var/tmp") if ROOTLESS else "/var/tmp"


@pytest.fixture(scope="session")
def probe_binary() -> Iterator[Path]:
    out = Path(tempfile.mkdtemp(prefix="dockernb-test-probe-", dir=_scratch_base()))
    try:
        exe = out / "probe"
        subprocess.run(["gcc", "-static", "-O1", "-o", str(exe), str(HERE / "probe.c")], check=True)
        yield exe
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_lower(probe_binary: Path) -> Iterator[Path]:
    """The busybox image's root, unpacked once, plus /usr/local/bin/probe and empty /etc files."""
    base = Path(tempfile.mkdtemp(prefix="dockernb-test-busybox-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    root = base / "rootfs"
    root.mkdir()
    try:
        subprocess.run(["tar", "-xf", str(_kit_tar("busybox")), "-C", str(root)], check=True,
                       stderr=subprocess.DEVNULL if ROOTLESS else None)
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy(probe_binary, root / "usr/local/bin/probe")
        for name in ("hostname", "hosts", "resolv.conf"):
            (root / "etc" / name).touch()
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def dash_lower() -> Iterator[Path]:
    """A root with only Debian's dash and the libc it needs (from the kit's debian tarball)."""
    base = Path(tempfile.mkdtemp(prefix="dockernb-test-dash-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    try:
        members = ["./usr/bin/dash", "./usr/lib/x86_64-linux-gnu/libc.so.6",
                   "./usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "./usr/lib64/ld-linux-x86-64.so.2",
                   "./bin", "./lib", "./lib64"]
        subprocess.run(["tar", "-xf", str(_kit_tar("debian")), "-C", str(base), *members], check=True,
                       stderr=subprocess.DEVNULL if ROOTLESS else None)
        for d in ("proc", "dev", "sys", "etc", "tmp"):
            (base / d).mkdir(exist_ok=True)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def host_pidns() -> str:
    return str(os.stat("/proc/self/ns/pid").st_ino)


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Box:
    """Runs containers for one test on overlays of the shared busybox root; cleans everything up."""

    base: Path
    lower: Path
    created: list[tuple[Path, int]] = field(default_factory=list)
    counter: int = 0

    def _next(self) -> tuple[str, Path]:
        self.counter += 1
        cid = f"{self.counter:02d}" + os.urandom(31).hex()
        bundle = self.base / f"b{self.counter}"
        for d in ("rootfs", "upper", "work"):
            (bundle / d).mkdir(parents=True)
        return cid, bundle

    def overlay(self, bundle: Path) -> tuple[Mount, ...]:
        opts = [f"lowerdir={self.lower}", f"upperdir={bundle / 'upper'}", f"workdir={bundle / 'work'}"]
        if ROOTLESS:
            opts.append("userxattr")
        return (Mount(type="overlay", source="overlay", options=tuple(opts)),)

    def spec(self, intent: ContainerIntent | None = None, **kw: object) -> tuple[str, Path, Spec]:
        cid, bundle = self._next()
        intent = replace(intent or ContainerIntent(container_id=cid), container_id=cid, **kw)  # type: ignore[arg-type]
        return cid, bundle, build_spec(intent, rootfs=self.lower, root_path=str(bundle / "rootfs"))

    def run(self, *argv: str, timeout: float = 20.0, **kw: object) -> Result:
        """Run ``argv`` in a fresh container (docker's defaults plus ``kw`` as ContainerIntent fields)."""
        cid, bundle, spec = self.spec(cmd=tuple(argv), **kw)
        return self.run_spec(cid, bundle, spec, timeout=timeout)

    def run_spec(self, cid: str, bundle: Path, spec: Spec, *, timeout: float = 20.0,
                 root_mounts: tuple[Mount, ...] | None = None) -> Result:
        state = self.base / "state" / cid[:12]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle,
                                stdio=rt.Stdio(None, out.fileno(), err.fileno()),
                                root_mounts=self.overlay(bundle) if root_mounts is None else root_mounts)
            try:
                rt.start(state)
                if created.pty_master is not None:
                    _drain(created.pty_master, out.fileno())
                code = _wait(created.pid, timeout)
            finally:
                if created.pty_master is not None:
                    os.close(created.pty_master)
                rt.delete(state, force=True)
                _wait(created.pid, 5)
            out.seek(0)
            err.seek(0)
            return Result(code, out.read().decode(errors="replace"), err.read().decode(errors="replace"))

    def start(self, *argv: str, **kw: object) -> tuple[Path, rt.Created]:
        """A running container (stopped and deleted at teardown): (state dir, created)."""
        cid, bundle, spec = self.spec(cmd=tuple(argv), **kw)
        state = self.base / "state" / cid[:12]
        created = rt.create(cid, state_dir=state, spec=spec, bundle=bundle, root_mounts=self.overlay(bundle))
        self.created.append((state, created.pid))
        rt.start(state)
        return state, created

    def cleanup(self) -> None:
        for state, pid in self.created:
            try:
                rt.delete(state, force=True)
            finally:
                _wait(pid, 5)
        self.created.clear()
        # overlayfs leaves workdir/work with mode 0: without this the test root could not be removed
        for work in self.base.glob("*/work/work"):
            os.chmod(work, 0o700)


def _drain(master: int, out: int) -> None:
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        os.write(out, data)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        if got:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"container init {pid} did not exit within {timeout}s")
        time.sleep(0.002)


@pytest.fixture
def box(root_dir: Path, busybox_lower: Path) -> Iterator[Box]:
    b = Box(root_dir, busybox_lower)
    try:
        yield b
    finally:
        b.cleanup()
        assert not _dockernb_mounts(), "a dockernb mount leaked onto the host"


def _dockernb_mounts() -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if "dockernb" in line]


def write_runc_bundle(bundle: Path, spec: Spec) -> None:
    write_bundle(bundle, spec)
