"""dockernb: a Docker-compatible container engine that lives inside Jupyter.

The public Python API: ``dockernb.from_env()`` returns an :class:`Engine` for the configured
state root; errors are in :mod:`dockernb.errors`. ``%load_ext dockernb`` loads the notebook
magics once the notebook front end lands.
"""

from __future__ import annotations

from dockernb import errors
from dockernb._version import __version__
from dockernb.engine import Engine, from_env

__all__ = ["Engine", "__version__", "errors", "from_env"]

