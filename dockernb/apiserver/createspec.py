"""The Engine API's container JSON <-> the engine's create spec and list rows (layer L8).

:func:`create_spec` reads a ``POST /containers/create`` body (docker's ``Config`` with
``HostConfig`` and ``NetworkingConfig`` inside) into :class:`ContainerConfig` + :class:`HostConfig`,
checking types as dockerd's JSON decoder does (a wrong type is a 400, never a 500).
:func:`summary_json` is one ``ContainerSummary`` of ``GET /containers/json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockernb.errors import InvalidMountSpec, InvalidRequest
from dockernb.spec.container import (
    ContainerConfig,
    ContainerSummary,
    HostConfig,
    LogConfig,
    MountSpec,
    PortBinding,
    Resources,
    RestartPolicy,
    RestartPolicyName,
    Ulimit,
    command_line,
)
from dockernb.spec.mountspec import parse_tmpfs, parse_volume

__all__ = ["create_spec", "go_bool", "go_str", "summary_json"]


def _obj(data: Any, what: str) -> Mapping[str, Any]:  # noqa: ANN401 - decoded JSON
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest(f"json: cannot unmarshal {type(data).__name__} into Go value of type {what}")
    return data


def go_str(data: Mapping[str, Any], key: str) -> str:
    """``data[key]`` as a Go string field: absent or null is "", another type is Go's unmarshal error."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"json: cannot unmarshal {type(value).__name__} into Go struct field {key} of type string")
    return value


