"""Content digests (``sha256:<64 hex>``): the value type every store and the registry client share."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockernb.errors import InvalidArgument

__all__ = ["Digest"]

_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
_RE = re.compile(r"^(sha256|sha384|sha512):([0-9a-f]+)\Z")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated ``algorithm:hex`` digest; ``str(d)`` is the wire form."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Raises InvalidArgument for anything but a well-formed sha256/sha384/sha512 digest."""
        m = _RE.match(text)
        if not m or len(m.group(2)) != _HEX[m.group(1)]:
            raise InvalidArgument(f"invalid digest: {text!r}")
        return cls(m.group(1), m.group(2))

    @classmethod
    def of(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @property
    def short(self) -> str:
        """The 12-hex form docker shows."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
