"""The Engine: one object per state root, wiring every service (layer L6).

Front ends hold an Engine and call its services; several engines (a notebook kernel, a CLI,
the API server) can share one root at once, through the file locks in ``dockernb.store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from dockernb.config import Config, load_config

if TYPE_CHECKING:
    from dockernb.engine.builds import BuildService
    from dockernb.engine.containers import ContainerService
    from dockernb.engine.images import ImageService
    from dockernb.engine.networks import NetworkService
    from dockernb.engine.system import SystemService
    from dockernb.engine.volumes import VolumeService

__all__ = ["Engine", "from_env"]


class Engine:
    """Like a docker daemon, but a library: ``with Engine.from_env() as eng: eng.system.info()``."""

    def __init__(self, config: Config) -> None:
        self.config = config

    # Services are made on first use: a CLI call pays only for the service it needs
    # (importing the builder alone costs about 0.1 s; the system service's probes 20 ms).
    @cached_property
    def system(self) -> SystemService:
        from dockernb.engine.system import SystemService

        svc = SystemService(self.config)
        svc.counters = self._counters
        return svc

    @cached_property
    def builds(self) -> BuildService:
        from dockernb.engine.builds import BuildService

        # the engine's images and networks: builds share their caches and locks
        return BuildService(self.config, images=lambda: self.images, networks=lambda: self.containers.networks)

    @cached_property
    def images(self) -> ImageService:
        from dockernb.engine.image_types import ImageUse
        from dockernb.engine.images import ImageService

        svc = ImageService(self.config)
        # rmi and prune respect the containers using an image (the container service, made on demand)
        svc.register_users(lambda: (ImageUse(container_id=c, image_id=i, running=r)
                                    for c, i, r in self.containers.image_uses()))
        return svc

    @cached_property
    def containers(self) -> ContainerService:
        from dockernb.engine.containers import ContainerService

        return ContainerService(self.config, lambda: self.images)

    @cached_property
    def volumes(self) -> VolumeService:
        from dockernb.engine.volumes import VolumeService

        return VolumeService(self.config, users=lambda: self.containers.volume_users())

    @cached_property
    def networks(self) -> NetworkService:
        from dockernb.engine.networks import NetworkService

        return NetworkService(self.containers)

    def _counters(self) -> dict[str, int]:
        """``info``'s counts of containers by state, and of images."""
        states = [str(s.state.status) for s in self.containers.list(all=True)]
        running = sum(st in ("running", "restarting") for st in states)
        paused = states.count("paused")
        return {"containers": len(states), "running": running, "paused": paused,
                "stopped": len(states) - running - paused, "images": len(self.images.list())}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Engine:
        """An engine configured from the environment and the daemon.json file (see dockernb.config)."""
        return cls(load_config(env))

    def close(self) -> None:
        """Release what the engine holds; containers keep running (their monitors own them)."""
        if "images" in self.__dict__:
            self.images.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def from_env(env: Mapping[str, str] | None = None) -> Engine:
    return Engine.from_env(env)
