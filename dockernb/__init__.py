"""dockernb: a Docker-compatible container engine that lives inside Jupyter.

The public Python API, in docker-py's spirit: ``dockernb.from_env()`` returns a
:class:`DockerClient` (``.images``, ``.containers``) over the :class:`Engine` of the configured
state root; errors are in :mod:`dockernb.errors`. ``%load_ext dockernb`` loads the notebook
magics (``%docker``, ``%%docker``, ``%%dockerfile``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockernb import errors
from dockernb._version import __version__

if TYPE_CHECKING:
    from dockernb.client import Container, DockerClient, Image, from_env
    from dockernb.engine import Engine

__all__ = ["Container", "DockerClient", "Engine", "Image", "__version__", "errors", "from_env",
           "load_ipython_extension", "unload_ipython_extension"]  # fmt: skip

_LAZY = {"Engine": "dockernb.engine", "from_env": "dockernb.client", "DockerClient": "dockernb.client",
         "Container": "dockernb.client", "Image": "dockernb.client"}  # fmt: skip


def __getattr__(name: str) -> object:
    # imported on first use: the engine pulls in every service, and tools under dockernb
    # (python -m dockernb.runtime, the monitor) should not pay that start-up on each run
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dockernb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:  # noqa: ANN401 - IPython is an optional extra
    """``%load_ext dockernb``: the notebook front end (needs the ``notebook`` extra)."""
    from dockernb.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:  # noqa: ANN401
    from dockernb.notebook import unload_ipython_extension as unload

    unload(ipython)
