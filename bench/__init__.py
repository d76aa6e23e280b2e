"""Benchmarks: dockernb against the reference engines (runc, podman, docker), side by side, as ratios.

Importing this package makes CLI figures measure what a user's installed copy does: the package's
bytecode is compiled once and PYTHONDONTWRITEBYTECODE (set in some shells and CI images, which makes
every CLI start recompile ~200 modules, ~200 ms here) is dropped for the processes the figures spawn.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "dockernb"), quiet=2)
