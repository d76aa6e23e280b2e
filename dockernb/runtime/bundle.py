"""A container's intent (docker's run flags + the image's config) -> an OCI bundle runc runs too (L4).

:func:`build_spec` is what docker's daemon does before calling runc, with docker 20.10's
defaults: the 14 default capabilities, ``--cap-add/--cap-drop/--privileged`` (never more than
the caller's bounding set), the default seccomp profile, masked and read-only /proc paths that
exist on this kernel, /dev as a tmpfs with devpts/shm/mqueue, /sys read-only, the cgroup
mount, /etc/hostname, /etc/hosts, /etc/resolv.conf bound from the container's own files,
``-v``/``--mount``/``--tmpfs`` mounts, ``--read-only``, ``--ulimit``, resources, argv from
entrypoint+cmd, env with PATH/HOSTNAME/TERM, the user resolved from the image's /etc/passwd and
/etc/group (or left to the init when the rootfs is not readable yet), ``--init`` with tini.
Rootless intents get a user namespace with the caller's subordinate ids and host-device binds.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockernb.errors import InvalidArgument, InvalidMountSpec
from dockernb.linux import caps as capmod
from dockernb.linux import ns, seccomp
from dockernb.linux.rootfs import open_in_root
from dockernb.runtime import keys as ann
from dockernb.runtime.users import additional_gids, resolve_user
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import (
    Capabilities,
    CpuResources,
    Device,
    DeviceRule,
    IDMapping,
    Linux,
    MemoryResources,
    Namespace,
    Process,
    Resources,
    Rlimit,
    Root,
    Spec,
    User,
    spec_to_json,
)

__all__ = [
    "ContainerIntent",
    "DEFAULT_PATH",
    "ImageDefaults",
    "INIT_PATH",
    "build_spec",
    "find_init",
    "resources_for",
    "write_bundle",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: where docker mounts its init (tini) in the container
INIT_PATH = "/sbin/docker-init"
_MIN_MEMORY = 6 * 1024 * 1024
_DEFAULT_SHM = 64 * 1024 * 1024

#: docker 20.10's masked paths (moby oci/defaults.go) plus newer docker's powercap
_MASKED = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
_READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDefaults:
    """The parts of an image's config the runtime needs (OCI image config ``config`` object)."""

    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    workdir: str = ""
    user: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerIntent:
    """What ``docker run`` was asked for, engine-resolved (volumes are host paths by now).

    ``entrypoint``: None = the image's; ``()`` = ``--entrypoint ""`` (cleared). ``network``:
    "none" or "new" (a new namespace with only lo up; the engine may plumb it between create and
    start), "host", or the path of a netns to join (``container:<id>``, or one the engine made).
    ``etc_files`` maps /etc/hostname, /etc/hosts, /etc/resolv.conf to the container's own
    host files. Sizes are bytes, ``cpus`` is docker's ``--cpus`` float.
    """

    container_id: str
    image: ImageDefaults = field(default_factory=ImageDefaults)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str | None = None
    group_add: tuple[str, ...] = ()
    workdir: str | None = None
    hostname: str = ""
    tty: bool = False
    console_size: tuple[int, int] | None = None
    init: bool = False
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: str = "default"  # "default" | "unconfined"
    mounts: tuple[Mount, ...] = ()
    etc_files: Mapping[str, str] = field(default_factory=dict)
    network: str = "none"
    ulimits: tuple[Rlimit, ...] = ()
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    oom_kill_disable: bool = False
    cpus: float = 0.0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    shm_size: int = _DEFAULT_SHM
    sysctls: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    rootless: bool | None = None  # None: decided by the caller's euid
    #: a user namespace with these maps (docker's userns-remap; rootless: instead of the caller's
    #: own id plus its subordinate ranges)
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    #: a user namespace to join instead of making one (rootless bridge networks: the network
    #: layer's hub, whose network namespaces the container's must share an owner with)
    userns_path: str = ""


