"""A container's root filesystem inside its new mount namespace, the way runc builds it (layer L1).

Steps, each a function over a :class:`RootfsPlan` and a :class:`~dockernb.linux.syscalls.Syscalls`:

1. :func:`prepare` — make ``/`` a slave (nothing leaks back to the host), mount the snapshot
   (a list of :class:`~dockernb.spec.mount.Mount`, e.g. one overlay) on the bundle's rootfs, and
   bind the rootfs onto itself so it is a mount point for pivot_root;
2. :func:`mount_all` — the spec's mounts in order (proc, /dev tmpfs, devpts, shm, mqueue, sysfs,
   cgroup, binds...), every destination resolved *inside* the rootfs with openat2(RESOLVE_IN_ROOT)
   and mounted through its /proc/self/fd path, so an image's symlinks cannot aim a mount outside;
3. :func:`create_devices` and :func:`dev_links` — /dev/null, zero, full, random, urandom, tty (mknod,
   or bind mounts of the host nodes inside a user namespace), /dev/ptmx -> pts/ptmx, fd/stdio links;
4. :func:`pivot` — pivot_root(".", ".") and a lazy unmount of the old root (never chroot);
5. :func:`finalize` — sysctls, read-only paths, masked paths (/dev/null over files, a read-only
   tmpfs over directories), a read-only root.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dockernb.linux import mount as snapshot_mount
from dockernb.linux import syscalls as sc
from dockernb.linux.syscalls import Syscalls
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Device, Spec

__all__ = [
    "CgroupMount",
    "DEFAULT_DEVICES",
    "MountOptions",
    "RootfsPlan",
    "create_devices",
    "dev_links",
    "finalize",
    "is_fuse",
    "mount_all",
    "open_in_root",
    "parse_options",
    "pivot",
    "prepare",
]

_FLAGS: dict[str, tuple[bool, int]] = {
    # option: (clear?, flag)
    "async": (True, sc.MS_SYNCHRONOUS),
    "atime": (True, sc.MS_NOATIME),
    "bind": (False, sc.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, sc.MS_NODEV),
    "diratime": (True, sc.MS_NODIRATIME),
    "dirsync": (False, sc.MS_DIRSYNC),
    "exec": (True, sc.MS_NOEXEC),
    "mand": (False, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME),
    "nodev": (False, sc.MS_NODEV),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "noexec": (False, sc.MS_NOEXEC),
    "nomand": (True, sc.MS_MANDLOCK),
    "nosuid": (False, sc.MS_NOSUID),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "relatime": (False, sc.MS_RELATIME),
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "strictatime": (False, sc.MS_STRICTATIME),
    "suid": (True, sc.MS_NOSUID),
    "sync": (False, sc.MS_SYNCHRONOUS),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
_DEFAULT_FLAGS = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC

#: runc's default device nodes, in runc's order
DEFAULT_DEVICES: tuple[Device, ...] = tuple(
    Device(path=p, type="c", major=ma, minor=mi, file_mode=0o666, uid=0, gid=0)
    for p, ma, mi in (
        ("/dev/null", 1, 3),
        ("/dev/random", 1, 8),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/zero", 1, 5),
        ("/dev/urandom", 1, 9),
    )
)


@dataclass(frozen=True, slots=True)
class MountOptions:
    flags: int
    propagation: tuple[int, ...]
    data: str

    @property
    def bind(self) -> bool:
        return bool(self.flags & sc.MS_BIND)


def parse_options(options: Sequence[str]) -> MountOptions:
    """mount(8)-style options -> (flags, propagation changes, filesystem data), as runc reads them."""
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            propagation.append(_PROPAGATION[opt])
        else:
            data.append(opt)
    return MountOptions(flags, tuple(propagation), ",".join(data))


@dataclass(frozen=True, slots=True)
class CgroupMount:
    """One v1 hierarchy to show under /sys/fs/cgroup: its directory name, mount data, and the host
    directory of the container's cgroup in it (bound when the hierarchy cannot be mounted)."""

    name: str
    data: str
    host_dir: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RootfsPlan:
    """What :mod:`dockernb.linux.rootfs` needs beyond the spec."""

    spec: Spec
    rootfs: str  # absolute host path of the bundle's root.path
    userns: bool = False  # in a user namespace: bind devices, keep locked mount flags
    cgroupns: bool = False
    cgroups_v1: tuple[CgroupMount, ...] = ()
    cgroup_v2_dir: str | None = None  # host directory of the container's v2 cgroup, when unified
    root_mounts: tuple[Mount, ...] = ()  # the snapshot, mounted on rootfs first
    console: str | None = None  # pty slave path to show as /dev/console
    devices: tuple[Device, ...] = field(default=())


