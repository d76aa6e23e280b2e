"""Container cgroups on v1 (one mount per controller, hybrid hosts too) and v2 (layer L1).

A container's cgroup lives under the *caller's own* cgroup in each hierarchy
(``<own>/dockernb/<id>``), never at a hierarchy's root: hosts and notebooks often put their
processes in a cgroup of their own, and limits should nest inside it. On v2 the "no internal
processes" rule forbids enabling controllers below a cgroup that holds processes, so when the
caller's cgroup is busy the container goes under its parent instead (a sibling of the caller).

Three managers answer one small :class:`CgroupManager` protocol (youki's ``CgroupManager`` with
stub managers for disabled features): :class:`V1Manager`, :class:`V2Manager` and
:class:`NullManager` (rootless without delegation: nothing is writable, so resource requests
become docker-style warnings instead of failures). :func:`manager_for` picks one; the paths it
chose are plain strings so another process can rebuild the manager with :func:`manager_from`.
The hierarchy roots are parameters, so the v2 code is unit-tested over a fake cgroupfs tree.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dockernb.linux import devfilter
from dockernb.spec.runtime import DeviceRule, Resources

__all__ = [
    "CgroupManager",
    "CgroupStats",
    "Hierarchies",
    "NullManager",
    "V1Manager",
    "V2Manager",
    "discover",
    "manager_for",
    "manager_from",
    "relative_path",
]

SUBDIR = "dockernb"

# docker's words when a limit cannot be applied (moby daemon/daemon_unix.go), plus the reason
WARN_ROOTLESS = (
    "Running in rootless-mode without cgroups. To enable cgroups in rootless-mode, you need to boot the system "
    "in cgroup v2 mode and delegate the controllers to this user."
)
WARN_MEMORY = (
    "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded."
)
WARN_SWAP = (
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
)
WARN_PIDS = "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded."
WARN_CPU_QUOTA = "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. CPU quota discarded."
WARN_CPU_SHARES = "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."
WARN_CPUSET = "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."


#: the rules runc appends to every container's device rules: mknod of anything, and the default
#: nodes (null, random, full, tty, zero, urandom), ptys, ptmx and tun usable
ALWAYS_ALLOWED_DEVICES: tuple[DeviceRule, ...] = (
    DeviceRule(allow=True, type="c", access="m"),
    DeviceRule(allow=True, type="b", access="m"),
    *(
        DeviceRule(allow=True, type="c", major=ma, minor=mi, access="rwm")
        for ma, mi in ((1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9))
    ),
    DeviceRule(allow=True, type="c", major=136, access="rwm"),
    DeviceRule(allow=True, type="c", major=5, minor=2, access="rwm"),
    DeviceRule(allow=True, type="c", major=10, minor=200, access="rwm"),
)


@dataclass(frozen=True, slots=True)
class CgroupStats:
    memory_usage: int | None = None
    memory_limit: int | None = None
    cpu_usage_ns: int | None = None
    pids_current: int | None = None
    #: page cache docker leaves out of "MEM USAGE" (v1 total_inactive_file, v2 inactive_file)
    memory_inactive_file: int | None = None
    #: bytes read from and written to block devices (v1 blkio, v2 io.stat)
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None


class CgroupManager(Protocol):
    """One container's cgroup(s).

    Lifecycle: :meth:`create` (make the directories, apply the limits: returns warnings for
    limits it could not apply) → :meth:`add` the init's pid → :meth:`freeze`/:meth:`thaw` for
    pause → :meth:`kill_all` for a stop that must reach every process → :meth:`destroy`
    (idempotent; kills leftovers first when ``force``).
    """

    kind: str

    def paths(self) -> dict[str, str]: ...

    def create(self, resources: Resources | None) -> list[str]: ...

    def add(self, pid: int) -> None: ...

    def procs(self) -> list[int]: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def kill_all(self, sig: int = signal.SIGKILL) -> None: ...

    def update(self, resources: Resources) -> list[str]: ...

    def oom_killed(self) -> bool: ...

    def stats(self) -> CgroupStats: ...

    def destroy(self, *, force: bool = False) -> None: ...


# --- discovery -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hierarchies:
    """Where this process's cgroups are: v1 controller -> directory, and the v2 directory."""

    v1: Mapping[str, str]
    v2: str | None
    v2_controllers: tuple[str, ...]
    v2_mount: str | None
    #: each v1 mount point with its controllers as mount data ("cpu", "cpu,cpuacct", "name=systemd")
    v1_mounts: tuple[tuple[str, str], ...] = ()


