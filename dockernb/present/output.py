"""docker's classic builder output, from build events (layer L7).

:func:`build_line` turns one :mod:`dockernb.spec.events` record into the text ``docker build``
(``DOCKER_BUILDKIT=0``) prints, as ../shared/golden records it; :class:`BuildPrinter` writes
a stream of them, with ``-q``'s rule: nothing but the image id on success, everything on
stderr on failure. Like docker, what a RUN writes to its stderr is shown on stdout in red.
"""

from __future__ import annotations

from typing import TextIO

from dockernb.present.units import human_size, short_id
from dockernb.spec.events import (
    BuildCacheHit,
    BuildContainer,
    BuildContextSent,
    BuildDone,
    BuildEvent,
    BuildOutput,
    BuildStep,
    BuildStepDone,
    BuildTagged,
    BuildTriggers,
    BuildWarning,
    Stream,
)

__all__ = ["BuildPrinter", "build_line"]

_RED, _RESET = "\x1b[91m", "\x1b[0m"


def build_line(event: BuildEvent) -> tuple[str, Stream]:
    """The text docker prints for ``event`` and the stream it goes to."""
    if isinstance(event, BuildContextSent):
        return f"Sending build context to Docker daemon {human_size(event.size):>8}\r\r\n", Stream.STDOUT
    if isinstance(event, BuildStep):
        return f"Step {event.index}/{event.total} : {event.text}\n", Stream.STDOUT
    if isinstance(event, BuildTriggers):
        plural = "s" if event.count > 1 else ""
        return f"# Executing {event.count} build trigger{plural}\n", Stream.STDOUT
    if isinstance(event, BuildCacheHit):
        return " ---> Using cache\n", Stream.STDOUT
    if isinstance(event, BuildContainer):
        if event.removed:
            return f"Removing intermediate container {short_id(event.container_id)}\n", Stream.STDOUT
        return f" ---> Running in {short_id(event.container_id)}\n", Stream.STDOUT
    if isinstance(event, BuildOutput):
        if event.stream == Stream.STDERR:
            return _RED + event.text + _RESET, Stream.STDOUT
        return event.text, Stream.STDOUT
    if isinstance(event, BuildStepDone):
        return f" ---> {short_id(event.image_id) if event.image_id else ''}\n", Stream.STDOUT
    if isinstance(event, BuildWarning):
        return event.text + "\n", event.stream
    if isinstance(event, BuildDone):
        return f"Successfully built {short_id(event.image_id)}\n", Stream.STDOUT
    if isinstance(event, BuildTagged):
        return f"Successfully tagged {event.name}\n", Stream.STDOUT
    raise TypeError(f"not a build event: {event!r}")


class BuildPrinter:
    """Writes build events as docker does; with ``quiet``, keeps them for :meth:`fail`."""

    def __init__(self, out: TextIO, err: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.err = err
        self.quiet = quiet
        self.image_id = ""
        self._held: list[str] = []

    def write(self, event: BuildEvent) -> None:
        if isinstance(event, BuildDone):
            self.image_id = event.image_id
        text, stream = build_line(event)
        if self.quiet:
            self._held.append(text)
            return
        target = self.err if stream == Stream.STDERR else self.out
        target.write(text)
        target.flush()

    def finish(self) -> None:
        """End of a successful build: ``-q`` prints the image id."""
        if self.quiet and self.image_id:
            self.out.write(self.image_id + "\n")
            self.out.flush()

    def fail(self, message: str) -> None:
        """A failed build: docker's ``-q`` shows what it held back, then the error, on stderr."""
        if self.quiet:
            self.err.write("".join(self._held))
        self.err.write(message + "\n")
        self.err.flush()
