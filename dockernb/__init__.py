"""dockernb: a Docker-compatible container engine that lives inside Jupyter.

The public Python API: ``dockernb.from_env()`` returns an :class:`Engine` for the configured
state root; errors are in :mod:`dockernb.errors`. ``%load_ext dockernb`` loads the notebook
magics once the notebook front end lands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockernb import errors
from dockernb._version import __version__

if TYPE_CHECKING:
    from dockernb.engine import Engine, from_env

__all__ = ["Engine", "__version__", "errors", "from_env"]


def __getattr__(name: str) -> object:
    # imported on first use: the engine pulls in every service, and tools under dockernb
    # (python -m dockernb.runtime, the monitor) should not pay that start-up on each run
    if name in ("Engine", "from_env"):
        from dockernb import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'dockernb' has no attribute {name!r}")

