"""The high-level Python API in docker-py's spirit: ``dockernb.from_env()`` (layer L7.5, over the engine).

::

    import dockernb
    client = dockernb.from_env()
    client.images.pull("busybox")
    [img.tags for img in client.images.list()]
    c = client.containers.get("web"); c.status; c.logs(); c.stop()

Models and collections are in :mod:`.models`; they reach the engine only through the seam in
:mod:`.seam`, which a remote Engine API backend can provide instead of the in-process engine.
The notebook magics return these objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dockernb.client.models import Container, ContainerCollection, ExecResult, Image, ImageCollection
from dockernb.client.seam import EngineAPI
from dockernb.engine import Engine

__all__ = ["Container", "DockerClient", "ExecResult", "Image", "from_env"]


class DockerClient:
    """Like docker-py's ``DockerClient``: ``images``, ``containers``, ``version()``, ``info()``."""

    def __init__(self, engine: EngineAPI) -> None:
        #: the backend every call goes through (see dockernb.client.seam)
        self.engine = engine
        self.images = ImageCollection(engine)
        self.containers = ContainerCollection(engine)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DockerClient:
        """A client of the in-process engine configured like the CLI (environment, daemon.json)."""
        return cls(_conforms(Engine.from_env(env)))

    @classmethod
    def for_host(cls, url: str) -> DockerClient:
        """A client of the Engine API at ``url`` (``unix://``, ``tcp://``, ``ssh://``), like ``%dockernb connect``.

        Raises InvalidArgument for a URL docker would refuse, Unavailable when no daemon answers.
        """
        from dockernb.client.remote import connect

        return cls(connect(url))

    @classmethod
    def from_docker_host(cls, env: Mapping[str, str] | None = None) -> DockerClient:
        """What the front ends start with: ``DOCKER_HOST``'s engine when it is set (as ``docker.from_env()``),
        else the in-process engine. The remote client connects on its first call (errors come then)."""
        host = (os.environ if env is None else env).get("DOCKER_HOST", "")
        if host:
            from dockernb.client.remote import RemoteEngine

            return cls(RemoteEngine(host, lazy=True))
        return cls.from_env(env)

    def version(self) -> dict[str, str]:
        v = self.engine.system.version()
        return {"Version": v.version, "ApiVersion": v.api_version}

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> DockerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _conforms(engine: Engine) -> EngineAPI:
    """The in-process engine is a backend of the seam: mypy checks every role's signatures here."""
    return engine


def from_env(env: Mapping[str, str] | None = None) -> DockerClient:
    """``dockernb.from_env()``: like ``docker.from_env()``."""
    return DockerClient.from_env(env)