# --- safe destinations -------------------------------------------------------------------------------

_RESOLVE = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS


def open_in_root(root_fd: int, path: str, *, create: str = "", mode: int = 0o755) -> int:
    """An O_PATH fd for ``path`` resolved inside the tree at ``root_fd`` (symlinks stay inside).

    ``create`` is "" (must exist), "dir" or "file": missing parents are created as directories
    and a missing last component as ``create``, each with mkdirat/openat under a directory fd
    that was itself opened inside the root.
    """
    rel = path.strip("/")
    try:
        return sc.openat2(root_fd, rel or ".", os.O_PATH, _RESOLVE)
    except FileNotFoundError:
        if not create:
            raise
    parts = [p for p in rel.split("/") if p]
    parent = os.dup(root_fd)
    try:
        for i, name in enumerate(parts):
            sub = "/".join(parts[: i + 1])
            try:
                fd = sc.openat2(root_fd, sub, os.O_PATH, _RESOLVE)
            except FileNotFoundError:
                last = i == len(parts) - 1
                dirfd = sc.openat2(parent, ".", os.O_DIRECTORY | os.O_RDONLY, sc.RESOLVE_NO_SYMLINKS)
                try:
                    if last and create == "file":
                        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                         0o644, dir_fd=dirfd))
                    else:
                        os.mkdir(name, mode, dir_fd=dirfd)
                except FileExistsError:
                    pass  # a symlink: opening it again resolves inside the root
                finally:
                    os.close(dirfd)
                try:
                    fd = sc.openat2(root_fd, sub, os.O_PATH, _RESOLVE)
                except FileNotFoundError as err:
                    raise OSError(errno.ENOENT, f"{'/' + sub}: a symlink in the image points nowhere") from err
            os.close(parent)
            parent = fd
        return os.dup(parent)
    finally:
        os.close(parent)