def _mountinfo(text: str) -> list[tuple[str, str, str, list[str]]]:
    """(fstype, root, mountpoint, super options) of each cgroup/cgroup2 mount."""
    out = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
            continue
        out.append((rfields[0], fields[3], fields[4], rfields[2].split(",")))
    return out


def discover(pid: str = "self", *, proc: str = "/proc") -> Hierarchies:
    """The cgroup directories of ``pid`` in every mounted hierarchy (v1 controllers and v2)."""
    try:
        mounts = _mountinfo(Path(proc, pid, "mountinfo").read_text())
        membership = Path(proc, pid, "cgroup").read_text().splitlines()
    except OSError:
        return Hierarchies({}, None, (), None)
    own: dict[str, str] = {}
    for line in membership:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for ctl in parts[1].split(",") if parts[1] else [""]:
                own[ctl] = parts[2]
    v1: dict[str, str] = {}
    v1_mounts: list[tuple[str, str]] = []
    v2: str | None = None
    v2_mount: str | None = None
    for fstype, root, mnt, opts in mounts:
        if fstype == "cgroup2":
            if v2 is None and "" in own:
                v2_mount = mnt
                v2 = _join(mnt, root, own[""])
            continue
        ctls = [c for c in opts if c in own]
        if ctls and not any(c in v1 for c in ctls):
            v1_mounts.append((mnt, ",".join(ctls)))
        for ctl in ctls:
            v1.setdefault(ctl, _join(mnt, root, own[ctl]))
    controllers: tuple[str, ...] = ()
    if v2_mount:
        try:
            controllers = tuple(Path(v2_mount, "cgroup.controllers").read_text().split())
        except OSError:
            controllers = ()
    return Hierarchies(v1, v2, controllers, v2_mount, tuple(v1_mounts))


def _join(mountpoint: str, root: str, path: str) -> str:
    # a mount of a sub-cgroup (root != "/") shows paths relative to the hierarchy's root
    rel = path[len(root) :] if root != "/" and path.startswith(root) else path
    return os.path.normpath(os.path.join(mountpoint, rel.lstrip("/")))


# --- helpers -----------------------------------------------------------------------------------------


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _keyed(text: str, key: str) -> int | None:
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return None


def _blkio_bytes(text: str) -> tuple[int | None, int | None]:
    """(read, write) bytes of a v1 ``blkio.throttle.io_service_bytes`` file (``8:0 Read 4096`` lines)."""
    if not text:
        return None, None
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                read += int(parts[2])
            elif parts[1] == "Write":
                write += int(parts[2])
    return read, write


def _rmdir(path: str, *, retries: int = 20) -> None:
    """Remove a cgroup and any cgroups a (privileged) container made below it, deepest first."""
    try:
        children = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for child in children:
        _rmdir(child, retries=retries)
    for _ in range(retries):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise
            time.sleep(0.005)  # the last task is still exiting
    os.rmdir(path)


def _rmdir_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if os.path.basename(parent) == SUBDIR:
        try:
            os.rmdir(parent)
        except OSError:
            pass  # other containers still live there


