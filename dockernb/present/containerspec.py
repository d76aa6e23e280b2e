"""``run``/``create`` flags -> ContainerConfig + HostConfig, with docker's client-side checks (layer L7).

What docker's CLI does before it asks the daemon (cli/command/container/opts.go ``parse``):
``-e``/``--env-file`` (a bare ``KEY`` takes the caller's value), ``-l``/``--label-file``, ``-p``
(``Invalid hostPort: 99999``), ``--expose``, ``-v``/``--mount``/``--tmpfs``, ``--restart`` with
``--rm`` (``Conflicting options: --restart and --rm``), ``--log-opt``, ``--sysctl``. A
:class:`ClientError` is printed as ``dockernb: <message>.`` + the help hint, exit 125.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockernb.errors import DockernbError, InvalidArgument, InvalidPortSpec
from dockernb.spec.container import (
    ContainerConfig,
    HostConfig,
    LogConfig,
    PortBinding,
    Resources,
    RestartPolicy,
    RestartPolicyName,
    Ulimit,
)
from dockernb.spec.mountspec import parse_mount, parse_tmpfs, parse_volume
from dockernb.spec.ports import parse_expose, parse_port_specs

__all__ = ["ClientError", "CreateRequest", "read_kv_file", "request_from_args"]


class ClientError(Exception):
    """A command line docker's CLI refuses before calling the daemon (exit 125 for run/create)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: a pflag error (``invalid argument ... flag``): printed without the program name
        self.usage = usage


@dataclass(frozen=True, slots=True)
class CreateRequest:
    config: ContainerConfig
    host_config: HostConfig
    name: str
    platform: str = ""
    pull: str = "missing"
    cidfile: str = ""


