"""Crash-safe file writes: write a temporary file beside the target, fsync, rename over it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["read_json", "write_bytes", "write_json"]


def write_bytes(path: Path, data: bytes, *, mode: int = 0o600, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: Path, data: Any, *, mode: int = 0o600, sync: bool = True) -> None:  # noqa: ANN401
    write_bytes(path, json.dumps(data, separators=(",", ":"), sort_keys=True).encode(), mode=mode, sync=sync)


def read_json(path: Path) -> Any:  # noqa: ANN401 - callers validate the shape
    """Read a JSON file; raises FileNotFoundError and ValueError as json/open do."""
    with open(path, "rb") as f:
        return json.loads(f.read())
