"""The service layer that every front end calls, and nothing else (layer L6).

``Engine`` wires the services for one state root: ``engine.system`` (info, version), and as
they land ``engine.images``, ``engine.containers``, ``engine.builds``, ``engine.networks``,
``engine.volumes``.
"""

from dockernb.engine.engine import Engine, from_env
from dockernb.engine.system import Feature, SystemInfo, VersionInfo

__all__ = ["Engine", "Feature", "SystemInfo", "VersionInfo", "from_env"]