def read_kv_file(path: str) -> list[str]:
    """docker's env/label file: ``KEY=VALUE`` lines, ``#`` comments and blank lines skipped."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as err:
        raise ClientError(f"open {path}: {(err.strerror or str(err)).lower()}") from None
    out = []
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


def _env(items: Sequence[str], files: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    for line in [*(x for f in files for x in read_kv_file(f)), *items]:
        key, eq, _ = line.partition("=")
        if eq:
            out.append(line)
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return tuple(out)


def _labels(items: Sequence[str], files: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in [*(x for f in files for x in read_kv_file(f)), *items]:
        key, _, value = line.partition("=")
        out[key] = value
    return out


def _ports(specs: Sequence[str]) -> tuple[PortBinding, ...]:
    try:
        mappings = parse_port_specs(specs)
    except InvalidPortSpec as err:
        raise ClientError(str(err)) from None
    out = []
    for m in mappings:
        host = ""
        if m.host_port:
            host = str(m.host_port) if m.host_port_end in (0, m.host_port) else f"{m.host_port}-{m.host_port_end}"
        out.append(PortBinding(container_port=m.container_port, protocol=m.proto, host_ip=m.host_ip, host_port=host))
    return tuple(out)


def _expose(values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values:
        try:
            for port, proto in parse_expose(raw):
                key = f"{port}/{proto}"
                if key not in out:
                    out.append(key)
        except InvalidPortSpec as err:
            raise ClientError(str(err)) from None
    return tuple(out)


def _mounts(ns: argparse.Namespace) -> tuple[object, ...]:
    out: list[object] = []
    for raw in ns.volume:
        out.append(parse_volume(raw))  # InvalidMountSpec: the daemon's error in docker
    for raw in ns.mount:
        try:
            out.append(parse_mount(raw))
        except DockernbError as err:
            raise ClientError(f'invalid argument "{raw}" for "--mount" flag: {err}', usage=True) from None
    for raw in ns.tmpfs:
        out.append(parse_tmpfs(raw))
    return tuple(out)


def request_from_args(
    ns: argparse.Namespace, *, detach: bool, environ: Mapping[str, str] | None = None
) -> CreateRequest:
    """The create request ``run``/``create`` flags describe. Raises ClientError, InvalidMountSpec."""
    environ = os.environ if environ is None else environ
    image, cmd = ns.args[0], tuple(ns.args[1:])
    try:
        restart = RestartPolicy.parse(ns.restart)
    except InvalidArgument as err:
        raise ClientError(str(err)) from None
    if ns.rm and restart.name is not RestartPolicyName.NO:
        raise ClientError("Conflicting options: --restart and --rm")
    if ns.pull not in ("always", "missing", "never"):
        raise ClientError(f'invalid pull option: \'{ns.pull}\': must be one of "always", "missing" or "never"')
    attach = {a.lower() for a in ns.attach}
    bad = attach - {"stdin", "stdout", "stderr"}
    if bad:
        raise ClientError(f"invalid argument \"{sorted(bad)[0]}\" for \"-a, --attach\" flag: valid streams are "
                          "STDIN, STDOUT and STDERR", usage=True)
    if detach and attach:
        raise ClientError("Conflicting options: -a and -d")
    if not attach and not detach:
        attach = {"stdout", "stderr"} | ({"stdin"} if ns.interactive else set())
    log_opts: dict[str, str] = {}
    for raw in ns.log_opt:
        key, eq, value = raw.partition("=")
        if not eq:
            raise ClientError(f'invalid argument "{raw}" for "--log-opt" flag: invalid key value pair format',
                              usage=True)
        log_opts[key] = value
    sysctls = dict(item.partition("=")[::2] for item in ns.sysctl)
    entrypoint: tuple[str, ...] | None = None
    if ns.entrypoint is not None:
        entrypoint = (ns.entrypoint,) if ns.entrypoint else ()
    network = ns.network or "default"
    config = ContainerConfig(
        image=image, cmd=cmd, entrypoint=entrypoint, env=_env(ns.env, ns.env_file, environ),
        working_dir=ns.workdir, user=ns.user or "", hostname=ns.hostname, domainname=ns.domainname,
        labels=_labels(ns.label, ns.label_file), tty=ns.tty, open_stdin=ns.interactive,
        stdin_once=ns.interactive and "stdin" in attach and not detach,
        attach_stdin="stdin" in attach, attach_stdout="stdout" in attach, attach_stderr="stderr" in attach,
        exposed_ports=_expose(ns.expose), stop_signal=ns.stop_signal, stop_timeout=ns.stop_timeout,
    )  # fmt: skip
    resources = Resources(
        memory=ns.memory, memory_swap=ns.memory_swap, memory_reservation=ns.memory_reservation, nano_cpus=ns.cpus,
        cpu_shares=ns.cpu_shares, cpu_period=ns.cpu_period, cpu_quota=ns.cpu_quota, cpuset_cpus=ns.cpuset_cpus,
        pids_limit=ns.pids_limit, ulimits=tuple(Ulimit(name=n, soft=s, hard=h) for n, s, h in ns.ulimit),
    )  # fmt: skip
    host = HostConfig(
        restart_policy=restart, auto_remove=ns.rm,
        log_config=LogConfig(type=ns.log_driver or "json-file", config=log_opts),
        network_mode=network, port_bindings=_ports(ns.publish), publish_all_ports=ns.publish_all,
        mounts=_mounts(ns),  # type: ignore[arg-type]
        cap_add=tuple(ns.cap_add), cap_drop=tuple(ns.cap_drop), privileged=ns.privileged, read_only=ns.read_only,
        init=ns.init, security_opt=tuple(ns.security_opt), resources=resources, extra_hosts=tuple(ns.add_host),
        dns=tuple(ns.dns), dns_search=tuple(ns.dns_search), dns_options=tuple(ns.dns_option),
        network_aliases=tuple(ns.network_alias), ipv4_address=ns.ip, group_add=tuple(ns.group_add),
        sysctls=sysctls, shm_size=ns.shm_size, oom_score_adj=ns.oom_score_adj,
    )  # fmt: skip
    return CreateRequest(config=config, host_config=host, name=ns.name, platform=ns.platform, pull=ns.pull,
                         cidfile=ns.cidfile)
