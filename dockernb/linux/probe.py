"""Capability probes: what this machine lets a container engine do, and why (layer L1).

Each probe returns a :class:`Probe` with a yes/no, a one-line detail and the check behind it,
so that ``dockernb info``, error messages (``ProbeFailed``) and test skips all say the same
thing. Probes that need a namespace run in a forked child and never change the caller.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CgroupLayout",
    "Probe",
    "cgroup_layout",
    "fuse_overlayfs",
    "ip_unprivileged_port_start",
    "newidmap",
    "overlay",
    "overlay_in_userns",
    "pasta",
    "path_exists",
    "run_all",
    "seccomp",
    "slirp4netns",
    "subid_ranges",
    "user_namespaces",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    ok: bool
    detail: str
    check: str


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _in_child(fn: object) -> tuple[bool, str]:
    """Run ``fn() -> str`` in a forked child; (True, text) if it returned, (False, error) if it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's stack
        os.close(r)
        code = 0
        try:
            text = fn()  # type: ignore[operator]
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            text, code = f"{type(err).__name__}: {err}", 1
        os.write(w, str(text).encode()[:4000])
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 4096):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0, b"".join(chunks).decode(errors="replace")


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write_proc(path: str, text: str) -> None:
    # one write(2) without O_CREAT/O_TRUNC: the id-map files refuse both inside a new user namespace
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _write_maps(uid: int, gid: int) -> None:
    _write_proc("/proc/self/setgroups", "deny")
    _write_proc("/proc/self/uid_map", f"0 {uid} 1")
    _write_proc("/proc/self/gid_map", f"0 {gid} 1")


def user_namespaces() -> Probe:
    check = "unshare(CLONE_NEWUSER) in a forked child, with a one-id map"
    try:
        limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except OSError:
        limit = -1
    if limit == 0:
        return Probe("user namespaces", False, "disabled (user.max_user_namespaces=0)", check)

    uid, gid = os.geteuid(), os.getegid()

    def child() -> str:
        _unshare(CLONE_NEWUSER)
        _write_maps(uid, gid)
        return "ok"

    ok, text = _in_child(child)
    return Probe("user namespaces", ok, "available" if ok else text, check)


def _mount(source: str, target: str, fstype: str, data: str) -> None:
    if _libc().mount(source.encode(), target.encode(), fstype.encode(), 0, data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def _try_overlay(userns: bool) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="dockernb-probe-") as tmp:
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(tmp, d))

        uid, gid = os.geteuid(), os.getegid()

        def child() -> str:
            _unshare((CLONE_NEWUSER if userns else 0) | CLONE_NEWNS)
            if userns:
                _write_maps(uid, gid)
            opts = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
            if userns:
                opts += ",userxattr"
            _mount("overlay", f"{tmp}/merged", "overlay", opts)
            return "ok"

        return _in_child(child)


def overlay() -> Probe:
    check = "mount -t overlay in a private mount namespace (forked child)"
    if os.geteuid() != 0:
        return Probe("overlay", False, "needs root (see overlay in user namespaces)", check)
    ok, text = _try_overlay(userns=False)
    return Probe("overlay", ok, "available" if ok else text, check)


def overlay_in_userns() -> Probe:
    check = "mount -t overlay -o userxattr inside a new user+mount namespace (kernel >= 5.11)"
    ok, text = _try_overlay(userns=True)
    return Probe("overlay in user namespaces", ok, "available" if ok else text, check)


def fuse_overlayfs() -> Probe:
    exe = shutil.which("fuse-overlayfs")
    check = "fuse-overlayfs on PATH and /dev/fuse readable and writable by this user"
    if not exe:
        return Probe("fuse-overlayfs", False, "not installed (apt-get install fuse-overlayfs)", check)
    if not os.path.exists("/dev/fuse"):
        return Probe("fuse-overlayfs", False, "/dev/fuse is missing", check)
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return Probe("fuse-overlayfs", False, "/dev/fuse is not accessible to this user", check)
    return Probe("fuse-overlayfs", True, exe, check)


def slirp4netns() -> Probe:
    exe = shutil.which("slirp4netns")
    return Probe("slirp4netns", bool(exe), exe or "not installed (apt-get install slirp4netns)", "slirp4netns on PATH")


