"""docker-py's high-level objects over the engine seam: Image, Container and their collections (layer L7.5).

As in docker-py, a model keeps the record it was made from (``attrs``: the Docker-shaped
inspect JSON, read on demand), exposes a few properties, has :meth:`reload`, and every method is
one call to the engine (:mod:`dockernb.client.seam`). Collections use docker-py's
``list``/``get``/``pull``/``remove`` words; the CLI's verbs are the spec, so ``container.stop()``
is ``docker stop``. Errors are :mod:`dockernb.errors` classes, raised as they come.
"""

from __future__ import annotations

import builtins
import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dockernb.client.commands import call
from dockernb.client.seam import ContainersAPI, EngineAPI, ImagesAPI
from dockernb.engine.containers.types import Container as EngineContainer
from dockernb.engine.image_types import HistoryItem
from dockernb.engine.image_types import Image as ImageRecord
from dockernb.errors import ContainerExited
from dockernb.present.ports import displayable_ports
from dockernb.spec.container import ContainerSummary
from dockernb.spec.events import ProgressMessage
from dockernb.spec.logline import LogLine

__all__ = ["Container", "ContainerCollection", "ExecResult", "Image", "ImageCollection", "run_argv"]


class Image:
    """A stored image: ``id``, ``short_id``, ``tags``, ``labels``; ``attrs`` is docker's inspect JSON."""

    def __init__(self, record: ImageRecord, api: ImagesAPI) -> None:
        self.record = record
        self._api = api
        self._attrs: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def short_id(self) -> str:
        return "sha256:" + self.record.short_id

    @property
    def tags(self) -> list[str]:
        return list(self.record.tags)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.record.labels)

    @property
    def size(self) -> int:
        return self.record.size

    @property
    def attrs(self) -> dict[str, Any]:
        if self._attrs is None:
            self._attrs = self._api.inspect(self.id)
        return self._attrs

    def history(self) -> list[HistoryItem]:
        """Like ``docker history``."""
        return self._api.history(self.id)

    def tag(self, repository: str, tag: str = "latest") -> None:
        """Like ``docker tag``."""
        self._api.tag(self.id, f"{repository}:{tag}")

    def reload(self) -> None:
        self.record = self._api.get(self.id)
        self._attrs = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        tags = ", ".join(f"'{t}'" for t in self.record.tags)
        return f"<Image: {tags}>" if tags else f"<Image: {self.short_id}>"


class ImageCollection:
    """``client.images``: like docker-py's ImageCollection."""

    def __init__(self, engine: EngineAPI) -> None:
        self._engine = engine

    @property
    def api(self) -> ImagesAPI:
        return self._engine.images

    def list(  # noqa: A003
        self, name: str | None = None, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> builtins.list[Image]:
        """Like ``docker images [NAME]``."""
        wanted = {k: builtins.list(v) for k, v in (filters or {}).items()}
        if name:
            wanted.setdefault("reference", []).append(name)
        return [Image(r, self.api) for r in self.api.list(all=all, filters=wanted)]

    def get(self, name: str) -> Image:
        """An image by name or id; raises NoSuchImage."""
        return Image(self.api.get(name), self.api)

    def pull(self, repository: str, tag: str | None = None, *, platform: str = "") -> Image:
        """Like ``docker pull``: returns the image once pulled (progress: :meth:`pull_progress`)."""
        ref = f"{repository}:{tag}" if tag else repository
        for _ in self.api.pull(ref, platform=platform):
            pass
        return self.get(ref if tag or "@" in ref or ":" in ref.rsplit("/", 1)[-1] else ref + ":latest")

    def pull_progress(self, ref: str, *, platform: str = "") -> Iterator[ProgressMessage]:
        return self.api.pull(ref, platform=platform)

    def remove(self, image: str, *, force: bool = False, noprune: bool = False) -> None:
        """Like ``docker rmi``."""
        self.api.remove(image, force=force, prune=not noprune)


class ExecResult(tuple[int, bytes]):
    """``(exit_code, output)`` as docker-py's ``exec_run`` returns it."""

    @property
    def exit_code(self) -> int:
        return self[0]

    @property
    def output(self) -> bytes:
        return self[1]


def _summary(found: EngineContainer) -> ContainerSummary:
    """A ps row's record for a container ``get`` returned (its live port bindings as ps shows them)."""
    return ContainerSummary(record=found.record, state=found.state, bindings=found.ports)


class Container:
    """A container: ``id``, ``name``, ``status``, ``image``, ``ports``; ``attrs`` is docker's inspect JSON.

    ``status`` is read fresh from the engine each time (docker-py needs ``reload()``; a
    notebook cell asking ``c.status`` wants the truth now).
    """

    def __init__(self, summary: ContainerSummary, api: ContainersAPI) -> None:
        self.summary = summary
        self._api = api

    @property
    def id(self) -> str:
        return self.summary.record.id

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def name(self) -> str:
        return self.summary.record.name

    @property
    def image(self) -> str:
        return self.summary.record.config.image

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.summary.record.config.labels)

    @property
    def status(self) -> str:
        """docker's State.Status now: created, running, paused, restarting, removing, exited, dead."""
        self.reload()
        return str(self.summary.state.status)

    @property
    def exit_code(self) -> int:
        self.reload()
        return self.summary.state.exit_code

    @property
    def ports(self) -> str:
        """The published ports as ``ps`` shows them (``0.0.0.0:8080->80/tcp``), as of the last reload."""
        return displayable_ports(self.summary.bindings, self.summary.exposed)

    @property
    def attrs(self) -> dict[str, Any]:
        return self._api.inspect(self.id)

    def reload(self) -> None:
        self.summary = _summary(self._api.get(self.id))

    def logs(self, *, stdout: bool = True, stderr: bool = True, tail: int = -1) -> bytes:
        """Like ``docker logs`` (without ``-f``): the lines so far, as bytes."""
        wanted = {"stdout"} if stdout and not stderr else {"stderr"} if stderr and not stdout else None
        return b"".join(line.data for line in self._api.logs(self.id, tail=tail)
                        if wanted is None or line.stream in wanted)  # fmt: skip

    def stream_logs(self, *, follow: bool = True, tail: int = -1) -> Iterator[LogLine]:
        """Like ``docker logs -f``: lines as they come, until the container stops."""
        return self._api.logs(self.id, follow=follow, tail=tail)

    def start(self) -> None:
        self._api.start(self.id)

    def stop(self, timeout: int | None = None) -> None:
        self._api.stop(self.id, timeout=timeout)

    def restart(self, timeout: int | None = None) -> None:
        self._api.restart(self.id, timeout=timeout)

    def kill(self, signal: str = "KILL") -> None:
        self._api.kill(self.id, signal)

    def remove(self, *, force: bool = False, v: bool = False) -> None:
        self._api.remove(self.id, force=force, volumes=v)

    def wait(self) -> int:
        """Like ``docker wait``: the exit code once the container has stopped."""
        return self._api.wait(self.id)

    def exec(self, cmd: str | Sequence[str], *, user: str = "", workdir: str = "",
             environment: Sequence[str] = ()) -> ExecResult:  # fmt: skip
        """Like ``docker exec`` (docker-py's ``exec_run``): ``(exit_code, output)``, stdout then stderr."""
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        done = self._api.exec_run(self.id, argv, env=environment, workdir=workdir or None, user=user or None)
        return ExecResult((done.exit_code, done.output))

    exec_run = exec

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Container) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Container: {self.short_id} {self.name}>"