def _fdpath(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


class _Target:
    """A mount destination opened inside the rootfs, usable as a path while open."""

    def __init__(self, root_fd: int, dest: str, create: str) -> None:
        self.fd = open_in_root(root_fd, dest, create=create)
        self.path = _fdpath(self.fd)

    def __enter__(self) -> _Target:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


# --- steps -------------------------------------------------------------------------------------------


def is_fuse(m: Mount) -> bool:
    """A mount that needs a helper process (fuse-overlayfs), not only mount(2)."""
    return m.type.startswith(("fuse.", "fuse3."))


def prepare(
    sys: Syscalls, plan: RootfsPlan, *, mount_snapshot: Callable[[Sequence[Mount], str], None] | None = None
) -> None:
    """Step 1: propagation, the snapshot mounts, the rootfs as a mount point.

    The snapshot's kernel mounts go through the storage layer's :func:`dockernb.linux.mount.mount_all`
    (it handles overlay option lists longer than a page); fuse mounts were made before, by a
    helper outside the container's pid namespace, so they are skipped here.
    """
    prop = _PROPAGATION.get(plan.spec.linux.rootfs_propagation, sc.MS_SLAVE | sc.MS_REC)
    sys.mount(None, "/", None, prop, None)
    kernel = [m for m in plan.root_mounts if not is_fuse(m)]
    if kernel:
        (mount_snapshot or snapshot_mount.mount_all)(kernel, plan.rootfs)
    sys.mount(plan.rootfs, plan.rootfs, None, sc.MS_BIND | sc.MS_REC, None)


def _locked_flags(path: str) -> int:
    """The flags a remount inside a user namespace must keep (the kernel locks them)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    out = 0
    for bit, flag in (
        (os.ST_NOSUID, sc.MS_NOSUID),
        (os.ST_NODEV, sc.MS_NODEV),
        (os.ST_NOEXEC, sc.MS_NOEXEC),
        (os.ST_NOATIME, sc.MS_NOATIME),
        (os.ST_NODIRATIME, sc.MS_NODIRATIME),
        (os.ST_RELATIME, sc.MS_RELATIME),
        (os.ST_RDONLY, sc.MS_RDONLY),
    ):
        if st.f_flag & bit:
            out |= flag
    return out


def _remount_bind(sys: Syscalls, target: str, flags: int) -> None:
    want = (flags & ~(sc.MS_BIND | sc.MS_REC)) | sc.MS_BIND | sc.MS_REMOUNT
    try:
        sys.mount(None, target, None, want, None)
    except PermissionError:
        sys.mount(None, target, None, want | _locked_flags(target), None)


def _bind(sys: Syscalls, source: str, root_fd: int, dest: str, create: str, opts: MountOptions) -> None:
    """Bind ``source`` on ``dest`` inside the root, then apply flags and propagation to the new mount.

    The remount and the propagation change go through a fresh open of ``dest``: an fd opened
    before the bind still names the directory underneath it, not the new mount.
    """
    with _Target(root_fd, dest, create) as t:
        sys.mount(source, t.path, None, sc.MS_BIND | (opts.flags & sc.MS_REC), None)
    if opts.flags & ~(sc.MS_BIND | sc.MS_REC) or opts.propagation:
        with _Target(root_fd, dest, "") as t:
            if opts.flags & ~(sc.MS_BIND | sc.MS_REC):
                _remount_bind(sys, t.path, opts.flags)
            _propagate(sys, t.path, opts)


def _mount_one(sys: Syscalls, plan: RootfsPlan, root_fd: int, m: Mount) -> None:
    opts = parse_options(m.options)
    kind = m.type or ("bind" if opts.bind else "")
    if kind == "cgroup":
        _mount_cgroup(sys, plan, root_fd, m, opts)
        return
    if opts.bind or kind == "bind":
        _bind(sys, m.source, root_fd, m.target, "dir" if os.path.isdir(m.source) else "file", opts)
        return
    with _Target(root_fd, m.target, "dir") as t:
        if m.target in ("/proc", "/sys"):
            # the pseudo filesystems must land on plain directories, never through a symlink
            real = os.readlink(t.path)
            if real != os.path.join(plan.rootfs, m.target.lstrip("/")):
                raise OSError(errno.ELOOP, f"mount destination {m.target} is a symlink in the image ({real})")
        data = opts.data or None
        try:
            # a read-only tmpfs is mounted writable, then made read-only (as runc does)
            first = opts.flags & ~sc.MS_RDONLY if kind == "tmpfs" else opts.flags
            sys.mount(m.source or kind, t.path, kind, first, data)
        except PermissionError:
            if kind != "sysfs":
                raise
            # sysfs needs a network namespace of our own user namespace: show the host's, read-only
            _bind(sys, "/sys", root_fd, m.target, "dir", MountOptions(opts.flags | sc.MS_BIND | sc.MS_REC, (), ""))
            return
    if (kind == "tmpfs" and opts.flags & sc.MS_RDONLY) or opts.propagation:
        with _Target(root_fd, m.target, "") as t:
            if kind == "tmpfs" and opts.flags & sc.MS_RDONLY:
                sys.mount(None, t.path, None, opts.flags | sc.MS_REMOUNT, data)
            _propagate(sys, t.path, opts)


def _propagate(sys: Syscalls, target: str, opts: MountOptions) -> None:
    for flag in opts.propagation:
        sys.mount(None, target, None, flag, None)


def _mount_cgroup(sys: Syscalls, plan: RootfsPlan, root_fd: int, m: Mount, opts: MountOptions) -> None:
    ro = opts.flags & sc.MS_RDONLY
    binding = MountOptions(sc.MS_BIND | sc.MS_REC | _DEFAULT_FLAGS | ro, (), "")
    if plan.cgroups_v1:
        with _Target(root_fd, m.target, "dir") as t:
            sys.mount("tmpfs", t.path, "tmpfs", _DEFAULT_FLAGS, "mode=755")
        if opts.propagation:
            with _Target(root_fd, m.target, "") as t:
                _propagate(sys, t.path, opts)
        for cg in plan.cgroups_v1:
            dest = os.path.join(m.target, cg.name)
            if plan.cgroupns:
                with _Target(root_fd, dest, "dir") as t:
                    source = "systemd" if cg.data == "name=systemd" else "cgroup"
                    try:
                        sys.mount(source, t.path, "cgroup", _DEFAULT_FLAGS | ro, cg.data)
                        continue
                    except PermissionError:
                        if not plan.userns:
                            raise
            # no cgroup namespace, or a user namespace the kernel refuses a v1 mount in: the host dir
            _bind(sys, cg.host_dir, root_fd, dest, "dir", binding)
        for cg in plan.cgroups_v1:
            if "," in cg.name:
                for part in cg.name.split(","):
                    try:
                        os.symlink(cg.name, os.path.join(plan.rootfs, m.target.lstrip("/"), part))
                    except FileExistsError:
                        pass
        return
    if plan.cgroupns:
        with _Target(root_fd, m.target, "dir") as t:
            sys.mount("cgroup2", t.path, "cgroup2", opts.flags | _DEFAULT_FLAGS, None)
    elif plan.cgroup_v2_dir:
        _bind(sys, plan.cgroup_v2_dir, root_fd, m.target, "dir", binding)


def mount_all(sys: Syscalls, plan: RootfsPlan) -> None:
    """Step 2: the spec's mounts, in order, each destination resolved inside the rootfs."""
    root_fd = os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in plan.spec.mounts:
            try:
                _mount_one(sys, plan, root_fd, m)
            except OSError as err:
                raise OSError(err.errno, f"error mounting {m.source!r} to rootfs at {m.target!r}: {err.strerror}") \
                    from err
    finally:
        os.close(root_fd)


def _devices(plan: RootfsPlan) -> list[Device]:
    out = list(plan.spec.linux.devices) + list(plan.devices)
    paths = {d.path for d in out}
    out += [d for d in DEFAULT_DEVICES if d.path not in paths]
    return out


def create_devices(sys: Syscalls, plan: RootfsPlan) -> None:
    """Step 3a: device nodes (mknod), or binds of the host's nodes inside a user namespace."""
    root_fd = os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    old = os.umask(0)
    try:
        for dev in _devices(plan):
            if plan.userns:
                if not os.path.exists(dev.path):
                    continue
                with _Target(root_fd, dev.path, "file") as t:
                    sys.mount(dev.path, t.path, None, sc.MS_BIND, None)
                continue
            parent = os.path.dirname(dev.path)
            with _Target(root_fd, parent, "dir") as t:
                target = os.path.join(t.path, os.path.basename(dev.path))
                kind = stat.S_IFBLK if dev.type == "b" else stat.S_IFIFO if dev.type == "p" else stat.S_IFCHR
                try:
                    os.unlink(target)
                except FileNotFoundError:
                    pass
                sys.mknod(target, kind | (dev.file_mode if dev.file_mode is not None else 0o666) & 0o7777,
                          os.makedev(dev.major, dev.minor))
                os.chown(target, dev.uid or 0, dev.gid or 0, follow_symlinks=False)
    finally:
        os.umask(old)
        os.close(root_fd)


def dev_links(plan: RootfsPlan) -> None:
    """Step 3b: /dev/ptmx -> pts/ptmx, /dev/fd and the stdio links, /dev/core when /proc/kcore exists."""
    root_fd = os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        dev_fd = open_in_root(root_fd, "/dev", create="dir")
        dirfd = os.open(_fdpath(dev_fd), os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        os.close(dev_fd)
    finally:
        os.close(root_fd)
    try:
        try:
            os.unlink("ptmx", dir_fd=dirfd)
        except FileNotFoundError:
            pass
        os.symlink("pts/ptmx", "ptmx", dir_fd=dirfd)
        links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                 ("/proc/self/fd/2", "stderr")]
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "core"))
        for src, name in links:
            try:
                os.symlink(src, name, dir_fd=dirfd)
            except FileExistsError:
                pass
    finally:
        os.close(dirfd)