def pasta() -> Probe:
    exe = shutil.which("pasta")
    return Probe("pasta", bool(exe), exe or "not installed (apt-get install passt)", "pasta on PATH")


def newidmap() -> Probe:
    found = [shutil.which(x) for x in ("newuidmap", "newgidmap")]
    ok = all(found)
    return Probe(
        "newuidmap/newgidmap", ok, " ".join(str(f) for f in found) if ok else "not installed (apt-get install uidmap)",
        "newuidmap and newgidmap on PATH",
    )


def subid_ranges(user: str | None = None) -> Probe:
    import pwd

    name = user or pwd.getpwuid(os.geteuid()).pw_name
    found = []
    for f in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(f).read_text().splitlines()
        except OSError:
            lines = []
        hit = [ln for ln in lines if ln.split(":")[0] in (name, str(os.geteuid()))]
        found.append(f"{f}: {hit[0].split(':', 1)[1]}" if hit else f"{f}: none")
    ok = all(not f.endswith("none") for f in found)
    return Probe("subordinate id ranges", ok, ", ".join(found), f"entries for {name} in /etc/subuid and /etc/subgid")


def seccomp() -> Probe:
    check = "Seccomp field in /proc/self/status and libseccomp loadable"
    try:
        has = any(ln.startswith("Seccomp:") for ln in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        has = False
    lib = ctypes.util.find_library("seccomp")
    ok = has and bool(lib)
    return Probe("seccomp", ok, lib or "libseccomp not found" if has else "kernel without seccomp", check)


def path_exists(path: str) -> Probe:
    there = os.path.exists(path)
    return Probe(path, there, "present" if there else "absent on this kernel", f"stat {path}")


def ip_unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    """Where the cgroup hierarchies are mounted and what each can do."""

    version: str  # "1" (v1 or hybrid with v1 controllers), "2" (unified), "none"
    hybrid: bool
    v1: dict[str, str]  # controller -> mount point
    v2_mount: str | None
    v2_controllers: tuple[str, ...]
    writable: bool  # can this user create a cgroup somewhere useful

    @property
    def driver(self) -> str:
        return "cgroupfs" if self.version != "none" else "none"


def cgroup_layout() -> CgroupLayout:
    v1: dict[str, str] = {}
    v2: str | None = None
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        fstype, mnt, opts = rfields[0], fields[4], rfields[2].split(",")
        if fstype == "cgroup2":
            v2 = v2 or mnt
        elif fstype == "cgroup":
            for o in opts:
                if o in ("rw", "ro") or o.startswith(("release_agent", "clone_children", "xattr", "nsdelegate")):
                    continue
                v1.setdefault(o, mnt)
    controllers: tuple[str, ...] = ()
    if v2:
        try:
            controllers = tuple(Path(v2, "cgroup.controllers").read_text().split())
        except OSError:
            controllers = ()
    useful_v1 = {k: v for k, v in v1.items() if not k.startswith("name=")}
    if useful_v1:
        version = "1"
    elif v2:
        version = "2"
    else:
        version = "none"
    probe_dirs = list(useful_v1.values()) + ([v2] if v2 else [])
    writable = any(os.access(d, os.W_OK) for d in probe_dirs)
    return CgroupLayout(version, bool(useful_v1) and v2 is not None, v1, v2, controllers, writable)


def run_all() -> list[Probe]:
    """Every probe, in the order `dockernb info` prints them."""
    layout = cgroup_layout()
    cg = Probe(
        "cgroups",
        layout.version != "none",
        f"v{layout.version}{' (hybrid)' if layout.hybrid else ''}; v1 controllers: "
        f"{','.join(sorted(k for k in layout.v1 if not k.startswith('name='))) or 'none'}; "
        f"v2 controllers: {','.join(layout.v2_controllers) or 'none'}; "
        f"{'writable' if layout.writable else 'not writable by this user (no delegation)'}",
        "cgroup and cgroup2 entries in /proc/self/mountinfo, cgroup.controllers, access(W_OK)",
    )
    return [
        user_namespaces(),
        overlay(),
        overlay_in_userns(),
        fuse_overlayfs(),
        newidmap(),
        subid_ranges(),
        cg,
        seccomp(),
        slirp4netns(),
        pasta(),
        path_exists("/proc/kcore"),
        path_exists("/proc/sysrq-trigger"),
    ]
