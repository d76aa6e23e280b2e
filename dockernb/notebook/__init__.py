"""The notebook front end: IPython magics and ipywidgets over the engine (layer L8).

The only package importing IPython and ipywidgets (the ``notebook`` extra). ``%load_ext
dockernb`` (or ``dockernb.notebook``) registers :class:`~.magics.DockerMagics`: ``%docker``,
``%%docker`` and ``%%dockerfile``. Everything reaches the engine through the seam in
:mod:`dockernb.client.seam` (``DockerClient.engine``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:  # noqa: ANN401
    from dockernb.notebook.magics import DockerMagics

    ipython.register_magics(DockerMagics)


def unload_ipython_extension(ipython: Any) -> None:  # noqa: ANN401
    # IPython keeps registered magics; forget ours so a reload makes a fresh client
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        for name in ("docker", "dockerfile", "dockernb"):
            manager.magics[kind].pop(name, None)
    manager.registry.pop("DockerMagics", None)
