"""The OCI runtime-spec subset dockernb writes and runs, as frozen data with its JSON shape (L0).

Field names follow the spec (config.json, runtime-spec 1.0.2) so that ``runc`` runs a bundle that
:mod:`dockernb.runtime.bundle` wrote. :func:`spec_from_json` reads what ``runc spec`` writes too;
fields outside this subset are ignored on read, as Go's encoding/json does. Absent fields stay
absent on write (``omitempty``), so a round trip keeps the file the same in substance.

Mounts use :class:`dockernb.spec.mount.Mount` (``target`` is the spec's ``destination``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockernb.errors import InvalidConfig
from dockernb.spec.mount import Mount

__all__ = [
    "Capabilities",
    "CpuResources",
    "Device",
    "DeviceRule",
    "IDMapping",
    "Linux",
    "MemoryResources",
    "Namespace",
    "NAMESPACE_TYPES",
    "Process",
    "Resources",
    "Rlimit",
    "Root",
    "SeccompArg",
    "SeccompProfile",
    "SeccompRule",
    "Spec",
    "User",
    "env_get",
    "seccomp_to_json",
    "spec_from_json",
    "spec_to_json",
]

OCI_VERSION = "1.0.2-dev"

#: the spec's namespace type names (``network``, not ``net``)
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """Capability names (``CAP_CHOWN``...) per set."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rlimit:
    type: str  # "RLIMIT_NOFILE"
    hard: int
    soft: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    user: User = field(default_factory=User)
    terminal: bool = False
    #: (height, width) of the pseudo-terminal when ``terminal``
    console_size: tuple[int, int] | None = None
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Root:
    path: str
    readonly: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IDMapping:
    container_id: int
    host_id: int
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace:
    type: str
    path: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """A device node to create in the container's /dev."""

    path: str
    type: str  # "c", "b", "u", "p"
    major: int
    minor: int
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRule:
    """One devices-cgroup rule; ``None`` major/minor means any (``*``)."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryResources:
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    disable_oom_killer: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuResources:
    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    cpus: str = ""
    mems: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    devices: tuple[DeviceRule, ...] = ()
    memory: MemoryResources | None = None
    cpu: CpuResources | None = None
    pids_limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompArg:
    index: int
    value: int
    op: str  # SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_MASKED_EQ, ...
    value_two: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompRule:
    names: tuple[str, ...]
    action: str  # SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompProfile:
    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    syscalls: tuple[SeccompRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Linux:
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    resources: Resources | None = None
    cgroups_path: str = ""
    seccomp: SeccompProfile | None = None
    rootfs_propagation: str = ""
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    sysctl: Mapping[str, str] = field(default_factory=dict)

    def namespace(self, kind: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A bundle's config.json."""

    process: Process
    root: Root
    hostname: str = ""
    mounts: tuple[Mount, ...] = ()
    linux: Linux = field(default_factory=Linux)
    annotations: Mapping[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION


# --- JSON ------------------------------------------------------------------------------------------


def _omit(d: dict[str, Any]) -> dict[str, Any]:
    """Go's omitempty: drop None, False, empty strings, lists and objects (zero numbers stay)."""
    return {k: v for k, v in d.items() if not (v is None or v is False or (isinstance(v, (str, list, dict)) and not v))}


def spec_to_json(spec: Spec) -> dict[str, Any]:
    """The config.json object for ``spec`` (key order as ``runc spec`` writes it)."""
    p = spec.process
    proc: dict[str, Any] = {
        "terminal": p.terminal,
        "consoleSize": {"height": p.console_size[0], "width": p.console_size[1]} if p.console_size else None,
        "user": _omit(
            {
                "uid": p.user.uid,
                "gid": p.user.gid,
                "umask": p.user.umask,
                "additionalGids": list(p.user.additional_gids),
            }
        ),
        "args": list(p.args),
        "env": list(p.env),
        "cwd": p.cwd,
    }
    if p.capabilities is not None:
        c = p.capabilities
        proc["capabilities"] = _omit(
            {
                "bounding": list(c.bounding),
                "effective": list(c.effective),
                "inheritable": list(c.inheritable),
                "permitted": list(c.permitted),
                "ambient": list(c.ambient),
            }
        )
    proc["rlimits"] = [{"type": r.type, "hard": r.hard, "soft": r.soft} for r in p.rlimits]
    proc["noNewPrivileges"] = p.no_new_privileges
    proc["oomScoreAdj"] = p.oom_score_adj
    lx = spec.linux
    linux: dict[str, Any] = {
        "uidMappings": [_idmap_json(m) for m in lx.uid_mappings],
        "gidMappings": [_idmap_json(m) for m in lx.gid_mappings],
        "sysctl": dict(lx.sysctl),
        "resources": _resources_json(lx.resources) if lx.resources else None,
        "cgroupsPath": lx.cgroups_path,
        "namespaces": [_omit({"type": n.type, "path": n.path}) for n in lx.namespaces],
        "devices": [
            _omit(
                {
                    "path": d.path,
                    "type": d.type,
                    "major": d.major,
                    "minor": d.minor,
                    "fileMode": d.file_mode,
                    "uid": d.uid,
                    "gid": d.gid,
                }
            )
            for d in lx.devices
        ],
        "seccomp": seccomp_to_json(lx.seccomp) if lx.seccomp else None,
        "rootfsPropagation": lx.rootfs_propagation,
        "maskedPaths": list(lx.masked_paths),
        "readonlyPaths": list(lx.readonly_paths),
    }
    out: dict[str, Any] = {
        "ociVersion": spec.oci_version,
        "process": _omit(proc),
        "root": _omit({"path": spec.root.path, "readonly": spec.root.readonly}),
        "hostname": spec.hostname,
        "mounts": [
            _omit({"destination": m.target, "type": m.type, "source": m.source, "options": list(m.options)})
            for m in spec.mounts
        ],
        "linux": _omit(linux),
        "annotations": dict(spec.annotations),
    }
    return _omit(out)


def _idmap_json(m: IDMapping) -> dict[str, int]:
    return {"containerID": m.container_id, "hostID": m.host_id, "size": m.size}


def _resources_json(r: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {
        "devices": [
            _omit({"allow": d.allow, "type": d.type, "major": d.major, "minor": d.minor, "access": d.access})
            | {"allow": d.allow}
            for d in r.devices
        ]
    }
    if r.memory is not None:
        m = r.memory
        out["memory"] = _omit(
            {"limit": m.limit, "reservation": m.reservation, "swap": m.swap, "disableOOMKiller": m.disable_oom_killer}
        )
    if r.cpu is not None:
        c = r.cpu
        out["cpu"] = _omit({"shares": c.shares, "quota": c.quota, "period": c.period, "cpus": c.cpus, "mems": c.mems})
    if r.pids_limit is not None:
        out["pids"] = {"limit": r.pids_limit}
    return _omit(out)


def seccomp_to_json(s: SeccompProfile) -> dict[str, Any]:
    return _omit(
        {
            "defaultAction": s.default_action,
            "defaultErrnoRet": s.default_errno_ret,
            "architectures": list(s.architectures),
            "flags": list(s.flags),
            "syscalls": [
                _omit(
                    {
                        "names": list(r.names),
                        "action": r.action,
                        "errnoRet": r.errno_ret,
                        "args": [
                            {"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op} for a in r.args
                        ],
                    }
                )
                for r in s.syscalls
            ],
        }
    )


# --- reading ---------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object, with the path of each field in error messages."""

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            raise InvalidConfig(f"config.json: {where or 'top level'}: expected an object")
        self.obj: dict[str, Any] = obj
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:  # noqa: ANN401
        value = self.obj.get(key, default)
        if value is None:
            return default
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise InvalidConfig(f"config.json: {self._name(key)}: wrong type")
        return value

    def text(self, key: str, default: str = "") -> str:
        return str(self._get(key, str, default))

    def num(self, key: str, default: int | None = None) -> int | None:
        value = self._get(key, int, default)
        return None if value is None else int(value)

    def flag(self, key: str, default: bool = False) -> bool:
        return bool(self._get(key, bool, default))

    def strs(self, key: str) -> tuple[str, ...]:
        items = self._get(key, list, [])
        if not all(isinstance(x, str) for x in items):
            raise InvalidConfig(f"config.json: {self._name(key)}: expected a list of strings")
        return tuple(items)

    def objs(self, key: str) -> list[_Reader]:
        return [_Reader(x, f"{self._name(key)}[{i}]") for i, x in enumerate(self._get(key, list, []))]

    def sub(self, key: str) -> _Reader | None:
        value = self.obj.get(key)
        return None if value is None else _Reader(value, self._name(key))

    def need(self, key: str) -> int:
        value = self.num(key)
        if value is None:
            raise InvalidConfig(f"config.json: {self._name(key)}: missing")
        return value


def spec_from_json(data: object) -> Spec:
    """Parse a config.json object; raises InvalidConfig naming the field that is wrong."""
    top = _Reader(data, "")
    p = top.sub("process")
    if p is None:
        raise InvalidConfig("config.json: process: missing")
    args = p.strs("args")
    if not args:
        raise InvalidConfig("config.json: process.args: must not be empty")
    u = p.sub("user") or _Reader({}, "process.user")
    caps = p.sub("capabilities")
    cs = p.sub("consoleSize")
    process = Process(
        args=args,
        env=p.strs("env"),
        cwd=p.text("cwd", "/") or "/",
        user=User(
            uid=u.num("uid", 0) or 0,
            gid=u.num("gid", 0) or 0,
            additional_gids=tuple(int(g) for g in u._get("additionalGids", list, [])),
            umask=u.num("umask"),
        ),
        terminal=p.flag("terminal"),
        console_size=(cs.num("height", 0) or 0, cs.num("width", 0) or 0) if cs else None,
        capabilities=Capabilities(
            bounding=caps.strs("bounding"),
            effective=caps.strs("effective"),
            inheritable=caps.strs("inheritable"),
            permitted=caps.strs("permitted"),
            ambient=caps.strs("ambient"),
        )
        if caps
        else None,
        rlimits=tuple(
            Rlimit(type=r.text("type"), hard=r.need("hard"), soft=r.need("soft")) for r in p.objs("rlimits")
        ),
        no_new_privileges=p.flag("noNewPrivileges"),
        oom_score_adj=p.num("oomScoreAdj"),
    )
    r = top.sub("root")
    if r is None or not r.text("path"):
        raise InvalidConfig("config.json: root.path: missing")
    mounts = tuple(
        Mount(type=m.text("type"), source=m.text("source"), target=m.text("destination"), options=m.strs("options"))
        for m in top.objs("mounts")
    )
    for m in mounts:
        if not m.target.startswith("/"):
            raise InvalidConfig(f"config.json: mount destination {m.target!r} is not absolute")
    return Spec(
        oci_version=top.text("ociVersion", OCI_VERSION),
        process=process,
        root=Root(path=r.text("path"), readonly=r.flag("readonly")),
        hostname=top.text("hostname"),
        mounts=mounts,
        linux=_linux_from(top.sub("linux")),
        annotations={k: str(v) for k, v in (top._get("annotations", dict, {})).items()},
    )


def _linux_from(lx: _Reader | None) -> Linux:
    if lx is None:
        return Linux()
    namespaces = tuple(Namespace(type=n.text("type"), path=n.text("path")) for n in lx.objs("namespaces"))
    for ns in namespaces:
        if ns.type not in NAMESPACE_TYPES:
            raise InvalidConfig(f"config.json: namespace type {ns.type!r} is not one of {', '.join(NAMESPACE_TYPES)}")
    res = lx.sub("resources")
    seccomp = lx.sub("seccomp")
    return Linux(
        namespaces=namespaces,
        uid_mappings=_idmaps(lx, "uidMappings"),
        gid_mappings=_idmaps(lx, "gidMappings"),
        devices=tuple(
            Device(
                path=d.text("path"),
                type=d.text("type"),
                major=d.num("major", 0) or 0,
                minor=d.num("minor", 0) or 0,
                file_mode=d.num("fileMode"),
                uid=d.num("uid"),
                gid=d.num("gid"),
            )
            for d in lx.objs("devices")
        ),
        resources=_resources_from(res) if res else None,
        cgroups_path=lx.text("cgroupsPath"),
        seccomp=_seccomp_from(seccomp) if seccomp else None,
        rootfs_propagation=lx.text("rootfsPropagation"),
        masked_paths=lx.strs("maskedPaths"),
        readonly_paths=lx.strs("readonlyPaths"),
        sysctl={k: str(v) for k, v in lx._get("sysctl", dict, {}).items()},
    )


def _idmaps(lx: _Reader, key: str) -> tuple[IDMapping, ...]:
    return tuple(
        IDMapping(container_id=m.need("containerID"), host_id=m.need("hostID"), size=m.need("size"))
        for m in lx.objs(key)
    )


def _resources_from(r: _Reader) -> Resources:
    mem, cpu, pids = r.sub("memory"), r.sub("cpu"), r.sub("pids")
    return Resources(
        devices=tuple(
            DeviceRule(
                allow=d.flag("allow"),
                type=d.text("type", "a") or "a",
                major=d.num("major"),
                minor=d.num("minor"),
                access=d.text("access", "rwm"),
            )
            for d in r.objs("devices")
        ),
        memory=MemoryResources(
            limit=mem.num("limit"),
            reservation=mem.num("reservation"),
            swap=mem.num("swap"),
            disable_oom_killer=mem._get("disableOOMKiller", bool, None),
        )
        if mem
        else None,
        cpu=CpuResources(
            shares=cpu.num("shares"),
            quota=cpu.num("quota"),
            period=cpu.num("period"),
            cpus=cpu.text("cpus"),
            mems=cpu.text("mems"),
        )
        if cpu
        else None,
        pids_limit=pids.num("limit") if pids else None,
    )


def _seccomp_from(s: _Reader) -> SeccompProfile:
    return SeccompProfile(
        default_action=s.text("defaultAction"),
        default_errno_ret=s.num("defaultErrnoRet"),
        architectures=s.strs("architectures"),
        flags=s.strs("flags"),
        syscalls=tuple(
            SeccompRule(
                names=r.strs("names"),
                action=r.text("action"),
                errno_ret=r.num("errnoRet"),
                args=tuple(
                    SeccompArg(
                        index=a.need("index"),
                        value=a.num("value", 0) or 0,
                        value_two=a.num("valueTwo", 0) or 0,
                        op=a.text("op"),
                    )
                    for a in r.objs("args")
                ),
            )
            for r in s.objs("syscalls")
        ),
    )


def env_get(env: Sequence[str], key: str) -> str | None:
    """The value of ``key`` in a ``KEY=value`` list (the last one wins, as in execve's callers)."""
    found = None
    prefix = key + "="
    for item in env:
        if item.startswith(prefix):
            found = item[len(prefix) :]
    return found
