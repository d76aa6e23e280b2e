"""``docker commit``: a new image from a container's changes (layer L6).

dockerd's steps (daemon/commit.go, images/image_commit.go): pause the container while its layer
is read (``-p``, the default; a container that cannot be paused is committed running, as dockerd
ignores that failure too); apply ``--change`` instructions to an empty config and fill what they
leave unset from the container's config (docker's ``merge``); make the writable layer a layer on
the image's own through the image service's ``layer_from_snapshot``, the layer path builds take
(:mod:`dockernb.images.commit`: diffed over the container's init layer without the runtime's
mount points, streamed into the content store), and register the image with its history entry
(the container's command, ``-a``, ``-m``) through the image service's ``commit``, as builds do.
A container that changed nothing adds no layer (an ``empty_layer`` history entry, as docker's).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockernb._version import DOCKER_COMPAT
from dockernb.errors import ContainerStateConflict, DockernbError, InvalidReference
from dockernb.spec.container import ContainerRecord
from dockernb.spec.status import ContainerStatus

if TYPE_CHECKING:
    from dockernb.build.image import RunConfig
    from dockernb.engine.containers.service import ContainerService

__all__ = ["CommitResult", "commit_container", "container_run_config", "merge_config"]


@dataclass(frozen=True, slots=True)
class CommitResult:
    """The new image's id (``sha256:...``) and the name it got (familiar form; "" for none)."""

    id: str
    ref: str = ""


def container_run_config(record: ContainerRecord, base: RunConfig) -> RunConfig:
    """The container's config as an image config (what docker's ``container.Config`` holds)."""
    cfg = record.config
    out = base.copy()
    out.user = cfg.user
    out.exposed_ports = {p: {} for p in cfg.exposed_ports} or None
    out.env = list(cfg.env) or None
    out.cmd = list(cfg.cmd) or None
    out.entrypoint = list(cfg.entrypoint) if cfg.entrypoint else None
    out.working_dir = cfg.working_dir
    out.volumes = {v: {} for v in cfg.volumes} or None
    out.labels = dict(cfg.labels) or None
    out.stop_signal = cfg.stop_signal
    out.image = cfg.image
    return out


def merge_config(user: RunConfig, image: RunConfig) -> RunConfig:
    """docker's ``merge``: what the ``--change`` config leaves unset comes from ``image`` (the container's)."""
    out = user.copy()
    if not out.user:
        out.user = image.user
    ports = dict(out.exposed_ports or {})
    for port, options in (image.exposed_ports or {}).items():
        ports.setdefault(port, options)
    out.exposed_ports = ports or None
    if not out.env:
        out.env = list(image.env) if image.env else None
    else:
        keys = {e.partition("=")[0] for e in out.env}
        out.env = out.env + [e for e in image.env or () if e.partition("=")[0] not in keys]
    labels = dict(out.labels or {})
    for key, text in (image.labels or {}).items():
        labels.setdefault(key, text)
    out.labels = labels or None
    if not out.entrypoint:
        if not out.cmd:
            out.cmd = list(image.cmd) if image.cmd else None
            out.args_escaped = image.args_escaped
        if out.entrypoint is None:
            out.entrypoint = list(image.entrypoint) if image.entrypoint else None
    if out.healthcheck is None:
        out.healthcheck = image.healthcheck
    if not out.working_dir:
        out.working_dir = image.working_dir
    volumes = dict(out.volumes or {})
    for path, options in (image.volumes or {}).items():
        volumes.setdefault(path, options)
    out.volumes = volumes or None
    if not out.stop_signal:
        out.stop_signal = image.stop_signal
    if out.on_build is None:
        out.on_build = image.on_build
    if out.shell is None:
        out.shell = image.shell
    return out


