"""System-wide verbs: version, info and events (layer L6)."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockernb._version import API_VERSION, DOCKER_COMPAT, MIN_API_VERSION, __version__
from dockernb.config import Config
from dockernb.linux import probe
from dockernb.network.probe import network_probes
from dockernb.spec.events import Event

__all__ = ["Feature", "SystemInfo", "SystemService", "VersionInfo"]


@dataclass(frozen=True, slots=True)
class Feature:
    """One isolation feature and the probe that decided it (for `info`)."""

    name: str
    available: bool
    detail: str
    check: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionInfo:
    version: str
    api_version: str
    min_api_version: str
    docker_compat: str
    python: str
    os: str
    arch: str
    kernel: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    root: Path
    root_source: str
    rootless: bool
    storage_driver: str
    storage_reason: str
    cgroup_driver: str
    cgroup_version: str
    kernel: str
    operating_system: str
    arch: str
    cpus: int
    memory: int
    hostname: str
    registry_mirrors: tuple[str, ...]
    insecure_registries: tuple[str, ...]
    features: tuple[Feature, ...] = ()
    containers: int = 0
    running: int = 0
    paused: int = 0
    stopped: int = 0
    images: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


class SystemService:
    """`dockernb version` and `dockernb info`."""

    def __init__(self, config: Config) -> None:
        self._config = config
        #: the engine's object counts for ``info`` (containers, running, paused, stopped, images)
        self.counters: Callable[[], Mapping[str, int]] | None = None

    def version(self) -> VersionInfo:
        """Like `docker version` (the engine half)."""
        return VersionInfo(
            version=__version__,
            api_version=API_VERSION,
            min_api_version=MIN_API_VERSION,
            docker_compat=DOCKER_COMPAT,
            python=platform.python_version(),
            os="linux",
            arch=_arch(),
            kernel=platform.release(),
        )

    def events(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> Iterator[Event]:
        """Like ``docker events``: the root's events as :class:`~dockernb.spec.events.Event` records.

        ``since``/``until`` are ns since the epoch. Without ``until`` it follows the log for ever
        (close the iterator to stop); see :func:`dockernb.engine.events.follow` for the rules.
        Raises InvalidArgument (``since`` after ``until``), InvalidFilter (``Invalid filter 'x'``).
        """
        from dockernb.engine.events import follow
        from dockernb.store.events import EventLog
        from dockernb.store.layout import Layout

        return follow(EventLog(Layout(self._config.root)), since=since, until=until, filters=filters)

    def event_feed(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> Iterator[Event | None]:
        """:meth:`events` with a ``None`` after each idle second (the API server's ``/events``
        checks its client then). Raises as :meth:`events` does, at the call."""
        from dockernb.engine.events import follow_idle
        from dockernb.store.events import EventLog
        from dockernb.store.layout import Layout

        return follow_idle(EventLog(Layout(self._config.root)), since=since, until=until, filters=filters)

    def storage_driver(self, probes: dict[str, probe.Probe]) -> tuple[str, str]:
        """The snapshotter this engine would use here, and why."""
        if os.geteuid() == 0 and probes["overlay"].ok:
            return "overlay2", "kernel overlayfs (root)"
        if probes["overlay in user namespaces"].ok:
            return "overlay2", "kernel overlayfs inside the user namespace (userxattr)"
        if probes["fuse-overlayfs"].ok:
            return "fuse-overlayfs", "kernel overlay unavailable in the user namespace; fuse-overlayfs found"
        return "vfs", "no overlay available: layers are copied"

    def info(self) -> SystemInfo:
        """Like `docker info`, plus the probes behind each isolation feature."""
        results = probe.run_all()
        by_name = {p.name: p for p in results}
        results += network_probes(self._config)
        driver, reason = self.storage_driver(by_name)
        layout = probe.cgroup_layout()
        counts = dict(self.counters()) if self.counters is not None else {}
        return SystemInfo(
            root=self._config.root,
            root_source=self._config.sources.get("root", "default"),
            rootless=self._config.rootless,
            storage_driver=driver,
            storage_reason=reason,
            cgroup_driver=layout.driver,
            cgroup_version=layout.version,
            kernel=platform.release(),
            operating_system=_os_name(),
            arch=platform.machine(),
            cpus=os.cpu_count() or 1,
            memory=_mem_total(),
            hostname=socket.gethostname(),
            registry_mirrors=self._config.registry_mirrors,
            insecure_registries=self._config.insecure_registries,
            features=tuple(Feature(p.name, p.ok, p.detail, p.check) for p in results),
            containers=counts.get("containers", 0),
            running=counts.get("running", 0),
            paused=counts.get("paused", 0),
            stopped=counts.get("stopped", 0),
            images=counts.get("images", 0),
        )
