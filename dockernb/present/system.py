"""How `version` and `info` look: docker's layout, plus dockernb's probe lines (layer L7)."""

from __future__ import annotations

from typing import Any, Protocol

from dockernb.engine import SystemInfo, VersionInfo
from dockernb.present.gotemplate import Struct, TemplateError, render
from dockernb.present.units import human_size_binary

__all__ = ["info_data", "info_text", "render_format", "version_data", "version_text"]


class _Out(Protocol):
    def print(self, text: str = "") -> None: ...
    def eprint(self, text: str) -> None: ...


def render_format(ctx: _Out, fmt: str, data: Any) -> int:
    """Print one rendering of a --format template, or the template error (exit 1)."""
    try:
        ctx.print(render(fmt, data))
    except TemplateError as err:
        ctx.eprint(str(err))
        return 1
    return 0


def version_data(v: VersionInfo) -> Struct:
    client = Struct(
        "client.Version",
        {"Version": v.version, "APIVersion": v.api_version, "Os": v.os, "Arch": v.arch, "GoVersion": v.python},
    )
    server = Struct(
        "types.Version",
        {
            "Version": v.version,
            "APIVersion": v.api_version,
            "MinAPIVersion": v.min_api_version,
            "Os": v.os,
            "Arch": v.arch,
            "KernelVersion": v.kernel,
            "GoVersion": v.python,
        },
    )
    return Struct("formatter.VersionInfo", {"Client": client, "Server": server})


def version_text(v: VersionInfo) -> str:
    return (
        "Client:\n"
        f" Version:           {v.version}\n"
        f" API version:       {v.api_version}\n"
        f" Python version:    {v.python}\n"
        f" OS/Arch:           {v.os}/{v.arch}\n"
        " Context:           default\n"
        "\n"
        "Server:\n"
        " Engine:\n"
        f"  Version:          {v.version} (dockernb, docker {v.docker_compat} compatible)\n"
        f"  API version:      {v.api_version} (minimum version {v.min_api_version})\n"
        f"  Python version:   {v.python}\n"
        f"  OS/Arch:          {v.os}/{v.arch}\n"
        f"  Kernel Version:   {v.kernel}\n"
        "  Experimental:     false\n"
    )


def info_data(i: SystemInfo) -> Struct:
    return Struct(
        "types.Info",
        {
            "Containers": i.containers,
            "ContainersRunning": i.running,
            "ContainersPaused": i.paused,
            "ContainersStopped": i.stopped,
            "Images": i.images,
            "Driver": i.storage_driver,
            "DockerRootDir": str(i.root),
            "CgroupDriver": i.cgroup_driver,
            "CgroupVersion": i.cgroup_version,
            "KernelVersion": i.kernel,
            "OperatingSystem": i.operating_system,
            "OSType": "linux",
            "Architecture": i.arch,
            "NCPU": i.cpus,
            "MemTotal": i.memory,
            "Name": i.hostname,
            "ServerVersion": "",
            "Rootless": i.rootless,
            "RegistryConfig": {
                "Mirrors": list(i.registry_mirrors),
                "InsecureRegistryCIDRs": list(i.insecure_registries),
            },
            "Features": {f.name: {"Available": f.available, "Detail": f.detail, "Probe": f.check} for f in i.features},
        },
    )


def info_text(i: SystemInfo) -> str:
    lines = [
        "Client:",
        " Context:    default",
        " Debug Mode: false",
        "",
        "Server:",
        f" Containers: {i.containers}",
        f"  Running: {i.running}",
        f"  Paused: {i.paused}",
        f"  Stopped: {i.stopped}",
        f" Images: {i.images}",
        f" Storage Driver: {i.storage_driver}",
        f"  Why: {i.storage_reason}",
        " Logging Driver: json-file",
        f" Cgroup Driver: {i.cgroup_driver}",
        f" Cgroup Version: {i.cgroup_version}",
        f" Rootless: {'true' if i.rootless else 'false'}",
        f" Kernel Version: {i.kernel}",
        f" Operating System: {i.operating_system}",
        " OSType: linux",
        f" Architecture: {i.arch}",
        f" CPUs: {i.cpus}",
        f" Total Memory: {human_size_binary(i.memory)}",
        f" Name: {i.hostname}",
        f" Docker Root Dir: {i.root}",
        " Registry Mirrors:",
        *[f"  {m}/" for m in i.registry_mirrors],
        " Insecure Registries:",
        *[f"  {r}" for r in i.insecure_registries],
        "  127.0.0.0/8",
        " Isolation features (probe behind each):",
    ]
    for f in i.features:
        mark = "yes" if f.available else "no"
        lines.append(f"  {f.name}: {mark} - {f.detail}")
        lines.append(f"    probe: {f.check}")
    lines.extend(f"WARNING: {w}" for w in i.warnings)
    return "\n".join(lines) + "\n\n"
