"""``docker create``: user intent + the image's config -> a stored container with its writable layer (L6).

What docker's daemon does at create, in order: resolve the image; merge its config into the
container's (env, cmd/entrypoint, workdir, user, labels, exposed ports, volumes, stop signal:
daemon/commit.go ``merge``); check what can be checked without running anything (command,
restart policy, log options, network, mounts, resources); reserve the name and write the
record; prepare the container's snapshot on the image; make its volumes (named ones if missing,
anonymous ones for ``-v /path`` and the image's VOLUMEs). A failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dockernb.engine.containers.types import CreateResult
from dockernb.errors import (
    DockernbError,
    InvalidArgument,
    InvalidMountSpec,
    NoSuchContainer,
    NoSuchNetwork,
    NoSuchSnapshot,
)
from dockernb.spec.container import ContainerConfig, ContainerRecord, HostConfig, MountSpec, RestartPolicyName
from dockernb.spec.oci import RunConfig
from dockernb.spec.ports import parse_expose
from dockernb.volumes.store import validate_volume_name

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["create_container", "merge_image_config"]

_MIN_MEMORY = 6 * 1024 * 1024


def merge_image_config(config: ContainerConfig, image: RunConfig) -> ContainerConfig:
    """docker's merge of an image's config into a container's (the user's values win)."""
    env = list(image.env)
    index = {item.partition("=")[0]: i for i, item in enumerate(env)}
    for item in config.env:
        key = item.partition("=")[0]
        if key in index:
            env[index[key]] = item
        else:
            index[key] = len(env)
            env.append(item)
    if config.entrypoint is not None:  # --entrypoint given (even ""): the image's cmd is dropped
        entrypoint: tuple[str, ...] | None = tuple(a for a in config.entrypoint if a) or None
        cmd = config.cmd
    else:
        entrypoint = image.entrypoint
        cmd = config.cmd or tuple(image.cmd or ())
    exposed = list(image.exposed_ports)
    exposed += [p for p in config.exposed_ports if p not in exposed]
    volumes = list(image.volumes)
    volumes += [v for v in config.volumes if v not in volumes]
    return dataclasses.replace(
        config,
        env=tuple(env),
        entrypoint=entrypoint,
        cmd=tuple(cmd),
        working_dir=config.working_dir or image.working_dir,
        user=config.user or image.user,
        labels={**image.labels, **config.labels},
        exposed_ports=tuple(exposed),
        volumes=tuple(volumes),
        stop_signal=config.stop_signal or image.stop_signal,
    )


def _check_host_config(host: HostConfig) -> None:
    if host.auto_remove and host.restart_policy.name is not RestartPolicyName.NO:
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    r = host.resources
    if r.memory and r.memory < _MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    ncpu = os.cpu_count() or 1
    if r.nano_cpus and not 10_000_000 <= r.nano_cpus <= ncpu * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available")
    if r.pids_limit < 0 and r.pids_limit != -1:
        raise InvalidArgument("invalid PIDs limit")
    for u in r.ulimits:
        if u.soft > u.hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {u.soft} > {u.hard}")


def _exposed_ports(config: ContainerConfig, host: HostConfig) -> tuple[str, ...]:
    """ExposedPorts: the image's, ``--expose``, and every published port (docker adds those)."""
    out = list(config.exposed_ports)
    for raw in list(out):
        parse_expose(raw)  # InvalidPortSpec with docker's words
    for b in host.port_bindings:
        key = f"{b.container_port}/{b.protocol}"
        if key not in out:
            out.append(key)
    return tuple(out)


def _resolve_mounts(svc: ContainerService, config: ContainerConfig, host: HostConfig) -> tuple[MountSpec, ...]:
    """Named volumes checked, anonymous ones named, the image's VOLUMEs added where nothing else mounts."""
    out: list[MountSpec] = []
    targets: set[str] = set()
    for m in host.mounts:
        if m.target in targets:
            raise InvalidMountSpec(f"Duplicate mount point: {m.target}")
        targets.add(m.target)
        if m.type == "volume":
            if m.source:
                validate_volume_name(m.source)
            else:
                m = dataclasses.replace(m, source=svc.store.new_id(), anonymous=True)
        elif m.type == "bind" and not m.legacy and not os.path.exists(m.source):
            raise InvalidMountSpec(f'invalid mount config for type "bind": bind source path does not exist: {m.source}')
        out.append(m)
    for target in config.volumes:
        path = target.rstrip("/") or "/"
        if path not in targets:
            targets.add(path)
            out.append(MountSpec(type="volume", target=path, source=svc.store.new_id(), anonymous=True))
    return tuple(out)


