"""The wheel's build step for the lab extension (run by hatch-jupyter-builder, not imported by dockernb).

A regular ``pip install .`` (or ``pip wheel``, or an sdist) runs ``jlpm install`` and
``jlpm build:prod`` here, unless the output in ``dockernb/jupyter/labextension`` is newer than
every source. Editable installs (``pip install -e .``: CI, the rootless pass, development) skip
the JavaScript build unless ``DOCKERNB_BUILD_LABEXTENSION=1`` asks for it; ``make labext``
builds it for them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parent / "dockernb" / "jupyter" / "labextension"
SOURCES = ("src", "style", "package.json", "yarn.lock", "tsconfig.json", ".yarnrc.yml")


def _newest(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)


def up_to_date() -> bool:
    """The built extension exists and no source changed since it was built."""
    marker = OUTPUT / "package.json"
    if not marker.exists():
        return False
    built = _newest(OUTPUT)
    return all(_newest(HERE / name) <= built for name in SOURCES if (HERE / name).exists())


def build(target_name: str, version: str, **kwargs: Any) -> None:
    if version == "editable" and os.environ.get("DOCKERNB_BUILD_LABEXTENSION") != "1":
        log.info("dockernb: editable install, lab extension not rebuilt (make labext builds it)")
        return
    if up_to_date():
        log.info("dockernb: the lab extension in %s is up to date", OUTPUT)
        return
    from hatch_jupyter_builder import npm_builder  # only in the build environment

    npm_builder(target_name, version, **kwargs)
