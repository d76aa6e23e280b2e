"""BuildKit's plain progress (``DOCKER_BUILDKIT=1 docker build`` without a tty), from build events (layer L7).

docker 20.10 with BuildKit prints the build as numbered vertices on stderr, as ../shared/golden
records it::

    #1 [internal] load build definition from Dockerfile
    #1 sha256:<digest>
    #1 transferring dockerfile: 146B done
    #1 DONE 0.0s
    <blank line>
    ... load .dockerignore, load metadata for <base>, [1/3] FROM <base> (DONE or CACHED),
    [internal] load build context, [2/3] RUN ... (its output as "#4 0.512 text"), CACHED steps,
    exporting to image (writing image sha256:..., naming to docker.io/library/name)

Only steps that make a filesystem are vertices (FROM, RUN, COPY, ADD, WORKDIR); ENV, CMD and the
other config instructions show nothing. Failures end with BuildKit's words and exit 1 (a failed
RUN too, unlike the classic builder). The vertex digests are derived from the vertex names
(BuildKit's are LLB digests, which only BuildKit can compute).
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TextIO

from dockernb.errors import CopySourceNotFound, DockerfileParseError, DockernbError
from dockernb.spec.events import (
    BuildCacheHit,
    BuildContextSent,
    BuildDone,
    BuildEvent,
    BuildOutput,
    BuildStep,
    BuildStepDone,
    BuildTagged,
)
from dockernb.spec.reference import parse_reference

__all__ = ["PlainProgress", "buildkit_enabled"]

_RUN_FAILED = re.compile(r"^The command '(.*)' returned a non-zero code: (\d+)$", re.S)


def buildkit_enabled(env: dict[str, str] | None) -> bool:
    """docker's client rule: ``DOCKER_BUILDKIT`` set to a true value selects BuildKit."""
    value = (env or {}).get("DOCKER_BUILDKIT", "")
    return value.lower() in ("1", "true", "t", "yes", "y", "on")


def _size(n: int) -> str:
    """BuildKit's units (go-units HumanSize, decimal): 146B, 1.23kB, 4.5MB."""
    if n < 1000:
        return f"{n}B"
    for unit in ("kB", "MB", "GB", "TB"):
        n_f = n / 1000
        if n_f < 1000 or unit == "TB":
            return f"{n_f:.3g}{unit}"
        n = int(n_f)
    return f"{n}B"


