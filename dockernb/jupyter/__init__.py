"""The jupyter_server extension behind the JupyterLab sidebar "Docker" (layer L8).

It serves the engine under ``/dockernb/api/v1/...`` (:mod:`.handlers`) to the lab extension
built from ``labextension/``, which the wheel ships as ``share/jupyter/labextensions/dockernb-labext``
(the build lands in ``dockernb/jupyter/labextension``). ``jupyter-config/`` enables the server side.

This module stays importable without jupyter_server: the server classes load only when a
Jupyter server asks for its extension points.
"""

from __future__ import annotations

from typing import Any

from dockernb._version import __version__

__all__ = ["LABEXTENSION_NAME", "__version__", "_jupyter_labextension_paths", "_jupyter_server_extension_points"]

#: the npm package name, and the directory name under share/jupyter/labextensions
LABEXTENSION_NAME = "dockernb-labext"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from dockernb.jupyter.app import DockernbJupyter

    return [{"module": "dockernb.jupyter.app", "app": DockernbJupyter}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]
