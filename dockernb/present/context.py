"""What a command runner gets: the engine (made on first use), the streams and the program name (L7)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from dockernb.engine import Engine

__all__ = ["Context"]


@dataclass
class Context:
    prog: str = "dockernb"
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    #: bytes for commands that read standard input (`build -`); None: the process's stdin
    stdin: BinaryIO | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.from_env()
        return self._engine

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def eprint(self, text: str) -> None:
        self.err.write(text + "\n")
