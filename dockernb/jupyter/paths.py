"""Paths the browser names, checked against the Jupyter server's root directory (layer L8).

The lab sends contents-API paths ("labs/web/Dockerfile"); the server extension builds only what
lies under the server's root, as the file browser shows it, and never follows ``..`` or a
symlink out of it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from dockernb.errors import Forbidden, InvalidArgument

__all__ = ["resolve_in_root"]


def resolve_in_root(root: str | Path, api_path: str) -> Path:
    """The file ``api_path`` names under ``root``, resolved; Forbidden if it leads outside ``root``."""
    if not isinstance(api_path, str) or not api_path.strip("/") or "\0" in api_path:
        raise InvalidArgument(f"invalid path: {api_path!r}")
    rel = PurePosixPath(api_path.strip("/"))
    base = Path(root).expanduser().resolve()
    # resolve() follows symlinks, so a link that points outside the root is caught as well
    target = (base / rel).resolve()
    if not target.is_relative_to(base):
        raise Forbidden(f"{api_path}: outside the server's root directory")
    return target
