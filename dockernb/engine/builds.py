"""BuildService: ``docker build`` for the engine's front ends (layer L6).

The CLI passes what ``dockernb build`` was given (a context path or ``-``, ``-f``...); the
notebook passes a Dockerfile as text and a context directory (``%%dockerfile``). Either way
the result is an iterator of :mod:`dockernb.spec.events` build records to render; the image
is stored and tagged by the time the iterator ends.

The steps that touch images, filesystems and processes go through an
:class:`~dockernb.build.executor.Executor`: by default the engine's own
(:class:`~dockernb.engine.build_executor.EngineExecutor`: RUN in the runtime on the default
network, COPY/ADD/WORKDIR on mounted snapshots, layers through the image service), made on
first use; tests may set ``executor`` to a fake.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockernb.build.builder import Builder, BuildOptions
from dockernb.build.cache import BuildCache
from dockernb.build.context import BuildContext, context_from_dir, context_from_stream
from dockernb.build.executor import Executor
from dockernb.config import Config
from dockernb.errors import BuildContextError
from dockernb.spec.events import BuildEvent
from dockernb.store.layout import Layout

if TYPE_CHECKING:
    from dockernb.engine.images import ImageService
    from dockernb.network.manager import Networks

__all__ = ["BuildService"]


class BuildService:
    """Like ``docker build``: one method, :meth:`build`."""

    def __init__(
        self,
        config: Config,
        executor: Executor | None = None,
        *,
        images: Callable[[], ImageService] | None = None,
        networks: Callable[[], Networks] | None = None,
    ) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self._executor = executor
        self._images = images
        self._networks = networks

    @property
    def executor(self) -> Executor:
        """What runs the steps: the engine's executor unless one was given (or set, in tests)."""
        if self._executor is None:
            from dockernb.engine.build_executor import EngineExecutor

            self._executor = EngineExecutor(self.config, self._image_service(), self._network_manager)
        return self._executor

    @executor.setter
    def executor(self, value: Executor) -> None:
        self._executor = value

    def _image_service(self) -> ImageService:
        if self._images is not None:
            return self._images()
        from dockernb.engine.images import ImageService

        return ImageService(self.config)

    def _network_manager(self) -> Networks:
        if self._networks is not None:
            return self._networks()
        from dockernb.network.manager import Networks

        self.layout.ensure()
        return Networks(self.layout, self.config)

    def build(
        self,
        context: str | os.PathLike[str] | None = None,
        *,
        stdin: BinaryIO | None = None,
        dockerfile: str | None = None,
        dockerfile_text: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        tags: Sequence[str] = (),
        build_args: Mapping[str, str | None] | None = None,
        labels: Mapping[str, str] | None = None,
        target: str = "",
        no_cache: bool = False,
        pull: bool = False,
        network: str = "default",
        platform: str = "",
    ) -> Iterator[BuildEvent]:
        """Build an image, like ``docker build``; iterate the result to run the build.

        ``context`` is a directory or ``"-"`` (a tar, or a lone Dockerfile, read from
        ``stdin``); ``dockerfile`` is ``-f`` (relative to ``cwd``; ``"-"``: read it from
        ``stdin``); ``dockerfile_text`` gives the Dockerfile itself (``%%dockerfile``, where
        ``context`` may be None for an empty context).

        Raises, while iterating: BuildContextError (docker's client-side errors) first, then
        DockerfileParseError, DockerfileInvalid, BuildTargetNotFound, InvalidReference before
        the first step, and BuildError (with a failed RUN's exit code) during the steps. The
        context's temporary files are gone when the iterator ends or is closed.
        """
        options = BuildOptions(
            tags=tuple(tags),
            build_args=dict(build_args or {}),
            labels=dict(labels or {}),
            target=target,
            no_cache=no_cache,
            pull=pull,
            network=network,
            platform=platform,
        )
        ctx = self._context(context, stdin=stdin, dockerfile=dockerfile, dockerfile_text=dockerfile_text, cwd=cwd)
        with ctx:
            builder = Builder(self.executor, cache=BuildCache(self.layout.build_cache), tmp_dir=self._tmp())
            yield from builder.build(ctx, options)

    def _tmp(self) -> Path | None:
        try:
            self.layout.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return None
        return self.layout.tmp

    def _context(
        self,
        context: str | os.PathLike[str] | None,
        *,
        stdin: BinaryIO | None,
        dockerfile: str | None,
        dockerfile_text: str | None,
        cwd: str | os.PathLike[str] | None,
    ) -> BuildContext:
        if context is not None and str(context) == "-":
            if dockerfile == "-":
                raise BuildContextError("invalid argument: can't use stdin for both build context and dockerfile")
            if stdin is None:
                raise BuildContextError("unable to prepare context: no standard input to read the context from")
            return context_from_stream(stdin, dockerfile=dockerfile, tmp_dir=self._tmp())
        if dockerfile == "-":
            if stdin is None:
                raise BuildContextError("unable to prepare context: no standard input to read the Dockerfile from")
            dockerfile_text = stdin.read().decode("utf-8", "surrogateescape")
            dockerfile = None
        if context is None:
            if dockerfile_text is None:
                raise BuildContextError("unable to prepare context: no context and no Dockerfile")
            data = io.BytesIO(dockerfile_text.encode("utf-8", "surrogateescape"))
            return context_from_stream(data, tmp_dir=self._tmp())
        return context_from_dir(context, dockerfile=dockerfile, dockerfile_text=dockerfile_text, cwd=cwd)