class ContainerCollection:
    """``client.containers``: like docker-py's ContainerCollection."""

    def __init__(self, engine: EngineAPI) -> None:
        self._engine = engine

    @property
    def api(self) -> ContainersAPI:
        return self._engine.containers

    def list(  # noqa: A003
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> builtins.list[Container]:
        """Like ``docker ps [-a]`` (newest first)."""
        api = self.api
        return [Container(s, api) for s in api.list(all=all, filters=filters or {})]

    def get(self, container_id: str) -> Container:
        """A container by name, id or id prefix; raises NoSuchContainer."""
        api = self.api
        return Container(_summary(api.get(container_id)), api)

    def create(self, image: str, command: str | Sequence[str] | None = None, **options: Any) -> Container:
        """Like ``docker create``; options as :func:`run_argv` takes them."""
        done = call(self._engine, ["create", *run_argv(image, command, **options)])
        return self.get(done.stdout.strip().splitlines()[-1])

    def run(self, image: str, command: str | Sequence[str] | None = None, *, detach: bool = False,
            **options: Any) -> Container | bytes:  # fmt: skip
        """Like ``docker run``: a :class:`Container` with ``detach``, else what it printed.

        A non-zero exit raises ContainerExited (docker-py's ContainerError) with the output.
        """
        argv = ["run", *(["-d"] if detach else []), *run_argv(image, command, **options)]
        done = call(self._engine, argv)
        if detach:
            return self.get(done.stdout.strip().splitlines()[-1])
        if done.code != 0:
            raise ContainerExited(image=image, exit_code=done.code, output=done.stdout + done.stderr)
        return done.stdout.encode()


def run_argv(
    image: str,
    command: str | Sequence[str] | None = None,
    *,
    name: str | None = None,
    environment: Mapping[str, str] | Sequence[str] | None = None,
    ports: Mapping[str, int | str] | None = None,
    labels: Mapping[str, str] | None = None,
    volumes: Sequence[str] = (),
    remove: bool = False,
    tty: bool = False,
    stdin_open: bool = False,
    entrypoint: str | None = None,
    working_dir: str | None = None,
    user: str | None = None,
    network: str | None = None,
    hostname: str | None = None,
) -> list[str]:
    """docker-py's keyword options as ``docker run`` flags (``ports={"80/tcp": 8080}`` is ``-p 8080:80/tcp``)."""
    argv: list[str] = []
    if name:
        argv += ["--name", name]
    env = environment or {}
    for item in env.items() if isinstance(env, Mapping) else ((e, None) for e in env):
        key, value = item
        argv += ["-e", key if value is None else f"{key}={value}"]
    for port, host in (ports or {}).items():
        argv += ["-p", f"{host}:{port}"]
    for key, value in (labels or {}).items():
        argv += ["-l", f"{key}={value}"]
    for v in volumes:
        argv += ["-v", v]
    flags = {"--rm": remove, "-t": tty, "-i": stdin_open}
    argv += [flag for flag, on in flags.items() if on]
    for flag, value in (("--entrypoint", entrypoint), ("-w", working_dir), ("-u", user), ("--network", network),
                        ("-h", hostname)):  # fmt: skip
        if value is not None:
            argv += [flag, value]
    argv.append(image)
    if command is not None:
        argv += shlex.split(command) if isinstance(command, str) else list(command)
    return argv
