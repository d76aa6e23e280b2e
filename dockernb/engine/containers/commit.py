"""``docker commit``: a container's writable layer + its config -> a new image (layer L6).

The writable layer becomes a layer tar (``layers.diff``: the overlay upper directory read as it
is, whiteouts included; a native snapshot compared with its init layer), stored and unpacked on
the image's chain by the image service; the container's config (``--change`` applied, with the
builder's rules) becomes the new image's config, with a history entry for the container's
command. Rootless, the layer is read inside the user namespace, so owners are the container's ids.
A running container is paused while its layer is read, where a freezer is available (``-p``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dockernb.errors import DockernbError
from dockernb.spec.container import ContainerRecord

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["commit_container"]


def _container_config(record: ContainerRecord) -> dict[str, Any]:
    c = record.config
    return {
        "Hostname": c.hostname, "Domainname": c.domainname, "User": c.user, "AttachStdin": c.attach_stdin,
        "AttachStdout": c.attach_stdout, "AttachStderr": c.attach_stderr,
        "ExposedPorts": {p: {} for p in c.exposed_ports} or None, "Tty": c.tty, "OpenStdin": c.open_stdin,
        "StdinOnce": c.stdin_once, "Env": list(c.env), "Cmd": list(c.cmd) or None, "Image": c.image,
        "Volumes": {v: {} for v in c.volumes} or None, "WorkingDir": c.working_dir,
        "Entrypoint": list(c.entrypoint) if c.entrypoint else None, "OnBuild": None, "Labels": dict(c.labels),
        **({"StopSignal": c.stop_signal} if c.stop_signal else {}),
    }  # fmt: skip


def _write_diff(svc: ContainerService, record: ContainerRecord, path: str) -> None:
    from dockernb.engine.containers.initlayer import init_name, writable_dir
    from dockernb.layers.diff import diff_overlay, diff_trees

    snap = svc.images.snapshotter
    key = record.extra.get("snapshot", record.id)
    mounts = snap.mounts(key)
    upper = writable_dir(mounts)
    overlay = any(o.startswith("upperdir=") for m in mounts for o in m.options)
    before = ""
    if not overlay:
        before = writable_dir(snap.view(f"{record.id}-commit-view", init_name(record.id)))

    def write() -> str:
        with open(path, "wb") as out:
            digest = diff_overlay(upper, out) if overlay else diff_trees(before, upper, out)
        return str(digest)

    try:
        if svc.config.rootless:
            from dockernb.linux.mount import run_in_userns

            run_in_userns(write, svc.images.idmap)
        else:
            write()
    finally:
        if before:
            with contextlib.suppress(DockernbError):
                snap.remove(f"{record.id}-commit-view")


def commit_container(
    svc: ContainerService,
    container_id: str,
    repository: str = "",
    *,
    message: str = "",
    author: str = "",
    changes: Sequence[str] = (),
    pause: bool = True,
) -> str:
    """Like ``docker commit``; returns the new image's id. Raises NoSuchContainer, NoSuchImage,
    InvalidChange, InvalidReference."""
    from dockernb.build.apply import apply_changes
    from dockernb.build.image import History, ImageDoc, RunConfig
    from dockernb.spec.reference import parse_tag_target

    if repository:
        parse_tag_target(repository)  # InvalidReference before any work
    record = svc.store.record(container_id)
    images = svc.images
    image = images.get(record.image_id)
    base_layers = list(images.record(image.id).layers)
    config = apply_changes(RunConfig.from_json(_container_config(record)), changes)
    paused = _pause(svc, container_id) if pause else False
    images.layout.tmp.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"commit-{container_id[:12]}-", dir=images.layout.tmp)
    os.close(fd)
    try:
        try:
            _write_diff(svc, record, path)
        finally:
            if paused:
                _resume(svc, container_id)
        with open(path, "rb") as tar:
            layer, _chain = images.add_layer(tar, parent_chain=image.top_chain)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    now = datetime.now(UTC)
    doc = ImageDoc.from_json(dict(image.config.raw))
    doc.config = config
    doc.container = record.id
    doc.container_config = RunConfig.from_json(_container_config(record))
    doc.created = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    doc.docker_version = "20.10.24"
    doc.author = author
    doc.diff_ids = [*doc.diff_ids, layer.diff_id]
    doc.history = [*doc.history, History(created=doc.created, created_by=" ".join([record.path, *record.args]),
                                         author=author, comment=message)]
    return images.commit(doc.to_bytes(), [*base_layers, layer], parent=image.id,
                         tags=[repository] if repository else [])


def _pause(svc: ContainerService, container_id: str) -> bool:
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir
    from dockernb.spec.status import ContainerStatus

    if svc.current_state(container_id).status is not ContainerStatus.RUNNING:
        return False
    try:
        rt.pause(runtime_dir(svc, container_id))
    except (DockernbError, OSError):
        return False  # no freezer (rootless without delegation): committed while it runs, as docker -p=false
    return True


def _resume(svc: ContainerService, container_id: str) -> None:
    from dockernb import runtime as rt
    from dockernb.engine.containers.start import runtime_dir

    with contextlib.suppress(DockernbError, OSError):
        rt.resume(runtime_dir(svc, container_id))
