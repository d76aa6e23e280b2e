"""System routes: ``/_ping``, ``/version``, ``/info``, ``/events`` (layer L8).

The wire shapes follow ``SystemVersion`` and ``SystemInfo`` in the v1.41 spec, filled from
``engine.system``. The ping headers are dockerd's, minus ``Builder-Version``: dockernb has the
classic builder only, and advertising BuildKit would make the docker CLI try a gRPC session.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dockernb.apiserver.events import parse_timestamp
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, StreamResponse, json_response, text_response
from dockernb.apiserver.router import Router
from dockernb.apiserver.streams import json_lines
from dockernb.engine import SystemInfo, VersionInfo
from dockernb.engine.events import message
from dockernb.spec.events import Event

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["info_json", "register", "version_json"]

_PING_HEADERS = [("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")]


def version_json(v: VersionInfo) -> dict[str, Any]:
    go_version = f"python{v.python}"
    details = {
        "ApiVersion": v.api_version,
        "Arch": v.arch,
        "Experimental": "false",
        "GoVersion": go_version,
        "KernelVersion": v.kernel,
        "MinAPIVersion": v.min_api_version,
        "Os": v.os,
        "DockerCompatibility": v.docker_compat,
    }
    return {
        "Platform": {"Name": f"dockernb {v.version} (Docker Engine {v.docker_compat} compatible)"},
        "Components": [{"Name": "Engine", "Version": v.version, "Details": details}],
        "Version": v.version,
        "ApiVersion": v.api_version,
        "MinAPIVersion": v.min_api_version,
        "GitCommit": "",
        "GoVersion": go_version,
        "Os": v.os,
        "Arch": v.arch,
        "KernelVersion": v.kernel,
    }


def _rfc3339_nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def _os_version(pretty: str) -> str:
    # "Debian GNU/Linux 12 (bookworm)" -> "12", as dockerd reads VERSION_ID
    for word in pretty.split():
        if word[:1].isdigit():
            return word
    return ""


def info_json(i: SystemInfo, *, version: str, listeners: int) -> dict[str, Any]:
    features = {f.name: f.available for f in i.features}
    index_configs: dict[str, Any] = {
        "docker.io": {"Name": "docker.io", "Mirrors": [m + "/" for m in i.registry_mirrors],
                      "Secure": True, "Official": True},
    }
    for reg in i.insecure_registries:
        if "/" not in reg:  # host[:port]; CIDRs go to InsecureRegistryCIDRs
            index_configs[reg] = {"Name": reg, "Mirrors": [], "Secure": False, "Official": False}
    cidrs = ["127.0.0.0/8", *(r for r in i.insecure_registries if "/" in r)]
    security = []
    if features.get("seccomp"):
        security.append("name=seccomp,profile=default")
    if i.rootless:
        security.append("name=rootless")
    cgroups = i.cgroup_version != "none"
    return {
        "ID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dockernb://{i.hostname}{i.root}")).upper(),
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": i.storage_driver,
        "DriverStatus": [["Why", i.storage_reason]],
        "DockerRootDir": str(i.root),
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": [],
                    "Log": ["json-file"]},
        "MemoryLimit": cgroups,
        "SwapLimit": cgroups,
        "KernelMemory": False,
        "KernelMemoryTCP": False,
        "CpuCfsPeriod": cgroups,
        "CpuCfsQuota": cgroups,
        "CPUShares": cgroups,
        "CPUSet": cgroups,
        "PidsLimit": cgroups,
        "OomKillDisable": False,
        "IPv4Forwarding": True,
        "BridgeNfIptables": False,
        "BridgeNfIp6tables": False,
        "Debug": False,
        "NFd": 0,
        "NGoroutines": 0,
        "SystemTime": _rfc3339_nano(time.time_ns()),
        "LoggingDriver": "json-file",
        "CgroupDriver": i.cgroup_driver,
        "CgroupVersion": i.cgroup_version,
        "NEventsListener": listeners,
        "KernelVersion": i.kernel,
        "OperatingSystem": i.operating_system,
        "OSVersion": _os_version(i.operating_system),
        "OSType": "linux",
        "Architecture": i.arch,
        "NCPU": i.cpus,
        "MemTotal": i.memory,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": cidrs,
            "IndexConfigs": index_configs,
            "Mirrors": [m + "/" for m in i.registry_mirrors],
        },
        "GenericResources": [],
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": i.hostname,
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": version,
        "Runtimes": {"runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,  # containers belong to their monitors and outlive the server
        "Isolation": "default",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": security,
        "Warnings": list(i.warnings),
    }


def register(router: Router, app: App) -> None:
    engine, hub = app.engine, app.events

    def ping(req: Request) -> Response:
        return text_response("OK" if req.method == "GET" else "", headers=_PING_HEADERS)

    def version(req: Request) -> Response:
        return json_response(version_json(engine.system.version()))

    listening = [0]
    lock = threading.Lock()

    def listeners() -> int:
        with lock:
            return hub.listeners + listening[0]

    def info(req: Request) -> Response:
        data = engine.system.info()
        return json_response(info_json(data, version=engine.system.version().version, listeners=listeners()))

    def feed(items: Iterator[Event | None]) -> Iterator[dict[str, Any] | None]:
        with lock:
            listening[0] += 1
        try:
            for ev in items:  # None: idle, the server checks the client is still there
                yield None if ev is None else message(ev)
        finally:
            with lock:
                listening[0] -= 1
            items.close()  # type: ignore[attr-defined]  # a generator: its inotify watch and reader go now

    def events(req: Request) -> StreamResponse:
        # everything is checked before the 200 goes out (the engine's feed checks its arguments
        # when called); the engine's event log is what `docker events` reads too, so events made
        # by the CLI, a notebook or another server on this root all show here
        since = parse_timestamp("since", req.query_str("since"))
        until = parse_timestamp("until", req.query_str("until"))
        items = engine.system.event_feed(since=since, until=until, filters=req.filters())
        return StreamResponse(json_lines(feed(items)))

    router.add("GET", "/_ping", ping, name="SystemPing")
    router.add("HEAD", "/_ping", ping, name="SystemPingHead")
    router.add("GET", "/version", version, name="SystemVersion")
    router.add("GET", "/info", info, name="SystemInfo")
    router.add("GET", "/events", events, name="SystemEvents")