def find_init() -> str | None:
    """The tini to use for ``--init``: a static one works in any image (busybox has no libc)."""
    for name in ("tini-static", "docker-init", "tini"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _argv(intent: ContainerIntent) -> tuple[str, ...]:
    img = intent.image
    if intent.entrypoint:  # a new entrypoint drops the image's cmd (docker's merge rule)
        return intent.entrypoint + intent.cmd
    cmd = intent.cmd or (img.cmd or ())
    entry = img.entrypoint or () if intent.entrypoint is None else ()
    argv = tuple(entry) + tuple(cmd)
    if not argv:
        raise InvalidArgument("No command specified")
    return argv


def _merge_env(*lists: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    index: dict[str, int] = {}
    for items in lists:
        for item in items:
            key = item.partition("=")[0]
            if key in index:
                out[index[key]] = item
            else:
                index[key] = len(out)
                out.append(item)
    return tuple(out)


def _read_in_root(rootfs: str, path: str) -> str | None:
    """A file of the image, opened with every symlink kept inside the rootfs; None if absent."""
    try:
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = open_in_root(root_fd, path)
        try:
            with open(f"/proc/self/fd/{fd}", errors="replace") as f:
                return f.read()
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(root_fd)


def _resources(intent: ContainerIntent) -> Resources:
    if intent.memory and intent.memory < _MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    ncpu = os.cpu_count() or 1
    if intent.cpus and not 0.01 <= intent.cpus <= ncpu:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available"
        )
    if intent.cpus and (intent.cpu_period or intent.cpu_quota):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    memory = None
    if intent.memory or intent.memory_reservation or intent.oom_kill_disable:
        swap = intent.memory_swap
        if intent.memory and swap == 0:
            swap = 2 * intent.memory  # docker's default: as much swap as memory
        if swap and intent.memory and 0 < swap < intent.memory:
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
        memory = MemoryResources(
            limit=intent.memory or None,
            reservation=intent.memory_reservation or None,
            swap=swap or None,
            disable_oom_killer=intent.oom_kill_disable or None,
        )
    cpu = None
    if intent.cpus or intent.cpu_shares or intent.cpu_quota or intent.cpu_period or intent.cpuset_cpus or \
            intent.cpuset_mems:
        period = intent.cpu_period or (100000 if intent.cpus else None)
        quota = intent.cpu_quota or (int(intent.cpus * 100000) if intent.cpus else None)
        cpu = CpuResources(
            shares=intent.cpu_shares or None,
            quota=quota,
            period=period,
            cpus=intent.cpuset_cpus,
            mems=intent.cpuset_mems,
        )
    if intent.privileged:
        devices: tuple[DeviceRule, ...] = (DeviceRule(allow=True, access="rwm"),)
    else:
        devices = (
            DeviceRule(allow=False, access="rwm"),
            DeviceRule(allow=True, type="c", access="m"),
            DeviceRule(allow=True, type="b", access="m"),
            *(
                DeviceRule(allow=True, type="c", major=ma, minor=mi, access="rwm")
                for ma, mi in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None))
            ),
        )
    return Resources(devices=devices, memory=memory, cpu=cpu, pids_limit=intent.pids_limit or None)


def resources_for(intent: ContainerIntent) -> Resources:
    """The cgroup limits ``intent`` asks for, with docker's checks and defaults (``update`` re-applies them)."""
    return _resources(intent)


def _host_devices() -> tuple[Device, ...]:
    """Every device node under the host's /dev, for --privileged (docker adds them all)."""
    out = []
    skip = {"/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/.lxc", "/dev/.udev"}
    for base, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if os.path.join(base, d) not in skip]
        for name in files:
            path = os.path.join(base, name)
            if path in ("/dev/console", "/dev/ptmx") or path.startswith("/dev/tty") and path != "/dev/tty":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append(
                    Device(
                        path=path,
                        type="c" if stat.S_ISCHR(st.st_mode) else "b",
                        major=os.major(st.st_rdev),
                        minor=os.minor(st.st_rdev),
                        file_mode=st.st_mode & 0o777,
                        uid=0,
                        gid=0,
                    )
                )
    return tuple(out)


