"""The service layer that every front end calls, and nothing else (layer L6).

``Engine`` wires the services for one state root: ``engine.system`` (info, version), and as
they land ``engine.images``, ``engine.containers``, ``engine.builds``, ``engine.networks``,
``engine.volumes``.
"""

from typing import TYPE_CHECKING

from dockernb.engine.engine import Engine, from_env

if TYPE_CHECKING:
    from dockernb.engine.system import Feature, SystemInfo, VersionInfo

__all__ = ["Engine", "Feature", "SystemInfo", "VersionInfo", "from_env"]


def __getattr__(name: str) -> object:
    # the system service's types on first use: `import dockernb` does not pay for its probes module
    if name in ("Feature", "SystemInfo", "VersionInfo"):
        from dockernb.engine import system

        return getattr(system, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