def _procs_of(path: str) -> list[int]:
    """Processes in the cgroup at ``path`` and in every cgroup below it."""
    out = [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
    try:
        children = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        children = []
    for child in children:
        out.extend(_procs_of(child))
    return out


def _kill_loop(procs: Iterable[int], sig: int) -> None:
    for pid in procs:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _device_rule(rule: DeviceRule) -> str:
    major = "*" if rule.major is None or rule.major < 0 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor < 0 else str(rule.minor)
    if rule.type == "a":
        return "a"
    return f"{rule.type} {major}:{minor} {rule.access}"


# --- v1 ----------------------------------------------------------------------------------------------


class V1Manager:
    """One directory per v1 controller (cpu and cpuacct may be separate mounts, as here)."""

    kind = "v1"

    def __init__(self, dirs: Mapping[str, str]) -> None:
        self.dirs = dict(dirs)

    @classmethod
    def under(cls, own: Mapping[str, str], relative: str) -> V1Manager:
        return cls({ctl: os.path.join(base, relative) for ctl, base in own.items()})

    def paths(self) -> dict[str, str]:
        return dict(self.dirs)

    def _unique(self) -> list[str]:
        return list(dict.fromkeys(self.dirs.values()))

    def _mkdir(self, ctl: str, path: str) -> None:
        parent = os.path.dirname(path)
        for d in (parent, path):
            try:
                os.mkdir(d, 0o755)
            except FileExistsError:
                pass
            if ctl == "cpuset":
                # a v1 cpuset starts empty and refuses tasks: inherit the parent's cpus and mems
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not _read(os.path.join(d, f)).strip():
                        _write(os.path.join(d, f), _read(os.path.join(os.path.dirname(d), f)).strip())

    def create(self, resources: Resources | None) -> list[str]:
        warnings: list[str] = []
        for ctl, path in self.dirs.items():
            self._mkdir(ctl, path)
        if resources is None:
            return warnings
        try:
            self._apply(resources, warnings)
        except BaseException:
            self.destroy()
            raise
        return warnings

    def _apply(self, r: Resources, warnings: list[str]) -> None:
        d = self.dirs
        if r.devices and "devices" in d:
            for rule in (*r.devices, *ALWAYS_ALLOWED_DEVICES):
                name = "devices.allow" if rule.allow else "devices.deny"
                _write(os.path.join(d["devices"], name), _device_rule(rule))
        m = r.memory
        if m is not None:
            if "memory" not in d:
                if m.limit:
                    warnings.append(WARN_MEMORY)
            else:
                mem = d["memory"]
                if m.limit is not None:
                    _write(os.path.join(mem, "memory.limit_in_bytes"), str(m.limit))
                if m.swap is not None and m.swap != 0:
                    swap_file = os.path.join(mem, "memory.memsw.limit_in_bytes")
                    if os.path.exists(swap_file):
                        _write(swap_file, str(m.swap))
                    elif m.limit is not None and m.swap > m.limit:
                        warnings.append(WARN_SWAP)
                if m.reservation is not None:
                    _write(os.path.join(mem, "memory.soft_limit_in_bytes"), str(m.reservation))
                if m.disable_oom_killer:
                    _write(os.path.join(mem, "memory.oom_control"), "1")
        c = r.cpu
        if c is not None:
            cpu = d.get("cpu")
            if c.shares is not None:
                if cpu:
                    _write(os.path.join(cpu, "cpu.shares"), str(c.shares))
                else:
                    warnings.append(WARN_CPU_SHARES)
            if c.quota is not None or c.period is not None:
                if cpu and os.path.exists(os.path.join(cpu, "cpu.cfs_quota_us")):
                    if c.period is not None:
                        _write(os.path.join(cpu, "cpu.cfs_period_us"), str(c.period))
                    if c.quota is not None:
                        _write(os.path.join(cpu, "cpu.cfs_quota_us"), str(c.quota))
                else:
                    warnings.append(WARN_CPU_QUOTA)
            if c.cpus or c.mems:
                if "cpuset" in d:
                    if c.cpus:
                        _write(os.path.join(d["cpuset"], "cpuset.cpus"), c.cpus)
                    if c.mems:
                        _write(os.path.join(d["cpuset"], "cpuset.mems"), c.mems)
                else:
                    warnings.append(WARN_CPUSET)
        if r.pids_limit is not None and r.pids_limit > 0:
            if "pids" in d:
                _write(os.path.join(d["pids"], "pids.max"), str(r.pids_limit))
            else:
                warnings.append(WARN_PIDS)

    def add(self, pid: int) -> None:
        for path in self._unique():
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def update(self, resources: Resources) -> list[str]:
        """New limits for a live cgroup (``docker update``): memory and memory+swap in the order the
        kernel accepts (the limit may never exceed memsw), the rest as at create; devices untouched."""
        warnings: list[str] = []
        m = resources.memory
        mem = self.dirs.get("memory")
        if m is not None and mem and m.limit is not None and m.swap:
            swap_file = os.path.join(mem, "memory.memsw.limit_in_bytes")
            if os.path.exists(swap_file):
                current = _int(_read(swap_file)) or 0
                if m.swap > current:  # raise memsw first, then the limit under it
                    _write(swap_file, str(m.swap))
        self._apply(dataclasses.replace(resources, devices=()), warnings)
        return warnings

    def _main(self) -> str | None:
        for ctl in ("pids", "freezer", "memory", "cpu", "devices"):
            if ctl in self.dirs:
                return self.dirs[ctl]
        return next(iter(self.dirs.values()), None)

    def procs(self) -> list[int]:
        main = self._main()
        return _procs_of(main) if main else []

    def _freezer_state(self, state: str) -> None:
        path = self.dirs.get("freezer")
        if path is None:
            raise OSError(errno.ENOTSUP, "no freezer cgroup here")
        _write(os.path.join(path, "freezer.state"), state)
        for _ in range(1000):
            if _read(os.path.join(path, "freezer.state")).strip() == state:
                return
            time.sleep(0.001)
            _write(os.path.join(path, "freezer.state"), state)
        raise OSError(errno.EBUSY, f"freezer did not reach {state}")

    def freeze(self) -> None:
        self._freezer_state("FROZEN")

    def thaw(self) -> None:
        self._freezer_state("THAWED")

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        freezer = self.dirs.get("freezer")
        if not freezer or not os.path.isdir(freezer):
            _kill_loop(self.procs(), sig)
            return
        was_frozen = _read(os.path.join(freezer, "freezer.state")).strip() == "FROZEN"
        self.freeze()  # no fork escapes while we walk the list
        try:
            _kill_loop(self.procs(), sig)
        finally:
            # a frozen task dies of SIGKILL only once thawed; other signals keep a pause in place
            if sig == signal.SIGKILL or not was_frozen:
                self.thaw()

    def oom_killed(self) -> bool:
        mem = self.dirs.get("memory")
        return bool(mem and (_keyed(_read(os.path.join(mem, "memory.oom_control")), "oom_kill") or 0) > 0)

    def stats(self) -> CgroupStats:
        mem, acct, pids = self.dirs.get("memory"), self.dirs.get("cpuacct"), self.dirs.get("pids")
        blkio = self.dirs.get("blkio")
        read = write = None
        if blkio:
            text = _read(os.path.join(blkio, "blkio.throttle.io_service_bytes_recursive")) or _read(
                os.path.join(blkio, "blkio.throttle.io_service_bytes"))
            read, write = _blkio_bytes(text)
        return CgroupStats(
            memory_usage=_int(_read(os.path.join(mem, "memory.usage_in_bytes"))) if mem else None,
            memory_limit=_int(_read(os.path.join(mem, "memory.limit_in_bytes"))) if mem else None,
            cpu_usage_ns=_int(_read(os.path.join(acct, "cpuacct.usage"))) if acct else None,
            pids_current=_int(_read(os.path.join(pids, "pids.current"))) if pids else None,
            memory_inactive_file=_keyed(_read(os.path.join(mem, "memory.stat")), "total_inactive_file")
            if mem else None,
            io_read_bytes=read,
            io_write_bytes=write,
        )

    def destroy(self, *, force: bool = False) -> None:
        if force:
            for _ in range(100):
                left = [p for path in self._unique() for p in _procs_of(path)]
                if not left:
                    break
                _kill_loop(left, signal.SIGKILL)
                time.sleep(0.002)
        for path in self._unique():
            _rmdir(path)
            _rmdir_parent(path)


# --- v2 ----------------------------------------------------------------------------------------------


def _cpu_weight(shares: int) -> int:
    # the conversion runc and crun use (cgroup v1 shares 2..262144 -> v2 weight 1..10000)
    return 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142


class V2Manager:
    """One directory in the unified hierarchy."""

    kind = "v2"

    def __init__(
        self,
        path: str,
        controllers: Iterable[str] = (),
        *,
        device_filter: Callable[[str, Sequence[DeviceRule]], None] | None = None,
    ) -> None:
        self.path = path
        self.available = tuple(controllers)
        # v2 has no devices files: the kernel asks an eBPF program attached to the cgroup
        self.device_filter = device_filter or devfilter.attach

    @classmethod
    def under(cls, own: str, relative: str, controllers: Iterable[str] = ()) -> V2Manager:
        return cls(os.path.join(own, relative), controllers)

    def paths(self) -> dict[str, str]:
        return {"": self.path}

    def _f(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _enable(self, directory: str, wanted: Iterable[str]) -> None:
        have = set(_read(os.path.join(directory, "cgroup.controllers")).split())
        todo = [c for c in wanted if c in have]
        if todo:
            _write(os.path.join(directory, "cgroup.subtree_control"), " ".join("+" + c for c in todo))

    def create(self, resources: Resources | None) -> list[str]:
        warnings: list[str] = []
        parent = os.path.dirname(self.path)
        wanted = [c for c in ("cpu", "cpuset", "memory", "pids", "io") if c in self.available]
        try:
            os.mkdir(parent, 0o755)
        except FileExistsError:
            pass
        self._enable(os.path.dirname(parent), wanted)
        self._enable(parent, wanted)
        try:
            os.mkdir(self.path, 0o755)
        except FileExistsError:
            pass
        if resources is not None:
            try:
                self._apply(resources, warnings)
            except BaseException:
                self.destroy()
                raise
        return warnings

    def _has(self, name: str) -> bool:
        return os.path.exists(self._f(name))

    def _apply(self, r: Resources, warnings: list[str]) -> None:
        m = r.memory
        if m is not None and m.limit is not None:
            if self._has("memory.max"):
                _write(self._f("memory.max"), str(m.limit))
                if m.swap is not None and m.swap > 0 and self._has("memory.swap.max"):
                    # v1's memsw counts memory+swap; v2's swap.max counts swap alone
                    _write(self._f("memory.swap.max"), str(max(0, m.swap - m.limit)))
                if m.reservation is not None:
                    _write(self._f("memory.low"), str(m.reservation))
            else:
                warnings.append(WARN_MEMORY)
        c = r.cpu
        if c is not None:
            if c.shares is not None:
                if self._has("cpu.weight"):
                    _write(self._f("cpu.weight"), str(_cpu_weight(c.shares)))
                else:
                    warnings.append(WARN_CPU_SHARES)
            if c.quota is not None or c.period is not None:
                if self._has("cpu.max"):
                    quota = "max" if c.quota is None or c.quota < 0 else str(c.quota)
                    _write(self._f("cpu.max"), f"{quota} {c.period or 100000}")
                else:
                    warnings.append(WARN_CPU_QUOTA)
            if c.cpus or c.mems:
                if self._has("cpuset.cpus"):
                    if c.cpus:
                        _write(self._f("cpuset.cpus"), c.cpus)
                    if c.mems:
                        _write(self._f("cpuset.mems"), c.mems)
                else:
                    warnings.append(WARN_CPUSET)
        if r.pids_limit is not None and r.pids_limit > 0:
            if self._has("pids.max"):
                _write(self._f("pids.max"), str(r.pids_limit))
            else:
                warnings.append(WARN_PIDS)
        if r.devices:
            self.device_filter(self.path, (*r.devices, *ALWAYS_ALLOWED_DEVICES))

    def add(self, pid: int) -> None:
        _write(self._f("cgroup.procs"), str(pid))

    def update(self, resources: Resources) -> list[str]:
        """New limits for a live cgroup (``docker update``); the device filter stays as created."""
        warnings: list[str] = []
        self._apply(dataclasses.replace(resources, devices=()), warnings)
        return warnings

    def procs(self) -> list[int]:
        return _procs_of(self.path)

    def _freeze(self, value: str) -> None:
        if not self._has("cgroup.freeze"):
            raise OSError(errno.ENOTSUP, "no cgroup.freeze here (kernel < 5.2)")
        _write(self._f("cgroup.freeze"), value)
        for _ in range(1000):
            if f"frozen {value}" in _read(self._f("cgroup.events")):
                return
            time.sleep(0.001)
        raise OSError(errno.EBUSY, "cgroup did not reach the freeze state")

    def freeze(self) -> None:
        self._freeze("1")

    def thaw(self) -> None:
        self._freeze("0")

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        if sig == signal.SIGKILL and self._has("cgroup.kill"):
            _write(self._f("cgroup.kill"), "1")
            return
        if not self._has("cgroup.freeze"):
            _kill_loop(self.procs(), sig)
            return
        was_frozen = "frozen 1" in _read(self._f("cgroup.events"))
        self.freeze()
        try:
            _kill_loop(self.procs(), sig)
        finally:
            if not was_frozen:
                self.thaw()

    def oom_killed(self) -> bool:
        return (_keyed(_read(self._f("memory.events")), "oom_kill") or 0) > 0

    def stats(self) -> CgroupStats:
        usage = _keyed(_read(self._f("cpu.stat")), "usage_usec")
        limit = _read(self._f("memory.max")).strip()
        read = write = None
        if self._has("io.stat"):
            read = write = 0
            for line in _read(self._f("io.stat")).splitlines():
                for item in line.split()[1:]:
                    key, _, value = item.partition("=")
                    if key == "rbytes" and value.isdigit():
                        read += int(value)
                    elif key == "wbytes" and value.isdigit():
                        write += int(value)
        return CgroupStats(
            memory_usage=_int(_read(self._f("memory.current"))),
            memory_limit=int(limit) if limit.isdigit() else None,
            cpu_usage_ns=usage * 1000 if usage is not None else None,
            pids_current=_int(_read(self._f("pids.current"))),
            memory_inactive_file=_keyed(_read(self._f("memory.stat")), "inactive_file"),
            io_read_bytes=read,
            io_write_bytes=write,
        )

    def destroy(self, *, force: bool = False) -> None:
        if not os.path.isdir(self.path):
            return
        if force:
            for _ in range(100):
                left = self.procs()
                if not left:
                    break
                if self._has("cgroup.kill"):
                    _write(self._f("cgroup.kill"), "1")
                else:
                    _kill_loop(left, signal.SIGKILL)
                time.sleep(0.002)
        _rmdir(self.path)
        _rmdir_parent(self.path)


# --- none --------------------------------------------------------------------------------------------


class NullManager:
    """No writable cgroup (rootless without delegation): limits become warnings, the rest no-ops."""

    kind = "none"

    def __init__(self, reason: str = WARN_ROOTLESS) -> None:
        self.reason = reason

    def paths(self) -> dict[str, str]:
        return {}

    def create(self, resources: Resources | None) -> list[str]:
        if resources is None:
            return []
        warnings = []
        m, c = resources.memory, resources.cpu
        if m is not None and m.limit:
            warnings.append(WARN_MEMORY)
        if c is not None and c.shares is not None:
            warnings.append(WARN_CPU_SHARES)
        if c is not None and (c.quota is not None or c.period is not None):
            warnings.append(WARN_CPU_QUOTA)
        if c is not None and (c.cpus or c.mems):
            warnings.append(WARN_CPUSET)
        if resources.pids_limit is not None and resources.pids_limit > 0:
            warnings.append(WARN_PIDS)
        return [self.reason, *warnings] if warnings else []

    def add(self, pid: int) -> None:
        return None

    def procs(self) -> list[int]:
        return []

    def freeze(self) -> None:
        raise OSError(errno.ENOTSUP, "no writable freezer cgroup for this user (no cgroup delegation)")

    def thaw(self) -> None:
        self.freeze()

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        return None

    def update(self, resources: Resources) -> list[str]:
        return self.create(resources)

    def oom_killed(self) -> bool:
        return False

    def stats(self) -> CgroupStats:
        return CgroupStats()

    def destroy(self, *, force: bool = False) -> None:
        return None


# --- choosing --------------------------------------------------------------------------------------


def _v2_base(h: Hierarchies) -> str | None:
    """The v2 directory to put containers under: ours, or our parent when ours holds processes."""
    own = h.v2
    if own is None:
        return None
    if not os.access(own, os.W_OK):
        return None
    if own == h.v2_mount or not _read(os.path.join(own, "cgroup.procs")).split():
        return own
    parent = os.path.dirname(own)
    return parent if os.access(parent, os.W_OK) else None


def relative_path(container_id: str, cgroups_path: str = "") -> str:
    """Where a container's cgroup goes below the caller's: the spec's relative cgroupsPath, or
    ``dockernb/<id>``. An absolute cgroupsPath is taken below the caller's cgroup too: a
    container never escapes the cgroup of whoever started it."""
    rel = os.path.normpath(cgroups_path.strip("/")) if cgroups_path else f"{SUBDIR}/{container_id}"
    if rel.startswith("..") or rel in (".", ""):
        raise ValueError(f"invalid cgroupsPath {cgroups_path!r}")
    return rel


def manager_for(relative: str, *, hierarchies: Hierarchies | None = None) -> CgroupManager:
    """The manager for a new container ``relative`` to this caller's cgroups (v1 where mounted).

    On a hybrid host (v1 controllers plus a v2 tree with few controllers, as here) limits go to
    v1 and the v2 tree is left alone, as runc does for limits.
    """
    h = hierarchies or discover()
    if h.v1:
        writable = {ctl: d for ctl, d in h.v1.items() if os.access(d, os.W_OK)}
        if writable and (os.geteuid() == 0 or len(writable) == len(h.v1)):
            return V1Manager.under(writable, relative)
    base = _v2_base(h)
    if base is not None and (h.v2_controllers or not h.v1):
        return V2Manager.under(base, relative, h.v2_controllers)
    return NullManager()


def manager_from(kind: str, paths: Mapping[str, str], controllers: Iterable[str] = ()) -> CgroupManager:
    """Rebuild a manager from what :meth:`CgroupManager.paths` returned (for another process)."""
    if kind == "v1":
        return V1Manager(paths)
    if kind == "v2":
        return V2Manager(paths[""], controllers)
    return NullManager()