def go_bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """``data[key]`` as a Go bool field: absent or null is ``default``, another type is Go's unmarshal error."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"json: cannot unmarshal {type(value).__name__} into Go struct field {key} of type bool")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"json: cannot unmarshal {type(value).__name__} into Go struct field {key} of type int64")
    return value


def _strs(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """A string list (docker's StrSlice also takes one string); None when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"json: cannot unmarshal {key}: want a list of strings")
    return tuple(value)


def _str_map(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = _obj(data.get(key), f"map[string]string ({key})")
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest(f"json: cannot unmarshal {key}: want an object of strings")
    return dict(value)


def _keys(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(_obj(data.get(key), f"map[string]struct {{}} ({key})"))


def _port_bindings(host: Mapping[str, Any]) -> tuple[PortBinding, ...]:
    out = []
    for key, bindings in _obj(host.get("PortBindings"), "nat.PortMap").items():
        port, _, proto = key.partition("/")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidRequest(f"invalid port specification: {key!r}")
        if bindings is None:
            bindings = [{}]
        if not isinstance(bindings, list):
            raise InvalidRequest(f"invalid port bindings for {key!r}: want a list")
        for b in bindings:
            b = _obj(b, "nat.PortBinding")
            host_port = go_str(b, "HostPort")
            first = host_port.partition("-")[0]
            if host_port and (not first.isdigit() or int(first) > 65535):
                raise InvalidRequest(f"invalid port specification: {host_port!r}")
            out.append(PortBinding(container_port=int(port), protocol=proto or "tcp", host_ip=go_str(b, "HostIp"),
                                   host_port=host_port))
    return tuple(out)


def _mounts(host: Mapping[str, Any]) -> tuple[MountSpec, ...]:
    out: list[MountSpec] = [parse_volume(b) for b in _strs(host, "Binds") or ()]
    raw_mounts = host.get("Mounts") or []
    if not isinstance(raw_mounts, list):
        raise InvalidRequest("json: cannot unmarshal Mounts: want a list")
    for raw in raw_mounts:
        m = _obj(raw, "mount.Mount")
        kind, src, dst = go_str(m, "Type") or "volume", go_str(m, "Source"), go_str(m, "Target")
        bind = _obj(m.get("BindOptions"), "mount.BindOptions")
        tmpfs = _obj(m.get("TmpfsOptions"), "mount.TmpfsOptions")
        if kind not in ("bind", "volume", "tmpfs"):
            raise InvalidMountSpec(f"invalid mount config: mount type unknown: {kind!r}")
        if not dst:
            raise InvalidMountSpec(f'invalid mount config for type "{kind}": field Target must not be empty')
        if not dst.startswith("/"):
            raise InvalidMountSpec(f"invalid mount config for type \"{kind}\": invalid mount path: '{dst}' "
                                   "mount path must be absolute")
        if kind == "bind" and not src.startswith("/"):
            raise InvalidMountSpec('invalid mount config for type "bind": field Source must not be empty'
                                   if not src else f"invalid mount config for type \"bind\": invalid mount path: "
                                   f"'{src}' mount path must be absolute")
        if kind == "tmpfs" and src:
            raise InvalidMountSpec('invalid mount config for type "tmpfs": field Source must not be specified')
        options: list[str] = []
        if tmpfs.get("SizeBytes"):
            options.append(f"size={_int(tmpfs, 'SizeBytes')}")
        if tmpfs.get("Mode"):
            options.append(f"mode={_int(tmpfs, 'Mode'):o}")
        out.append(MountSpec(type=kind, target=dst, source=src, read_only=go_bool(m, "ReadOnly"),
                             propagation=go_str(bind, "Propagation"), options=tuple(options),
                             anonymous=kind == "volume" and not src))
    for target, opts in _str_map(host, "Tmpfs").items():
        out.append(parse_tmpfs(f"{target}:{opts}" if opts else target))
    return tuple(out)


def _restart(host: Mapping[str, Any]) -> RestartPolicy:
    policy = _obj(host.get("RestartPolicy"), "container.RestartPolicy")
    name = go_str(policy, "Name")
    count = _int(policy, "MaximumRetryCount")
    if not name:
        return RestartPolicy()
    try:
        kind = RestartPolicyName(name)
    except ValueError:
        raise InvalidRequest(f"invalid restart policy '{name}'") from None
    if count and kind is not RestartPolicyName.ON_FAILURE:
        raise InvalidRequest(f"maximum retry count cannot be used with restart policy '{name}'")
    if count < 0:
        raise InvalidRequest("maximum retry count cannot be negative")
    return RestartPolicy(name=kind, maximum_retry_count=count)


def _ulimits(host: Mapping[str, Any]) -> tuple[Ulimit, ...]:
    raw = host.get("Ulimits") or []
    if not isinstance(raw, list):
        raise InvalidRequest("json: cannot unmarshal Ulimits: want a list")
    out = []
    for item in raw:
        u = _obj(item, "units.Ulimit")
        out.append(Ulimit(name=go_str(u, "Name"), soft=_int(u, "Soft"), hard=_int(u, "Hard")))
    return tuple(out)


def create_spec(body: Any) -> tuple[ContainerConfig, HostConfig]:  # noqa: ANN401 - decoded JSON
    """``POST /containers/create``'s body -> the engine's create spec. Raises InvalidRequest, InvalidMountSpec."""
    c = _obj(body, "container.Config")
    host = _obj(c.get("HostConfig"), "container.HostConfig")
    networking = _obj(c.get("NetworkingConfig"), "network.NetworkingConfig")
    image = go_str(c, "Image")
    if not image:
        raise InvalidRequest("No image specified: the config's Image is empty")
    stop_timeout = c.get("StopTimeout")
    if stop_timeout is not None and (isinstance(stop_timeout, bool) or not isinstance(stop_timeout, int)):
        raise InvalidRequest("json: cannot unmarshal StopTimeout: want an integer")
    config = ContainerConfig(
        image=image, cmd=_strs(c, "Cmd") or (), entrypoint=_strs(c, "Entrypoint"), env=_strs(c, "Env") or (),
        working_dir=go_str(c, "WorkingDir"), user=go_str(c, "User"), hostname=go_str(c, "Hostname"),
        domainname=go_str(c, "Domainname"), labels=_str_map(c, "Labels"), tty=go_bool(c, "Tty"),
        open_stdin=go_bool(c, "OpenStdin"), stdin_once=go_bool(c, "StdinOnce"), attach_stdin=go_bool(c, "AttachStdin"),
        attach_stdout=go_bool(c, "AttachStdout"), attach_stderr=go_bool(c, "AttachStderr"),
        exposed_ports=tuple(k if "/" in k else f"{k}/tcp" for k in _keys(c, "ExposedPorts")),
        volumes=_keys(c, "Volumes"), stop_signal=go_str(c, "StopSignal"), stop_timeout=stop_timeout,
    )  # fmt: skip
    log_config = _obj(host.get("LogConfig"), "container.LogConfig")
    resources = Resources(
        memory=_int(host, "Memory"), memory_swap=_int(host, "MemorySwap"),
        memory_reservation=_int(host, "MemoryReservation"), nano_cpus=_int(host, "NanoCpus"),
        cpu_shares=_int(host, "CpuShares"), cpu_period=_int(host, "CpuPeriod"), cpu_quota=_int(host, "CpuQuota"),
        cpuset_cpus=go_str(host, "CpusetCpus"), pids_limit=max(_int(host, "PidsLimit"), 0), ulimits=_ulimits(host),
    )  # fmt: skip
    aliases: tuple[str, ...] = ()
    ipv4 = ""
    endpoints = _obj(networking.get("EndpointsConfig"), "map[string]*network.EndpointSettings")
    mode = go_str(host, "NetworkMode") or "default"
    for net_name, raw in endpoints.items():
        if net_name != mode and mode != "default":
            continue
        ep = _obj(raw, "network.EndpointSettings")
        aliases = _strs(ep, "Aliases") or ()
        ipv4 = go_str(_obj(ep.get("IPAMConfig"), "network.EndpointIPAMConfig"), "IPv4Address")
    oom = host.get("OomScoreAdj")
    host_config = HostConfig(
        restart_policy=_restart(host), auto_remove=go_bool(host, "AutoRemove"),
        log_config=LogConfig(type=go_str(log_config, "Type") or "json-file", config=_str_map(log_config, "Config")),
        network_mode=mode, port_bindings=_port_bindings(host), publish_all_ports=go_bool(host, "PublishAllPorts"),
        mounts=_mounts(host), cap_add=_strs(host, "CapAdd") or (), cap_drop=_strs(host, "CapDrop") or (),
        privileged=go_bool(host, "Privileged"), read_only=go_bool(host, "ReadonlyRootfs"), init=go_bool(host, "Init"),
        security_opt=_strs(host, "SecurityOpt") or (), resources=resources,
        extra_hosts=_strs(host, "ExtraHosts") or (), dns=_strs(host, "Dns") or (),
        dns_search=_strs(host, "DnsSearch") or (), dns_options=_strs(host, "DnsOptions") or (),
        network_aliases=aliases, ipv4_address=ipv4, group_add=_strs(host, "GroupAdd") or (),
        sysctls=_str_map(host, "Sysctls"), shm_size=_int(host, "ShmSize"),
        oom_score_adj=_int(host, "OomScoreAdj") if oom else None,
    )  # fmt: skip
    if host_config.auto_remove and host_config.restart_policy.name is not RestartPolicyName.NO:
        raise InvalidRequest("can't create 'AutoRemove' container with restart policy")
    return config, host_config


def summary_json(item: ContainerSummary) -> dict[str, Any]:
    """One ``ContainerSummary`` (``GET /containers/json``), as dockerd 20.10 fills it."""
    rec, state = item.record, item.state
    from dockernb.present.containers import status_text

    ports: list[dict[str, Any]] = []
    bound = set()
    for b in item.bindings:
        ports.append({"IP": b.host_ip, "PrivatePort": b.container_port, "PublicPort": b.host_port, "Type": b.proto})
        bound.add((b.container_port, b.proto))
    for port, proto in item.exposed:
        if (port, proto) not in bound:
            ports.append({"PrivatePort": port, "Type": proto})
    mode = rec.host_config.network_mode
    out: dict[str, Any] = {
        "Id": rec.id,
        "Names": ["/" + rec.name],
        "Image": rec.config.image,
        "ImageID": rec.image_id,
        "Command": command_line(rec.path, rec.args),
        "Created": int(rec.created.timestamp()),
        "Ports": ports,
        "Labels": dict(rec.config.labels),
        "State": str(state.status),
        "Status": status_text(state),
        "HostConfig": {"NetworkMode": "default" if mode in ("", "default") else mode},
        "NetworkSettings": {"Networks": {name: {"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                                                "IPPrefixLen": 0, "MacAddress": ""}
                                         for name in item.networks}},
        "Mounts": [_summary_mount(m) for m in rec.host_config.mounts],
    }
    if item.size_rw is not None:
        out["SizeRw"] = item.size_rw
        out["SizeRootFs"] = item.size_root_fs or 0
    return out


def _summary_mount(m: MountSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": m.type}
    if m.type == "volume":
        out["Name"] = m.source
    out.update({"Source": m.source if m.type == "bind" else "", "Destination": m.target,
                "Mode": "", "RW": not m.read_only, "Propagation": m.propagation if m.type == "bind" else ""})
    return out