class PlainProgress:
    """Writes build events as BuildKit's plain progress on ``err``; ``-q`` leaves only the id on ``out``."""

    def __init__(self, out: TextIO, err: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.err = err
        self.quiet = quiet
        self.image_id = ""
        self._n = 0
        self._vertex = 0  # the open vertex's number (0: none)
        self._vertex_name = ""
        self._started = 0.0
        self._step: BuildStep | None = None
        self._transfer = -1
        self._bases: set[str] = set()
        self._names: list[str] = []

    # --- vertices ----------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if not self.quiet:
            self.err.write(text)
            self.err.flush()

    def _open(self, name: str) -> None:
        if self._n:
            self._emit("\n")  # a blank line between vertices
        self._n += 1
        self._vertex, self._vertex_name = self._n, name
        self._started = time.monotonic()
        digest = hashlib.sha256(name.encode()).hexdigest()
        self._emit(f"#{self._n} {name}\n#{self._n} sha256:{digest}\n")

    def _line(self, text: str) -> None:
        self._emit(f"#{self._vertex} {text}\n")

    def _close(self, how: str = "") -> None:
        if not self._vertex:
            return
        self._line(how or f"DONE {time.monotonic() - self._started:.1f}s")
        self._vertex = 0

    def _internal(self, name: str, *lines: str) -> None:
        self._open(f"[internal] {name}")
        for line in lines:
            self._line(line)
        self._close()

    # --- events ------------------------------------------------------------------------------

    def write(self, event: BuildEvent) -> None:
        if isinstance(event, BuildContextSent):
            size = event.dockerfile_size + 27 + len(event.dockerfile)  # the file-sync stream of one file
            self._internal(f"load build definition from {event.dockerfile}",
                           f"transferring dockerfile: {_size(size)} done")
            ignore = 2 if event.dockerignore_size < 0 else event.dockerignore_size + 27 + len(".dockerignore")
            self._internal("load .dockerignore", f"transferring context: {_size(ignore)} done")
        elif isinstance(event, BuildStep):
            self._step_begins(event)
        elif isinstance(event, BuildCacheHit):
            self._close("CACHED")
        elif isinstance(event, BuildOutput):
            if self._vertex:
                elapsed = time.monotonic() - self._started
                for line in event.text.splitlines():
                    self._line(f"{elapsed:.3f} {line}")
        elif isinstance(event, BuildStepDone):
            step = self._step
            if step is not None and step.vertex == 1 and step.index and step.text.upper().startswith("FROM"):
                self._close("CACHED" if event.reused else "")
                if self._transfer >= 0:
                    self._internal("load build context", f"transferring context: {_size(self._transfer)} done")
                    self._transfer = -1
            else:
                self._close()
        elif isinstance(event, BuildDone):
            self.image_id = event.image_id
        elif isinstance(event, BuildTagged):
            self._names.append(event.name)

    def _step_begins(self, step: BuildStep) -> None:
        self._close()
        self._step = step
        if not step.vertex:
            return
        prefix = f"{step.stage_name} " if step.stage_name else ""
        where = f"[{prefix}{step.vertex}/{step.vertices}]"
        if step.vertex == 1:
            if step.context_transfer >= 0:
                self._transfer = step.context_transfer
            base = step.text.split()[-1] if not re.search(r"\s+AS\s+\S+$", step.text, re.I) else step.text.split()[-3]
            name = base
            try:
                ref = parse_reference(base)
                name = ref.name
                if base != "scratch" and name not in self._bases:
                    self._bases.add(name)
                    self._internal(f"load metadata for {ref.with_default_tag()}")
            except DockernbError:
                pass  # a stage name or a variable: shown as written
            self._open(f"{where} FROM {name}")
            return
        self._open(f"{where} {step.text}")

    # --- the end -----------------------------------------------------------------------------

    def finish(self) -> None:
        """A successful build: BuildKit's export vertex; ``-q`` prints the image id."""
        self._close()
        self._open("exporting to image")
        self._line("exporting layers done")
        self._line(f"writing image {self.image_id} done")
        for name in self._names:
            full = str(parse_reference(name))
            self._line(f"naming to {full.removesuffix(':latest')} done")
        self._close()
        if self.quiet and self.image_id:
            self.out.write(self.image_id + "\n")
            self.out.flush()

    def fail(self, err: DockernbError) -> None:
        """A failed build: the vertex's ERROR, BuildKit's summary and last line (exit 1)."""
        message = str(err)
        if isinstance(err, DockerfileParseError) or self._step is None:
            self.err.write(f"failed to solve with frontend dockerfile.v0: failed to create LLB definition: {message}\n")
            self.err.flush()
            return
        m = _RUN_FAILED.match(message)
        if m:
            detail = final = f"executor failed running [{m.group(1)}]: exit code: {m.group(2)}"
        elif isinstance(err.__cause__, CopySourceNotFound) or isinstance(err, CopySourceNotFound):
            source = err if isinstance(err, CopySourceNotFound) else err.__cause__
            assert isinstance(source, CopySourceNotFound)
            detail = f'"/{source.path.lstrip("/")}" not found: not found'
            final = f"failed to compute cache key: {detail}"
        else:
            detail = final = message
        if self._vertex:
            self._line(f"ERROR: {detail}")
            name = self._vertex_name
            self._vertex = 0
            self.err.write(f"------\n > {name}:\n------\n")
        self.err.write(final + "\n")
        self.err.flush()