def _check_network(svc: ContainerService, host: HostConfig) -> HostConfig:
    mode = host.network_mode or "default"
    if mode in ("default", "bridge", "none", "host"):
        return host
    if mode.startswith("container:"):
        target = mode.partition(":")[2]
        if not target:
            raise InvalidArgument("Invalid network mode: invalid container format container:<name|id>")
        try:
            cid = svc.store.resolve(target)
        except NoSuchContainer:
            raise NoSuchContainer(target) from None
        if host.port_bindings or host.publish_all_ports:
            raise InvalidArgument("conflicting options: port publishing and the container type network mode")
        return dataclasses.replace(host, network_mode=f"container:{cid}")
    try:
        svc.networks.get(mode)
    except NoSuchNetwork:
        raise NoSuchNetwork(mode) from None
    return host


def create_container(
    svc: ContainerService, config: ContainerConfig, host_config: HostConfig, *, name: str = ""
) -> CreateResult:
    """Like ``docker create``. See :meth:`ContainerService.create` for the errors."""
    _check_host_config(host_config)
    image = svc.images.get(config.image)
    from dockernb.logs.options import log_settings

    cid = svc.store.new_id()
    log_settings(host_config.log_config, container_id=cid, name=name, image=config.image, image_id=image.id,
                 labels=config.labels, env=config.env)
    merged = merge_image_config(config, image.config.config)
    argv = (merged.entrypoint or ()) + merged.cmd
    if not argv:
        raise InvalidArgument("No command specified")
    host = _check_network(svc, host_config)
    warnings: list[str] = []
    if host.network_mode == "host" and (host.port_bindings or host.publish_all_ports):
        warnings.append("Published ports are discarded when using host network mode")
    mounts = _resolve_mounts(svc, merged, host)
    hostname = merged.hostname
    if not hostname:
        hostname = os.uname().nodename if host.network_mode == "host" else cid[:12]
    merged = dataclasses.replace(merged, hostname=hostname, exposed_ports=_exposed_ports(merged, host))
    host = dataclasses.replace(host, mounts=mounts)
    record = ContainerRecord(
        id=cid, name=name, created=datetime.now(UTC), config=merged, host_config=host, image_id=image.id,
        path=argv[0], args=tuple(argv[1:]), driver=svc.images.graph_driver(), extra={"snapshot": cid},
    )  # fmt: skip
    record = svc.store.create(record)  # NameInUse, InvalidContainerName
    try:
        from dockernb.engine.containers.initlayer import prepare_layers

        prepare_layers(svc.images.snapshotter, cid, svc.images.ensure_unpacked(image.id))
        for m in mounts:
            if m.type == "volume":
                svc.volume_store.create(m.source, anonymous=m.anonymous)
    except BaseException as err:
        _undo(svc, record, err)
        raise
    for m in mounts:
        if m.type == "volume" and m.anonymous:
            svc.event_log.emit("volume", "create", m.source, {"driver": "local"})
    svc.record_event(record, "create")
    return CreateResult(id=record.id, warnings=tuple(warnings))


def _undo(svc: ContainerService, record: ContainerRecord, err: BaseException) -> None:
    """Remove what a failed create made (the record, its snapshot, its anonymous volumes)."""
    try:
        from dockernb.engine.containers.initlayer import init_name

        for key in (record.id, init_name(record.id)):
            with contextlib.suppress(NoSuchSnapshot):
                svc.images.snapshotter.remove(key)
        for m in record.host_config.mounts:
            if m.type == "volume" and m.anonymous:
                with contextlib.suppress(DockernbError):
                    svc.volume_store.remove(m.source)
        svc.store.delete(record.id)
    except Exception as cleanup:  # noqa: BLE001 - keep the first error, note the second
        err.add_note(f"cleanup after the failed create: {cleanup}")
