"""The engine's side of a container's end: the post-exit hooks the monitor runs (layer L6).

The C supervisor execs ``python -m dockernb.monitor post-exit <root> <id> --hooks
dockernb.engine.containers.hooks:EngineHooks`` when the init has exited; the handler (layer L4,
which cannot import the engine) loads :class:`EngineHooks` by name. They rebuild the engine's
container service from the configuration saved at start (``engine.json`` in the container's
directory: the process may have been started by a kernel with its own settings) and:

- ``cleanup``: the runtime's cgroups and state, and the network (ports, addresses), unless a newer
  run already owns them (a ``start`` raced the handler);
- ``remove``: ``--rm`` (and the container's anonymous volumes, as docker does);
- ``spawner``/``setup``/``options``: a restart by the policy, with a fresh sandbox.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any

from dockernb.config import Config, load_config
from dockernb.errors import DockernbError, NoSuchContainer
from dockernb.monitor.launcher import MonitorOptions
from dockernb.monitor.postexit import monitor_options
from dockernb.monitor.spawner import Spawner, Task
from dockernb.spec.container import ContainerRecord
from dockernb.spec.status import ContainerState, ContainerStatus
from dockernb.store.containers import ContainerStore

__all__ = ["EngineHooks", "config_from_json", "config_to_json"]

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED)


def config_to_json(config: Config) -> dict[str, Any]:
    """The engine's Config as JSON (paths as strings, tuples as lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = [str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v for v in value]
        elif isinstance(value, typing.Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def config_from_json(data: dict[str, Any]) -> Config:
    hints = typing.get_type_hints(Config)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        if f.name not in data:
            continue
        value, hint = data[f.name], str(hints[f.name])
        if value is None:
            kwargs[f.name] = None
        elif "Path" in hint and "tuple" in hint:
            kwargs[f.name] = tuple(Path(v) for v in value)
        elif "Path" in hint:
            kwargs[f.name] = Path(value)
        elif hint.startswith("tuple[tuple"):
            kwargs[f.name] = tuple(tuple(v) for v in value)
        elif hint.startswith("tuple"):
            kwargs[f.name] = tuple(value)
        else:
            kwargs[f.name] = value
    return Config(**kwargs)


class EngineHooks:
    """``PostExitHooks`` backed by the engine's container service."""

    name = "dockernb.engine.containers.hooks:EngineHooks"

    def __init__(self, store: ContainerStore) -> None:
        self.store = store

    def _config(self, container_id: str) -> Config:
        try:
            data = json.loads((self.store.paths(container_id).dir / "engine.json").read_bytes())
            config = config_from_json(data)
        except (OSError, ValueError, TypeError):
            config = load_config({**os.environ, "DOCKERNB_ROOT": str(self.store.layout.root)})
        return dataclasses.replace(config, root=self.store.layout.root)

    def service(self, container_id: str) -> Any:  # noqa: ANN401
        if "_svc" not in self.__dict__:
            from dockernb.engine.containers.service import ContainerService
            from dockernb.engine.images import ImageService

            config = self._config(container_id)
            # the image service only if needed (--rm): cleanup needs the runtime and the network alone
            self.__dict__["_svc"] = ContainerService(config, lambda: ImageService(config))
        return self.__dict__["_svc"]

    def cleanup(self, record: ContainerRecord, state: ContainerState) -> None:
        from dockernb.engine.containers.lifecycle import release_run

        svc = self.service(record.id)
        try:
            # under the lock, which start holds from its sandbox to its record: a start that raced
            # us either finished (the resources are the new run's: hands off) or waits for us
            with self.store.lock(record.id):
                if self.store.state(record.id).status in _LIVE:
                    return
                release_run(svc, record.id)
        except NoSuchContainer:
            # removed meanwhile (rm -f): idempotent, as rm's own; unless the whole root went with it
            # (its remover released everything first), where releasing would recreate the root's skeleton
            if self.store.layout.root.exists():
                release_run(svc, record.id)

    def remove(self, record: ContainerRecord) -> None:
        with contextlib.suppress(DockernbError):
            self.service(record.id).remove(record.id, force=True, volumes=True)

    def spawner(self, record: ContainerRecord) -> Spawner:
        from dockernb.engine.containers.start import run_plan, save_engine_config

        svc = self.service(record.id)
        plan = run_plan(svc, record)
        save_engine_config(svc, record.id)
        spawner: Spawner = plan.spawner
        return spawner

    def setup(self, record: ContainerRecord, task: Task) -> None:
        svc = self.service(record.id)
        try:
            svc.networks.attach(record.id, task.pid)
        except BaseException:
            with contextlib.suppress(Exception):
                svc.networks.teardown(record.id)
            raise

    def options(self, record: ContainerRecord, generation: int) -> MonitorOptions:
        return monitor_options(self.store, record, generation, self.name)
