"""Progress records streamed by long operations (layer L0: pure data, no I/O).

One producer, three renderers: the engine yields these records; the CLI prints docker's lines
(``dockernb.present``), the notebook renders widgets and the API server encodes JSON lines.

Build records, in the order a classic ``docker build`` prints them::

    BuildContextSent     Sending build context to Docker daemon  3.072kB
    BuildStep            Step 3/6 : RUN echo hi
    BuildTriggers        # Executing 1 build trigger
    BuildCacheHit         ---> Using cache
    BuildContainer        ---> Running in 1a2b3c4d5e6f   /   Removing intermediate container 1a2b...
    BuildOutput          (what a RUN step printed)
    BuildStepDone         ---> 9f8e7d6c5b4a
    BuildWarning         [Warning] One or more build-args [FOO] were not consumed
    BuildDone            Successfully built 9f8e7d6c5b4a
    BuildTagged          Successfully tagged web:latest

Object events, one per ``docker events`` line, are :class:`Event` records (the engine's
``system.events`` feed; the Jupyter sidebar and the API server's ``/events`` consume them).

Pull and push records (``docker pull``/``push``/``load``): :class:`ProgressMessage` is docker's
JSON progress message (``{"id": ..., "status": ..., "progressDetail": {...}}``), one per state
change of a layer or one line of status. ``PullProgress`` and ``PushProgress`` name it for each
verb. The layer states, in the order a layer goes through them, are :class:`LayerStatus`::

    abc123def456: Pulling fs layer     (Waiting, when three downloads are already running)
    abc123def456: Downloading  [=>   ]  1.2MB/63.4MB     current/total: compressed bytes
    abc123def456: Download complete    (docker's "Verifying Checksum" is part of the last read here)
    abc123def456: Extracting   [==>  ]  32.8MB/63.4MB    current/total: compressed bytes
    abc123def456: Pull complete       (or: Already exists)
    latest: Pulling from library/busybox                 id = the tag, status = the text
    Digest: sha256:...                                   no id
    Status: Downloaded newer image for busybox:latest    no id
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "PROGRESS_STATES",
    "BuildCacheHit",
    "BuildContainer",
    "BuildContextSent",
    "BuildDone",
    "BuildEvent",
    "BuildOutput",
    "BuildStep",
    "BuildStepDone",
    "BuildTagged",
    "BuildTriggers",
    "BuildWarning",
    "Event",
    "LayerStatus",
    "ProgressMessage",
    "PullProgress",
    "PushProgress",
    "Stream",
]


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildContextSent:
    """The context is ready; ``size`` is the bytes of the tar docker's client would upload.

    For BuildKit's progress (``DOCKER_BUILDKIT=1``): the Dockerfile's name and size in bytes, and the
    .dockerignore's size (-1 when there is none).
    """

    size: int
    dockerfile: str = "Dockerfile"
    dockerfile_size: int = 0
    dockerignore_size: int = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildStep:
    """A step begins; ``text`` is the instruction as docker shows it (``RUN echo hi``).

    For BuildKit's progress, which numbers only the steps that make a filesystem (FROM, RUN, COPY,
    ADD, WORKDIR) within their stage: ``vertex`` of ``vertices`` (0 for the others), the stage's
    name as BuildKit shows it ("" in a single-stage build), and on the first FROM the bytes
    BuildKit's context transfer would carry for the COPY/ADD sources (-1: none from the context).
    """

    index: int
    total: int
    text: str
    stage: int = 0
    vertex: int = 0
    vertices: int = 0
    stage_name: str = ""
    context_transfer: int = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildTriggers:
    """The base image carries ONBUILD triggers, about to run."""

    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildCacheHit:
    """The step's result came from the build cache."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildContainer:
    """An intermediate container was created (``removed=False``) or removed (``removed=True``)."""

    container_id: str
    removed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutput:
    """Bytes a RUN step wrote (decoded as UTF-8 with replacement, split as it arrived)."""

    text: str
    stream: Stream = Stream.STDOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildStepDone:
    """The step finished with this image (``sha256:<hex>``; empty for a step that made none).

    ``reused`` (a FROM): this root had built on the base before (BuildKit says CACHED).
    """

    image_id: str
    reused: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildWarning:
    """A line docker prints as is (``[Warning] ...``, parser warnings on stderr, HEALTHCHECK notes)."""

    text: str
    stream: Stream = Stream.STDOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildDone:
    """The build succeeded with this image (``sha256:<hex>``)."""

    image_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildTagged:
    """The image got this name (familiar form: ``web:latest``)."""

    name: str


BuildEvent = (
    BuildContextSent
    | BuildStep
    | BuildTriggers
    | BuildCacheHit
    | BuildContainer
    | BuildOutput
    | BuildStepDone
    | BuildWarning
    | BuildDone
    | BuildTagged
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something happened to an object, like one line of ``docker events``.

    ``type`` is docker's object type (``container``, ``image``, ``network``, ``volume``,
    ``builder``), ``action`` docker's verb (``create``, ``start``, ``die``, ``destroy``, ``pull``,
    ``tag``, ``untag``, ``delete``; ``exec_start: sh`` carries its detail after a colon),
    ``actor_id`` the object's id (a container's 64 hex, an image's ``sha256:...`` or reference),
    ``attributes`` docker's Actor.Attributes (``name``, ``image``, ``exitCode``, labels...),
    ``time_nano`` when it happened (ns since the epoch; unique and increasing within one feed).
    """

    type: str
    action: str
    actor_id: str
    time_nano: int
    attributes: Mapping[str, str] = field(default_factory=dict)
    scope: str = "local"


# --- pull / push / load progress -----------------------------------------------------------


class LayerStatus(StrEnum):
    """What docker says about one layer (pull, push, load), in its words."""

    PULLING = "Pulling fs layer"
    WAITING = "Waiting"
    DOWNLOADING = "Downloading"
    VERIFYING = "Verifying Checksum"
    DOWNLOADED = "Download complete"
    EXTRACTING = "Extracting"
    PULLED = "Pull complete"
    EXISTS = "Already exists"
    RETRYING = "Retrying"
    PREPARING = "Preparing"
    PUSHING = "Pushing"
    PUSHED = "Pushed"
    PUSH_EXISTS = "Layer already exists"
    MOUNTED = "Mounted from"
    LOADING = "Loading layer"


#: statuses that come with progress counts (the ones docker draws as bars, and hides without a TTY)
PROGRESS_STATES = frozenset({LayerStatus.DOWNLOADING, LayerStatus.EXTRACTING, LayerStatus.PUSHING,
                             LayerStatus.LOADING})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressMessage:
    """One of docker's JSON progress messages.

    ``id`` is a layer's short id (12 hex of its blob digest), the tag for ``Pulling from``, or
    empty for whole-operation lines (``Digest: ...``, ``Status: ...``); ``status`` is the text;
    ``current``/``total`` are bytes for the states in :data:`PROGRESS_STATES` (``total`` 0 when
    unknown). ``aux`` carries docker's auxiliary data (push: ``{"Tag", "Digest", "Size"}``).
    """

    status: str
    id: str = ""
    current: int = 0
    total: int = 0
    aux: dict[str, object] | None = None

    @property
    def has_progress(self) -> bool:
        return self.status in PROGRESS_STATES and (self.current > 0 or self.total > 0)


PullProgress = ProgressMessage
PushProgress = ProgressMessage
