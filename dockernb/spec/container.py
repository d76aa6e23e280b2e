"""What a user asked for when creating a container, and the record kept for it (layer L0).

``ContainerConfig`` and ``HostConfig`` mirror docker's ``Config`` and ``HostConfig`` (snake_case,
the same meanings): they are what ``run``/``create`` flags produce and never change after
create (except ``name`` via rename). ``ContainerRecord`` is the persisted intent
(``config.json``); the mutable status lives in :class:`dockernb.spec.status.ContainerState`.
``ContainerSummary`` is one row of ``ps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dockernb.errors import InvalidArgument
from dockernb.spec.ports import PortBinding as BoundPort
from dockernb.spec.status import ContainerState

__all__ = [
    "ContainerConfig",
    "ContainerRecord",
    "ContainerSummary",
    "HostConfig",
    "LogConfig",
    "MountSpec",
    "PortBinding",
    "Resources",
    "RestartPolicy",
    "RestartPolicyName",
    "Ulimit",
    "command_line",
]


class RestartPolicyName(StrEnum):
    NO = "no"
    ALWAYS = "always"
    UNLESS_STOPPED = "unless-stopped"
    ON_FAILURE = "on-failure"


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    """``--restart``: docker's policy name and, for on-failure, the retry limit (0 = unlimited)."""

    name: RestartPolicyName = RestartPolicyName.NO
    maximum_retry_count: int = 0

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        """Parse ``no``, ``always``, ``unless-stopped``, ``on-failure[:N]`` with docker's errors."""
        if text == "":
            return cls()
        parts = text.split(":")
        if len(parts) > 2:
            raise InvalidArgument("invalid restart policy format")
        count = 0
        if len(parts) == 2:
            try:
                count = int(parts[1])
            except ValueError:
                raise InvalidArgument("maximum retry count must be an integer") from None
        try:
            name = RestartPolicyName(parts[0])
        except ValueError:
            raise InvalidArgument(f"invalid restart policy '{parts[0]}'") from None
        if count and name is not RestartPolicyName.ON_FAILURE:
            raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
        if count < 0:
            raise InvalidArgument("maximum retry count cannot be negative")
        return cls(name=name, maximum_retry_count=count)

    def __str__(self) -> str:
        if self.name is RestartPolicyName.ON_FAILURE and self.maximum_retry_count:
            return f"{self.name}:{self.maximum_retry_count}"
        return str(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """``--log-driver`` / ``--log-opt``: docker's LogConfig (validated by ``dockernb.logs.options``)."""

    type: str = "json-file"
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortBinding:
    """One ``-p`` mapping: container port/proto to a host ip:port (empty host_port = any free one)."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MountSpec:
    """A ``-v``/``--mount``/``--tmpfs`` request, in docker's mount.Mount terms."""

    type: str  # bind | volume | tmpfs
    target: str
    source: str = ""
    read_only: bool = False
    propagation: str = ""
    options: tuple[str, ...] = ()
    #: the ``-v`` text it came from (docker's HostConfig.Binds entry); "" for --mount/--tmpfs.
    #: A ``-v`` bind creates its missing host directory, a ``--mount`` bind refuses it (docker's rules)
    legacy: str = ""
    #: a volume made for this container alone (``-v /data``, an image's VOLUME): ``rm -v`` removes it
    anonymous: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """The resource flags (0 = unset, as in docker)."""

    memory: int = 0  # bytes
    memory_swap: int = 0
    nano_cpus: int = 0  # --cpus * 1e9
    cpu_shares: int = 0
    pids_limit: int = 0
    ulimits: tuple[Ulimit, ...] = ()
    cpuset_cpus: str = ""
    cpu_period: int = 0
    cpu_quota: int = 0
    memory_reservation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerConfig:
    """docker's container Config: what runs and how (image, command, env, tty...)."""

    image: str  # what the user typed ("busybox"), shown by ps
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    tty: bool = False
    open_stdin: bool = False  # -i
    stdin_once: bool = False  # close the container's stdin when the attached client closes it
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    volumes: tuple[str, ...] = ()  # anonymous volume targets from the image or -v /path
    stop_signal: str = ""  # "" = the image's STOPSIGNAL or SIGTERM
    stop_timeout: int | None = None  # seconds; None = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class HostConfig:
    """docker's HostConfig: how the host treats the container (restart, logs, mounts, limits...)."""

    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False  # --rm
    log_config: LogConfig = field(default_factory=LogConfig)
    network_mode: str = "default"
    port_bindings: tuple[PortBinding, ...] = ()
    publish_all_ports: bool = False
    mounts: tuple[MountSpec, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False
    init: bool = False
    security_opt: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    extra_hosts: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    #: --network-alias and --ip on the primary network
    network_aliases: tuple[str, ...] = ()
    ipv4_address: str = ""
    group_add: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    shm_size: int = 0  # bytes; 0 = docker's 64 MB
    oom_score_adj: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRecord:
    """The persisted intent of one container (``config.json``); only rename changes it."""

    schema_version: int = 1
    id: str  # 64 hex
    name: str  # without docker's leading "/"
    created: datetime  # aware UTC
    config: ContainerConfig
    host_config: HostConfig = field(default_factory=HostConfig)
    image_id: str = ""  # sha256:... of the image config
    #: the resolved command: docker's Path and Args (entrypoint + cmd after the image's defaults)
    path: str = ""
    args: tuple[str, ...] = ()
    driver: str = ""  # storage driver of the rootfs snapshot
    #: facts other layers keep with the record (snapshot key, network ids...), free-form
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]


def command_line(path: str, args: tuple[str, ...] | list[str]) -> str:
    """docker's ps ``Command``: the path, then args with a space quoted in single quotes."""
    if not args:
        return path
    shown = [f"'{a}'" if " " in a else a for a in args]
    return f"{path} {' '.join(shown)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerSummary:
    """One container as ``ps`` lists it: record, current state, and sizes when asked (-s)."""

    record: ContainerRecord
    state: ContainerState
    size_rw: int | None = None
    size_root_fs: int | None = None
    #: ports as docker's ps prints them, e.g. "127.0.0.1:8080->80/tcp" (filled by the network layer)
    ports: tuple[str, ...] = ()
    #: the live host bindings and the exposed ports, which ``present`` renders into the PORTS column
    bindings: tuple[BoundPort, ...] = ()
    exposed: tuple[tuple[int, str], ...] = ()
    networks: tuple[str, ...] = ()
    #: mount names (volume names, or bind sources) for {{.Mounts}}; local_volumes counts volumes
    mounts: tuple[str, ...] = ()
    local_volumes: int = 0