def _layer(svc: ContainerService, record: ContainerRecord, parent_chain: str) -> Any:  # noqa: ANN401
    """(LayerRecord, chain) of the container's changes, or None when it changed nothing: the image service's
    ``layer_from_snapshot``, the layer path builds take, diffed over the snapshot's parent (its init layer)
    without the mount points the runtime made (:func:`dockernb.layers.changes.hidden_paths`)."""
    from dockernb.engine.containers.diff import lower_stat, overlay_dirs
    from dockernb.layers.changes import hidden_paths

    sn = svc.images.snapshotter
    key = record.extra.get("snapshot", record.id)
    found = overlay_dirs(sn.mounts(key))
    lowers = found[1] if found is not None else ()

    def hide(changes: str, base: str) -> set[str]:
        return hidden_paths(changes, lambda rel: lower_stat(lowers or ((base,) if base else ()), rel))[0]

    return svc.images.layer_from_snapshot(key, parent_chain=parent_chain, base=sn.stat(key).parent, consume=False,
                                          tidy=hide)  # fmt: skip


def commit_container(
    svc: ContainerService,
    ref: str,
    repository: str = "",
    *,
    message: str = "",
    author: str = "",
    changes: tuple[str, ...] = (),
    pause: bool = True,
) -> CommitResult:
    """Like ``docker commit``; see :meth:`ContainerService.commit`."""
    from dockernb.build.apply import apply_changes
    from dockernb.build.image import History, ImageDoc, RunConfig, format_created
    from dockernb.engine.containers.pause import pause_container, unpause_container
    from dockernb.images.records import utc_now
    from dockernb.images.store import familiar
    from dockernb.spec.reference import parse_tag_target

    cid = svc.store.resolve(ref)
    target = ""
    if repository:
        parsed = parse_tag_target(repository)
        if parsed.digest is not None:
            raise InvalidReference(repository, text="refusing to create a tag with a digest reference")
        target = str(parsed)
    state = svc.current_state(cid)
    if state.status is ContainerStatus.DEAD:
        raise ContainerStateConflict(f"You cannot commit container {cid} which is Dead")
    if state.status is ContainerStatus.REMOVING:
        raise ContainerStateConflict(f"You cannot commit container {cid} which is being removed")
    wanted = apply_changes(RunConfig(), list(changes))  # InvalidChange before anything is paused
    record = svc.store.record(cid)
    image = svc.images.record(record.image_id)
    with svc.images.content.open_reader(_digest(record.image_id)) as f:
        parent = ImageDoc.from_bytes(f.read())
    paused = False
    if pause and state.status is ContainerStatus.RUNNING:
        with contextlib.suppress(DockernbError):  # dockerd commits a container it cannot pause, too
            pause_container(svc, cid)
            paused = True
    try:
        added = _layer(svc, record, image.top_chain)
    finally:
        if paused:
            with contextlib.suppress(DockernbError):
                unpause_container(svc, cid)
    container_config = container_run_config(record, parent.config)
    config = merge_config(wanted, container_config)
    config.image = ""
    now = format_created(utc_now())
    layers = list(image.layers)
    diff_ids = list(parent.diff_ids)
    if added is not None:
        layers.append(added[0])
        diff_ids.append(added[0].diff_id)
    history = History(created=now, created_by=" ".join(record.config.cmd), author=author, comment=message,
                      empty_layer=added is None)  # fmt: skip
    doc = ImageDoc(architecture=parent.architecture, os=parent.os, variant=parent.variant, config=config,
                   container=cid, container_config=container_config, created=now, docker_version=DOCKER_COMPAT,
                   author=author, diff_ids=diff_ids, history=[*parent.history, history],
                   extra={k: v for k, v in parent.extra.items() if k in ("os.version", "os.features")})  # fmt: skip
    image_id = svc.images.commit(doc.to_bytes(), layers, parent=record.image_id, tags=[target] if target else [])
    shown = familiar(target) if target else ""
    if target:
        svc.images.record_event("tag", image_id, shown)
    svc.record_event(record, "commit", comment=message, imageID=image_id, imageRef=shown)
    return CommitResult(id=image_id, ref=shown)


def _digest(image_id: str) -> Any:  # noqa: ANN401 - a Digest
    from dockernb.spec.digest import Digest

    return Digest.parse(image_id)