def _mounts(intent: ContainerIntent, rootless: bool, host_net: bool) -> tuple[Mount, ...]:
    ro = () if intent.privileged else ("ro",)
    devpts = ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
    mounts = [
        Mount(type="proc", source="proc", target="/proc", options=("nosuid", "noexec", "nodev")),
        Mount(
            type="tmpfs", source="tmpfs", target="/dev", options=("nosuid", "strictatime", "mode=755", "size=65536k")
        ),
        Mount(type="devpts", source="devpts", target="/dev/pts", options=(*devpts, "gid=5")),
    ]
    if rootless and host_net:
        # sysfs belongs to the network namespace's owner: show the host's, read-only
        sys_opts = ("rbind", "nosuid", "noexec", "nodev", "ro")
        mounts.append(Mount(type="bind", source="/sys", target="/sys", options=sys_opts))
    else:
        mounts.append(Mount(type="sysfs", source="sysfs", target="/sys", options=("nosuid", "noexec", "nodev", *ro)))
    mounts += [
        Mount(type="cgroup", source="cgroup", target="/sys/fs/cgroup", options=(*ro, "nosuid", "noexec", "nodev")),
        Mount(type="mqueue", source="mqueue", target="/dev/mqueue", options=("nosuid", "noexec", "nodev")),
        Mount(
            type="tmpfs",
            source="shm",
            target="/dev/shm",
            options=("nosuid", "noexec", "nodev", "mode=1777", f"size={intent.shm_size}"),
        ),
    ]
    for target in ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts"):
        source = intent.etc_files.get(target)
        if source:
            mounts.append(Mount(type="bind", source=source, target=target, options=("rbind", "rprivate")))
    user_targets = set()
    for m in intent.mounts:
        if not m.target.startswith("/"):
            raise InvalidMountSpec(f"invalid mount config for type \"{m.type}\": invalid mount path: '{m.target}' "
                                   "mount path must be absolute")
        if m.target in user_targets:
            raise InvalidMountSpec(f"Duplicate mount point: {m.target}")
        user_targets.add(m.target)
        if m.type == "bind" and not os.path.exists(m.source):
            raise InvalidMountSpec(
                f'invalid mount config for type "bind": bind source path does not exist: {m.source}'
            )
        mounts.append(m)
    if user_targets:
        # a user mount on a default destination replaces the default one (docker's rule)
        mounts = [m for m in mounts if m in intent.mounts or m.target not in user_targets]
    if intent.init:
        tini = find_init()
        if tini is None:
            raise InvalidArgument("--init: no tini found (apt-get install tini)")
        mounts.append(Mount(type="bind", source=tini, target=INIT_PATH, options=("bind", "ro")))
    return tuple(mounts)


def _user(intent: ContainerIntent, rootfs: str | None) -> tuple[User, dict[str, str]]:
    spec_user = intent.user if intent.user is not None else intent.image.user
    extra: dict[str, str] = {}
    if rootfs is None:
        # resolved by the init, from the container's own files, after pivot_root
        if spec_user:
            extra[ann.USER] = spec_user
        if intent.group_add:
            extra[ann.GROUP_ADD] = ",".join(intent.group_add)
        return User(), extra
    passwd = _read_in_root(rootfs, "/etc/passwd")
    group = _read_in_root(rootfs, "/etc/group")
    found = resolve_user(spec_user or "", passwd, group)
    # docker >= 20.10.18 lists the primary group too (CVE-2022-36109): `id` shows groups=<gid>
    gids = (found.gid, *found.sgids, *additional_gids(intent.group_add, group))
    return User(uid=found.uid, gid=found.gid, additional_gids=tuple(dict.fromkeys(gids))), extra


def _maps_of(userns_path: str, name: str) -> tuple[IDMapping, ...]:
    """The id maps of a joined user namespace given as /proc/<pid>/ns/user (else unknown: ())."""
    parts = userns_path.split("/")
    if len(parts) != 5 or parts[1] != "proc" or parts[3:] != ["ns", "user"]:
        return ()
    try:
        lines = Path("/proc", parts[2], name).read_text().split("\n")
    except OSError:
        return ()
    out = []
    for line in lines:
        f = line.split()
        if len(f) == 3 and all(x.isdigit() for x in f):
            out.append(IDMapping(container_id=int(f[0]), host_id=int(f[1]), size=int(f[2])))
    return tuple(out)


def _rootless_maps(rootless: bool) -> tuple[tuple[IDMapping, ...], tuple[IDMapping, ...]]:
    if not rootless:
        return (), ()
    return ns.rootless_mappings()


_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced"}


def _validate_sysctl(key: str, host_net: bool) -> None:
    """docker's --sysctl whitelist: IPC ones, fs.mqueue.*, and net.* unless on the host's network."""
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return
    if key.startswith("net."):
        if host_net:
            raise InvalidArgument(f"sysctl {key!r} is not allowed in host network namespace")
        return
    raise InvalidArgument(f"sysctl '{key}' is not whitelisted")


