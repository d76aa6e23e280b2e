"""Internal records -> the Engine API's JSON shapes: the one place docker's wire JSON is built (layer L6).

``image_inspect`` gives ``ImageInspect`` (``GET /images/{name}/json``, ``docker image inspect``);
``image_summary`` gives an ``ImageSummary`` (``GET /images/json``); ``history_item`` a
``HistoryResponseItem``. Field names, nesting, ``null`` versus empty and the time format are
docker 20.10's (RFC 3339 with nanoseconds, ``0001-01-01T00:00:00Z`` for "never").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockernb.engine.image_types import HistoryItem, Image
from dockernb.spec.container import ContainerRecord
from dockernb.spec.ports import PortBinding
from dockernb.spec.status import ContainerState, ContainerStatus

__all__ = ["container_config", "container_inspect", "go_time", "history_item", "image_inspect", "image_summary"]

_ZERO_TIME = "0001-01-01T00:00:00Z"


def go_time(when: datetime | None) -> str:
    """Go's time.RFC3339Nano of a UTC time (trailing zeros of the fraction dropped)."""
    if when is None:
        return _ZERO_TIME
    when = when.astimezone(UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{when.microsecond:06d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def container_config(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """docker's container.Config as an image carries it: every field, docker's order and omitempty rules."""
    if raw is None:
        return None
    out: dict[str, Any] = {
        "Hostname": raw.get("Hostname", ""),
        "Domainname": raw.get("Domainname", ""),
        "User": raw.get("User", ""),
        "AttachStdin": bool(raw.get("AttachStdin", False)),
        "AttachStdout": bool(raw.get("AttachStdout", False)),
        "AttachStderr": bool(raw.get("AttachStderr", False)),
    }
    if raw.get("ExposedPorts"):
        out["ExposedPorts"] = raw["ExposedPorts"]
    out.update({
        "Tty": bool(raw.get("Tty", False)),
        "OpenStdin": bool(raw.get("OpenStdin", False)),
        "StdinOnce": bool(raw.get("StdinOnce", False)),
        "Env": raw.get("Env"),
        "Cmd": raw.get("Cmd"),
    })  # fmt: skip
    if raw.get("Healthcheck"):
        out["Healthcheck"] = raw["Healthcheck"]
    if raw.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    out.update({
        "Image": raw.get("Image", ""),
        "Volumes": raw.get("Volumes"),
        "WorkingDir": raw.get("WorkingDir", ""),
        "Entrypoint": raw.get("Entrypoint"),
    })  # fmt: skip
    if raw.get("NetworkDisabled"):
        out["NetworkDisabled"] = True
    if raw.get("MacAddress"):
        out["MacAddress"] = raw["MacAddress"]
    out["OnBuild"] = raw.get("OnBuild")
    out["Labels"] = raw.get("Labels")
    for key in ("StopSignal", "StopTimeout", "Shell"):
        if raw.get(key):
            out[key] = raw[key]
    return out


def image_inspect(image: Image, *, driver: str) -> dict[str, Any]:
    """``ImageInspect`` for one image."""
    raw = image.config.raw
    config = raw.get("config")
    cc = raw.get("container_config")
    out: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": list(image.tags),
        "RepoDigests": list(image.digests),
        "Parent": image.parent,
        "Comment": str(raw.get("comment", "")),
        "Created": go_time(image.created) if image.created else str(raw.get("created") or _ZERO_TIME),
        "Container": str(raw.get("container", "")),
        "ContainerConfig": container_config(cc if isinstance(cc, Mapping) else {}),
        "DockerVersion": str(raw.get("docker_version", "")),
        "Author": str(raw.get("author", "")),
        "Config": container_config(config if isinstance(config, Mapping) else None),
        "Architecture": image.config.architecture,
    }
    if image.config.variant:
        out["Variant"] = image.config.variant
    out["Os"] = image.config.os
    if image.config.os_version:
        out["OsVersion"] = image.config.os_version
    out.update({
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Data": {}, "Name": driver},
        "RootFS": {"Type": "layers", "Layers": list(image.diff_ids)},
        "Metadata": {"LastTagTime": go_time(image.last_tag_time)},
    })  # fmt: skip
    return out


def image_summary(image: Image, *, containers: int = -1) -> dict[str, Any]:
    """``ImageSummary`` (``GET /images/json``): dangling images carry docker's ``<none>`` names."""
    return {
        "Containers": containers,
        "Created": int(image.created.timestamp()) if image.created else 0,
        "Id": image.id,
        "Labels": dict(image.labels),  # docker 20.10 sends null for none; the spec (and docker-py) want an object
        "ParentId": image.parent,
        "RepoDigests": list(image.digests) or (["<none>@<none>"] if image.dangling else []),
        "RepoTags": list(image.tags) or (["<none>:<none>"] if image.dangling else []),
        "SharedSize": -1,
        "Size": image.size,
        "VirtualSize": image.size,
    }


def history_item(item: HistoryItem) -> dict[str, Any]:
    """``HistoryResponseItem`` (``GET /images/{name}/history``)."""
    return {
        "Comment": item.comment,
        "Created": int(item.created.timestamp()) if item.created else 0,
        "CreatedBy": item.created_by,
        "Id": item.id,
        "Size": item.size,
        "Tags": list(item.tags) or None,
    }


# --- containers --------------------------------------------------------------------------------


def _ports_map(bindings: Sequence[PortBinding], exposed: Sequence[str]) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed port, with its host bindings or null."""
    out: dict[str, Any] = {key: None for key in exposed}
    for b in bindings:
        out.setdefault(b.key, None)
        if out[b.key] is None:
            out[b.key] = []
        out[b.key].append({"HostIp": b.host_ip, "HostPort": str(b.host_port)})
    return out


def _port_bindings(record: ContainerRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for b in record.host_config.port_bindings:
        out.setdefault(f"{b.container_port}/{b.protocol}", []).append({"HostIp": b.host_ip, "HostPort": b.host_port})
    return out


def _mount_points(record: ContainerRecord, volumes: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    out = []
    for m in record.host_config.mounts:
        rw = not m.read_only
        if m.type == "volume":
            try:
                source = str(volumes.get(m.source).mountpoint)
            except Exception:  # noqa: BLE001 - a removed volume still shows in the record
                source = ""
            out.append({"Type": "volume", "Name": m.source, "Source": source, "Destination": m.target,
                        "Driver": "local", "Mode": "ro" if m.read_only else "z" if m.legacy else "", "RW": rw,
                        "Propagation": ""})
        elif m.type == "bind":
            out.append({"Type": "bind", "Source": m.source, "Destination": m.target,
                        "Mode": ",".join(p for p in m.legacy.split(":")[2:3] if p) if m.legacy else "",
                        "RW": rw, "Propagation": m.propagation or "rprivate"})
        else:
            out.append({"Type": "tmpfs", "Source": "", "Destination": m.target, "Mode": "", "RW": rw,
                        "Propagation": ""})
    return out


def _host_config(record: ContainerRecord, cid_file: str = "") -> dict[str, Any]:
    h = record.host_config
    r = h.resources
    binds = [m.legacy for m in h.mounts if m.legacy and not m.anonymous] or None
    mounts = [{"Type": m.type, "Source": m.source, "Target": m.target, **({"ReadOnly": True} if m.read_only else {})}
              for m in h.mounts if not m.legacy and m.type != "tmpfs" and not (m.anonymous and not m.legacy)]
    tmpfs = {m.target: ",".join(m.options) for m in h.mounts if m.type == "tmpfs" and not m.legacy}
    return {
        "Binds": binds,
        "ContainerIDFile": cid_file,
        "LogConfig": {"Type": h.log_config.type, "Config": dict(h.log_config.config)},
        "NetworkMode": h.network_mode,
        "PortBindings": _port_bindings(record),
        "RestartPolicy": {"Name": str(h.restart_policy.name),
                          "MaximumRetryCount": h.restart_policy.maximum_retry_count},
        "AutoRemove": h.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": list(h.cap_add) or None,
        "CapDrop": list(h.cap_drop) or None,
        "CgroupnsMode": "private",
        "Dns": list(h.dns),
        "DnsOptions": list(h.dns_options),
        "DnsSearch": list(h.dns_search),
        "ExtraHosts": list(h.extra_hosts) or None,
        "GroupAdd": list(h.group_add) or None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": h.oom_score_adj or 0,
        "PidMode": "",
        "Privileged": h.privileged,
        "PublishAllPorts": h.publish_all_ports,
        "ReadonlyRootfs": h.read_only,
        "SecurityOpt": list(h.security_opt) or None,
        **({"Tmpfs": tmpfs} if tmpfs else {}),
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": h.shm_size or 67108864,
        "Sysctls": dict(h.sysctls) or None,
        "Runtime": "runc",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": r.cpu_shares,
        "Memory": r.memory,
        "NanoCpus": r.nano_cpus,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None,
        "CpuPeriod": r.cpu_period,
        "CpuQuota": r.cpu_quota,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": r.cpuset_cpus,
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": r.memory_reservation,
        "MemorySwap": r.memory_swap,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": r.pids_limit or None,
        "Ulimits": [{"Name": u.name, "Hard": u.hard, "Soft": u.soft} for u in r.ulimits] or None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        **({"Mounts": mounts} if mounts else {}),
        "MaskedPaths": None if h.privileged else list(_MASKED),
        "ReadonlyPaths": None if h.privileged else list(_READONLY),
        "Init": h.init or None,
    }


_MASKED = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
           "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware")
_READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _config(record: ContainerRecord) -> dict[str, Any]:
    c = record.config
    out: dict[str, Any] = {
        "Hostname": c.hostname,
        "Domainname": c.domainname,
        "User": c.user,
        "AttachStdin": c.attach_stdin,
        "AttachStdout": c.attach_stdout,
        "AttachStderr": c.attach_stderr,
    }
    if c.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in c.exposed_ports}
    out.update({
        "Tty": c.tty,
        "OpenStdin": c.open_stdin,
        "StdinOnce": c.stdin_once,
        "Env": list(c.env),
        "Cmd": list(c.cmd) if c.cmd else None,
        "Image": c.image,
        "Volumes": {v: {} for v in c.volumes} or None,
        "WorkingDir": c.working_dir,
        "Entrypoint": list(c.entrypoint) if c.entrypoint else None,
        "OnBuild": None,
        "Labels": dict(c.labels),
    })  # fmt: skip
    if c.stop_signal:
        out["StopSignal"] = c.stop_signal
    if c.stop_timeout is not None:
        out["StopTimeout"] = c.stop_timeout
    return out


def _network_settings(
    record: ContainerRecord, state: ContainerState, ports: Sequence[PortBinding], networks: Sequence[tuple[Any, Any]],
    sandbox_key: str,
) -> dict[str, Any]:
    nets: dict[str, Any] = {}
    for net, ep in networks:
        nets[net.name] = {
            "IPAMConfig": None,
            "Links": None,
            "Aliases": (list(ep.aliases) or None) if ep is not None else None,
            "NetworkID": net.id,
            "EndpointID": ep.endpoint_id if ep is not None else "",
            "Gateway": ep.gateway if ep is not None else "",
            "IPAddress": ep.ip if ep is not None else "",
            "IPPrefixLen": ep.prefix if ep is not None else 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "MacAddress": ep.mac if ep is not None else "",
            "DriverOpts": None,
        }
    if not nets:
        # a stopped container keeps the names of its networks, without addresses (as docker shows it)
        mode = record.host_config.network_mode
        name = "bridge" if mode in ("", "default") else mode
        if not name.startswith("container:"):
            nets[name] = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "",
                          "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                          "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None}
    bridge = nets.get("bridge", {})
    running = state.status in (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
    return {
        "Bridge": "",
        "SandboxID": record.id if running else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": _ports_map(ports, record.config.exposed_ports) if running else {},
        "SandboxKey": sandbox_key if running else "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": bridge.get("EndpointID", ""),
        "Gateway": bridge.get("Gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.get("IPAddress", ""),
        "IPPrefixLen": bridge.get("IPPrefixLen", 0),
        "IPv6Gateway": "",
        "MacAddress": bridge.get("MacAddress", ""),
        "Networks": nets,
    }


def container_inspect(
    container: Any,  # noqa: ANN401 - engine.containers.Container (kept loose: this module is imported early)
    *,
    layout_dir: Path,
    networks: Sequence[tuple[Any, Any]] = (),
    driver: str = "",
    volumes: Any = None,  # noqa: ANN401 - the volume store, for mount sources
) -> dict[str, Any]:
    """``ContainerInspectResponse`` for one container (``docker inspect``, ``GET /containers/{id}/json``)."""
    record: ContainerRecord = container.record
    state: ContainerState = container.state
    s = state.status
    pid = state.pid if s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED) else 0
    return {
        "Id": record.id,
        "Created": go_time(record.created),
        "Path": record.path,
        "Args": list(record.args),
        "State": {
            "Status": str(s),
            "Running": s in (ContainerStatus.RUNNING, ContainerStatus.PAUSED),
            "Paused": s is ContainerStatus.PAUSED,
            "Restarting": s is ContainerStatus.RESTARTING,
            "OOMKilled": state.oom_killed,
            "Dead": s is ContainerStatus.DEAD,
            "Pid": pid,
            "ExitCode": state.exit_code,
            "Error": state.error,
            "StartedAt": go_time(state.started_at),
            "FinishedAt": go_time(state.finished_at),
        },
        "Image": record.image_id,
        "ResolvConfPath": str(layout_dir / "resolv.conf"),
        "HostnamePath": str(layout_dir / "hostname"),
        "HostsPath": str(layout_dir / "hosts"),
        "LogPath": str(layout_dir / f"{record.id}-json.log") if record.host_config.log_config.type != "none" else "",
        "Name": "/" + record.name,
        "RestartCount": state.restart_count,
        "Driver": driver or record.driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(record),
        "GraphDriver": {"Data": None, "Name": driver or record.driver},
        "Mounts": _mount_points(record, volumes),
        "Config": _config(record),
        "NetworkSettings": _network_settings(record, state, container.ports, networks,
                                             f"/proc/{pid}/ns/net" if pid else ""),
    }