def mount_console(sys: Syscalls, plan: RootfsPlan, slave: str) -> None:
    """Bind the container's pty slave over /dev/console (after pivot_root)."""
    fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.close(fd)
    sys.mount(slave, "/dev/console", None, sc.MS_BIND, None)


def pivot(sys: Syscalls, plan: RootfsPlan) -> None:
    """Step 4: pivot_root into the rootfs and detach the old root (runc's "." "." trick)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(plan.rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        sys.pivot_root(".", ".")
        os.fchdir(old_root)
        # the old root must not propagate our unmount to the host
        sys.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
        sys.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def _readonly(sys: Syscalls, path: str) -> None:
    try:
        sys.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
    except FileNotFoundError:
        return
    _remount_bind(sys, path, sc.MS_RDONLY | (_locked_flags(path) & _DEFAULT_FLAGS))


def _mask(sys: Syscalls, path: str) -> None:
    try:
        sys.mount("/dev/null", path, None, sc.MS_BIND, None)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)


def finalize(sys: Syscalls, plan: RootfsPlan) -> None:
    """Step 5 (after pivot_root): sysctls, read-only and masked paths, a read-only root."""
    for key, value in plan.spec.linux.sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    for path in plan.spec.linux.readonly_paths:
        _readonly(sys, path)
    for path in plan.spec.linux.masked_paths:
        _mask(sys, path)
    if plan.spec.root.readonly:
        _remount_bind(sys, "/", sc.MS_RDONLY | sc.MS_REC)
