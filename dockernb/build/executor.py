"""The seam between the builder and the machinery that runs steps: the Executor role (layer L5).

The builder (``build/builder.py``) decides *what* each step does: the command line and
environment of a RUN, which files a COPY takes and where they go, the image config and history
of every result, the cache. An :class:`Executor` does the parts that touch images, filesystems
and processes. Lifecycle of one step, as the builder drives it::

    base = executor.pull("busybox", platform="", always=False)        # FROM: a stored image
    result = yield from executor.run(base, RunSpec(...))              # RUN: output streams out
    layer = executor.copy(parent, CopySpec(...))                      # COPY/ADD
    layer = executor.mkdir(parent, "/app", user="")                   # WORKDIR
    image_id = executor.commit(doc_bytes)                             # every step: store config
    executor.tag(image_id, "docker.io/library/web:latest")            # the end: -t names

Invariants an implementation keeps:

* ``parent`` is always an image the executor returned (``pull``/``image``) or committed; its
  filesystem is the chain of ``parent.doc.diff_ids`` (empty for ``scratch``).
* ``run``/``copy``/``mkdir`` register the new layer under its ``diff_id`` before returning it,
  so that ``commit`` of a config listing that diff_id succeeds. They return ``None`` when the
  step changed nothing (docker then records an ``empty_layer`` history entry). Layer tars are
  deterministic: the same inputs give the same diff_id.
* ``run`` leaves nothing behind, whatever the outcome: no container, mount, process or network
  (BuildKit's behaviour, not the classic builder's, which kept failed containers). A non-zero
  exit is a result (``RunResult.exit_code``), not an exception; failing to *start* is a
  ``DockernbError`` (``CommandNotFound``...). The container gets the default network unless
  the spec says ``none``/``host``.
* ``commit`` stores the config bytes as given and returns their id (``sha256:`` + hex of the
  bytes); it is idempotent.

``dockernb.testing.FakeExecutor`` implements this in memory for unit tests.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dockernb.build.image import ImageDoc
from dockernb.spec.events import BuildOutput

__all__ = [
    "BaseImage",
    "CopySource",
    "CopySpec",
    "Executor",
    "Layer",
    "RunResult",
    "RunSpec",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseImage:
    """A stored image a step builds on: its id and its config."""

    image_id: str  # "sha256:<hex>"; "" for scratch
    doc: ImageDoc


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """A filesystem change a step made, registered by the executor."""

    diff_id: str  # "sha256:<hex>" of the uncompressed, deterministic layer tar
    size: int = 0  # bytes it adds (docker history's SIZE)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """One RUN: what to execute in a container from ``parent``'s filesystem."""

    container_id: str  # 64 hex, chosen by the builder (it prints "Running in <id>" first)
    argv: tuple[str, ...]  # the shell and the command, or the exec form as written
    env: tuple[str, ...]  # "KEY=value": the image's Env, then the build args
    user: str = ""  # the image's USER ("" = root), "name[:group]" or "uid[:gid]"
    workdir: str = "/"
    network: str = "default"  # "default" (the default network), "none" or "host"
    #: inline documents to make readable in the container, path -> content (RUN <<EOF with #!)
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    exit_code: int
    layer: Layer | None = None  # only when exit_code == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CopySource:
    """One COPY/ADD source, already resolved and checked by the builder.

    Exactly one of ``path`` (a file or directory on this host: context, download), ``content``
    (an inline document) or ``image_path`` (a path or glob inside ``CopySpec.from_image``) is set.
    """

    name: str  # the source's base name when the destination is a directory
    path: Path | None = None
    is_dir: bool = False
    #: for a directory from the context: the entries under it to copy (relative, walk order);
    #: anything not listed (excluded by .dockerignore) must not be copied
    members: tuple[str, ...] = ()
    content: bytes | None = None
    image_path: str = ""
    extract: bool = False  # ADD: unpack it when it is a local tar archive (plain/gzip/bzip2/xz)


@dataclass(frozen=True, slots=True, kw_only=True)
class CopySpec:
    """A COPY or ADD, with docker's destination rules left to apply against the image.

    ``dest`` is absolute (relative destinations are already joined to the WORKDIR) and keeps a
    trailing ``/``: a file goes to ``dest/<name>`` when ``dest`` ends with ``/`` or is an existing
    directory in the parent, else to ``dest`` itself; a directory's *contents* go into ``dest``;
    missing parents are created (0755, owned like the files).
    """

    sources: tuple[CopySource, ...]
    dest: str
    from_image: BaseImage | None = None  # COPY --from (a stage's result or another image)
    chown: str = ""  # "user[:group]" resolved against the parent's /etc/passwd and /etc/group
    chmod: int | None = None
    #: COPY --from without --chown keeps the source's owners; everything else is root's
    #: (or chown's)
    preserve_ownership: bool = False
    user: str = ""  # the image's USER (for resolving names)
    instruction: str = "COPY"  # or "ADD": the word docker's errors start with


class Executor(Protocol):
    """Runs the parts of build steps that touch images, filesystems and processes."""

    def pull(self, ref: str, *, platform: str = "", always: bool = False) -> BaseImage:
        """The image ``ref`` names (FROM, COPY --from=image), pulled when absent or when ``always``.

        ``platform`` is ``os/arch[/variant]`` ("" for the host's). Raises NoSuchImage,
        ManifestUnknown, RegistryAuthRequired... with docker's words.
        """
        ...

    def image(self, image_id: str) -> BaseImage | None:
        """A stored image by id (cache hits, stage results), or None when it is gone."""
        ...

    def run(self, parent: BaseImage, spec: RunSpec) -> Generator[BuildOutput, None, RunResult]:
        """Run ``spec`` in a container on ``parent``; yield its output as it comes, return the result."""
        ...

    def copy(self, parent: BaseImage, spec: CopySpec) -> Layer | None:
        """Copy the sources into a new layer on ``parent`` (None when nothing changed)."""
        ...

    def mkdir(self, parent: BaseImage, path: str, *, user: str = "") -> Layer | None:
        """WORKDIR: create ``path`` (and parents) unless it exists; None when it already did."""
        ...

    def commit(self, config: bytes) -> str:
        """Store an image config (its diff_ids all registered) and return its id."""
        ...

    def tag(self, image_id: str, name: str) -> None:
        """Point ``name`` (normalised: ``docker.io/library/web:latest``) at the image."""
        ...
