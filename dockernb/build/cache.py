"""The build cache: which image a step produced from a given parent (layer L5).

A key is a digest of what determines a step's result: the parent image id and the step's
text after substitution, which carries the build args a RUN sees and the content checksums of
COPY/ADD sources (:func:`step_key`). The value is the image the step committed. Entries are
files named by key under ``<root>/build/cache`` (one atomic write per step), so the cache
survives restarts and is shared safely by concurrent builds on one root; an entry whose image
has since been removed is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from dockernb.store.atomic import write_bytes

__all__ = ["BuildCache", "step_key"]

_ID = re.compile(r"sha256:[0-9a-f]{64}")


def step_key(parent_id: str, command: Sequence[str], *extra: str) -> str:
    """The cache key of a step: its parent and docker's record of the step (container_config.Cmd)."""
    material = json.dumps([parent_id, list(command), list(extra)], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


class BuildCache:
    """Step key -> image id, on disk (``directory``) or in memory (``None``)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._memory: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        if self.directory is None:
            return self._memory.get(key)
        try:
            value = (self.directory / key).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return value if _ID.fullmatch(value) else None

    def put(self, key: str, image_id: str) -> None:
        if self.directory is None:
            self._memory[key] = image_id
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_bytes(self.directory / key, image_id.encode(), sync=False)

    def forget(self, key: str) -> None:
        if self.directory is None:
            self._memory.pop(key, None)
            return
        try:
            os.unlink(self.directory / key)
        except FileNotFoundError:
            pass