def build_spec(intent: ContainerIntent, *, rootfs: str | Path | None = None, root_path: str = "rootfs") -> Spec:
    """The OCI spec for ``intent``. ``rootfs`` (the image's root, when readable now) is used to
    resolve the user from its /etc/passwd; ``root_path`` is what config.json's root.path says.

    Raises:
        InvalidArgument: docker's validation errors ("Minimum memory limit allowed is 6MB", an
            unknown capability, a user missing from the image...). InvalidMountSpec: a bad mount.
    """
    rootless = intent.rootless if intent.rootless is not None else os.geteuid() != 0
    cid = intent.container_id
    hostname = intent.hostname or cid[:12]
    host_net = intent.network == "host"
    argv = _argv(intent)
    if intent.init:
        argv = (INIT_PATH, "--", *argv)
    env = _merge_env(
        (f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", *(("TERM=xterm",) if intent.tty else ())),
        intent.image.env,
        intent.env,
    )
    user, annotations = _user(intent, str(rootfs) if rootfs is not None else None)
    if rootless and user.additional_gids:
        # runc refuses additionalGids without root; dockernb's init reads them from here
        annotations[ann.ADDITIONAL_GIDS] = ",".join(str(g) for g in user.additional_gids)
        user = User(uid=user.uid, gid=user.gid)
    cap_list = capmod.tweak(
        capmod.DOCKER_DEFAULT, intent.cap_add, intent.cap_drop, privileged=intent.privileged
    )
    if user.uid == 0:
        caps = Capabilities(bounding=cap_list, effective=cap_list, permitted=cap_list)
    else:
        caps = Capabilities(bounding=cap_list)  # docker: execve clears them for a non-root user
    rlimits = []
    for r in intent.ulimits:
        if r.soft > r.hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {r.soft} > {r.hard}")
        rlimits.append(r)
    namespaces = [Namespace(type="pid"), Namespace(type="ipc"), Namespace(type="uts"), Namespace(type="mount")]
    if intent.network in ("none", "new"):  # "new": empty too, for the engine to plumb before start
        namespaces.insert(1, Namespace(type="network"))
        annotations[ann.LOOPBACK] = "up"
    elif not host_net:
        namespaces.insert(1, Namespace(type="network", path=intent.network))
    namespaces.append(Namespace(type="cgroup"))
    uid_maps: tuple[IDMapping, ...] = ()
    gid_maps: tuple[IDMapping, ...] = ()
    joined_gids: tuple[IDMapping, ...] = ()
    if intent.userns_path:
        # joined, not made: its maps are its owner's; read them to know which ids exist in it
        namespaces.append(Namespace(type="user", path=intent.userns_path))
        joined_gids = _maps_of(intent.userns_path, "gid_map")
    else:
        if intent.uid_mappings or intent.gid_mappings:
            if not (intent.uid_mappings and intent.gid_mappings):
                raise InvalidArgument("a user namespace needs both uid and gid mappings")
            uid_maps, gid_maps = intent.uid_mappings, intent.gid_mappings
        else:
            uid_maps, gid_maps = _rootless_maps(rootless)
        if uid_maps:
            namespaces.append(Namespace(type="user"))
    mounts = _mounts(intent, rootless, host_net)
    known_gids = gid_maps or joined_gids
    if known_gids and ns.host_id_for(5, known_gids) is None:
        # a single-id map has no gid 5 (tty) to give the devpts instance
        mounts = tuple(
            Mount(type=m.type, source=m.source, target=m.target, options=tuple(o for o in m.options if o != "gid=5"))
            if m.type == "devpts"
            else m
            for m in mounts
        )
    seccomp_profile = None
    if not intent.privileged and intent.seccomp != "unconfined":
        seccomp_profile = seccomp.default_profile(cap_list)
    masked = () if intent.privileged else tuple(p for p in _MASKED if os.path.exists(p))
    readonly = () if intent.privileged else tuple(p for p in _READONLY if os.path.exists(p))
    sysctl = dict(intent.sysctls)
    for key in sysctl:
        _validate_sysctl(key, host_net)
    process = Process(
        args=argv,
        env=env,
        cwd=intent.workdir or intent.image.workdir or "/",
        user=user,
        terminal=intent.tty,
        console_size=intent.console_size if intent.tty else None,
        capabilities=caps,
        rlimits=tuple(rlimits),
        no_new_privileges=intent.no_new_privileges,
        oom_score_adj=intent.oom_score_adj,
    )
    return Spec(
        process=process,
        root=Root(path=root_path, readonly=intent.read_only),
        hostname=hostname,
        mounts=mounts,
        linux=Linux(
            namespaces=tuple(namespaces),
            uid_mappings=uid_maps,
            gid_mappings=gid_maps,
            devices=_host_devices() if intent.privileged else (),
            resources=_resources(intent),
            seccomp=seccomp_profile,
            masked_paths=masked,
            readonly_paths=readonly,
            sysctl=sysctl,
        ),
        annotations=annotations,
    )


def write_bundle(bundle: Path, spec: Spec) -> Path:
    """Write ``bundle/config.json`` (runc's layout: the rootfs is ``root.path`` beside it)."""
    bundle.mkdir(parents=True, exist_ok=True)
    path = bundle / "config.json"
    tmp = bundle / ".config.json.tmp"
    tmp.write_text(json.dumps(spec_to_json(spec), indent=2))
    os.replace(tmp, path)
    return path
