"""A backend of :mod:`dockernb.client.seam` over the Engine API, through docker-py's ``APIClient`` (layer L7.5).

docker-py (a maintained client we did not write) speaks unix, tcp and ssh, streams pull progress
and multiplexed logs; this module turns its JSON into the engine's records
(:mod:`.records`) and its errors into :mod:`dockernb.errors` classes with the daemon's words,
so what sits above the seam cannot tell a remote engine from the in-process one.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import docker
import docker.errors
import requests

from dockernb.client.remote.host import parse_host
from dockernb.client.remote.records import container_from_inspect, image_from_inspect, image_from_summary
from dockernb.engine.containers.types import Container, ExecResult
from dockernb.engine.image_types import DeleteItem, HistoryItem, Image
from dockernb.errors import (
    Conflict,
    DockernbError,
    Forbidden,
    InternalError,
    InvalidArgument,
    NoSuchContainer,
    NoSuchImage,
    NotFound,
    NotSupported,
    RegistryError,
    Unauthorized,
    Unavailable,
)
from dockernb.spec.container import ContainerSummary
from dockernb.spec.events import BuildEvent, ProgressMessage
from dockernb.spec.logline import LogLine

__all__ = ["RemoteEngine", "connect", "not_remote"]

_BY_STATUS: dict[int, type[DockernbError]] = {
    400: InvalidArgument, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 501: NotSupported,
}  # fmt: skip


def not_remote(what: str) -> NotSupported:
    """The refusal for what the remote backend does not do yet."""
    return NotSupported(f'"dockernb connect": {what} is not available on a remote engine yet')


class _Mapped:
    """Turns docker-py's and requests' exceptions into dockernb errors with the daemon's message."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, err: BaseException | None, tb: object) -> None:
        if err is None or isinstance(err, DockernbError):
            return
        if isinstance(err, docker.errors.APIError):
            raise_api(err)
        if isinstance(err, (requests.exceptions.ConnectionError, docker.errors.DockerException, ConnectionError)):
            text = f"Cannot connect to the Docker daemon at {self.url}. Is the docker daemon running?"
            raise Unavailable(text) from None


def raise_api(err: docker.errors.APIError) -> NoReturn:
    text = str(err.explanation or err).strip()
    status = err.status_code or 500
    if status == 404 and text.startswith("No such container: "):
        raise NoSuchContainer(text.removeprefix("No such container: ")) from None
    if status == 404 and text.startswith("No such image: "):
        raise NoSuchImage(text.removeprefix("No such image: ")) from None
    kind = _BY_STATUS.get(status, InternalError)
    raise kind(text) from None


class RemoteSystem:
    def __init__(self, engine: RemoteEngine) -> None:
        self._e = engine

    def version(self) -> Any:  # noqa: ANN401 - a VersionInfo-like record
        from types import SimpleNamespace

        with self._e.mapped:
            v = self._e.api.version()
        return SimpleNamespace(version=v.get("Version", ""), api_version=v.get("ApiVersion", ""), raw=v)

    def info(self) -> Any:  # noqa: ANN401
        with self._e.mapped:
            return self._e.api.info()


class RemoteImages:
    def __init__(self, engine: RemoteEngine) -> None:
        self._e = engine

    def list(  # noqa: A003
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None  # noqa: A002
    ) -> builtins.list[Image]:
        with self._e.mapped:
            rows = self._e.api.images(all=all, filters={k: list(v) for k, v in (filters or {}).items()} or None)
        return sorted((image_from_summary(r) for r in rows), key=lambda i: i.created.timestamp() if i.created else 0,
                      reverse=True)  # fmt: skip

    def get(self, ref: str) -> Image:
        return image_from_inspect(self.inspect(ref))

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._e.mapped:
            return dict(self._e.api.inspect_image(ref))

    def pull(self, ref: str, *, platform: str = "", all_tags: bool = False) -> Iterator[ProgressMessage]:
        with self._e.mapped:
            stream = self._e.api.pull(ref, platform=platform or None, all_tags=all_tags, stream=True, decode=True)
            for m in stream:
                if "error" in m:
                    text = str(m.get("error"))
                    raise (NotFound if "not found" in text or "unknown" in text else RegistryError)(text)
                detail = m.get("progressDetail") or {}
                yield ProgressMessage(status=str(m.get("status", "")), id=str(m.get("id", "")),
                                      current=int(detail.get("current") or 0), total=int(detail.get("total") or 0))

    def remove(self, ref: str, *, force: bool = False, prune: bool = True) -> builtins.list[DeleteItem]:
        with self._e.mapped:
            rows = self._e.api.remove_image(ref, force=force, noprune=not prune)
        return [DeleteItem(untagged=r.get("Untagged", ""), deleted=r.get("Deleted", "")) for r in rows or []]

    def tag(self, source: str, target: str) -> None:
        repo, _, tag = target.rpartition(":") if ":" in target.rsplit("/", 1)[-1] else (target, "", "latest")
        with self._e.mapped:
            self._e.api.tag(source, repo, tag)

    def history(self, ref: str) -> builtins.list[HistoryItem]:
        raise not_remote("history")


class RemoteBuilds:
    def build(self, *args: Any, **kwargs: Any) -> Iterator[BuildEvent]:  # noqa: ANN401
        raise not_remote("build")


class RemoteContainers:
    def __init__(self, engine: RemoteEngine) -> None:
        self._e = engine
        #: the warnings of the last create (the daemon's ``Warnings``)
        self.last_warnings: builtins.list[str] = []

    @property
    def images(self) -> RemoteImages:
        return self._e.images

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._e.mapped:
            return dict(self._e.api.inspect_container(ref))

    def get(self, ref: str) -> Container:
        return container_from_inspect(self.inspect(ref))

    def resolve(self, ref: str) -> str:
        return self.get(ref).id

    def list(  # noqa: A003
        self,
        *,
        all: bool = False,  # noqa: A002
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = -1,
        latest: bool = False,
        size: bool = False,
    ) -> builtins.list[ContainerSummary]:
        with self._e.mapped:
            rows = self._e.api.containers(all=all, filters={k: list(v) for k, v in (filters or {}).items()} or None,
                                          limit=limit, latest=latest, size=size)  # fmt: skip
        out = []
        for row in rows:
            try:
                found = self.get(row["Id"])
            except NotFound:
                continue  # removed between the list and the inspect
            out.append(ContainerSummary(record=found.record, state=found.state, bindings=found.ports,
                                        size_rw=row.get("SizeRw"), size_root_fs=row.get("SizeRootFs")))  # fmt: skip
        return out

    def create(self, image: str, cmd: Sequence[str] | None, **options: Any) -> str:  # noqa: ANN401
        """``POST /containers/create`` with docker-py's ``create_container`` options; the new id."""
        with self._e.mapped:
            made = self._e.api.create_container(image, list(cmd) if cmd else None, **options)
        self.last_warnings = list(made.get("Warnings") or [])
        return str(made["Id"])

    def start(self, ref: str, *, attach: tuple[bool, bool, bool] | None = None,
              console_size: tuple[int, int] | None = None) -> None:  # fmt: skip
        if attach and any(attach):
            raise not_remote("an attached start")
        with self._e.mapped:
            self._e.api.start(ref)

    def stop(self, ref: str, *, timeout: int | None = None) -> str:
        with self._e.mapped:
            self._e.api.stop(ref, timeout=timeout)
        return ref

    def restart(self, ref: str, *, timeout: int | None = None) -> str:
        with self._e.mapped:
            self._e.api.restart(ref, timeout=10 if timeout is None else timeout)
        return ref

    def kill(self, ref: str, signal: str = "KILL") -> str:
        with self._e.mapped:
            self._e.api.kill(ref, signal=signal)
        return ref

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        with self._e.mapped:
            self._e.api.remove_container(ref, force=force, v=volumes)
        return ref

    def wait(self, ref: str, *, condition: str = "not-running") -> int:
        with self._e.mapped:
            return int(self._e.api.wait(ref, condition=condition)["StatusCode"])

    def logs(self, ref: str, *, tail: int = -1, since_ns: int = 0, until_ns: int = 0,
             follow: bool = False) -> Iterator[LogLine]:  # fmt: skip
        """The container's log as LogLines, stdout and stderr apart (NoSuchContainer now, not at the first line)."""
        tty = bool((self.inspect(ref).get("Config") or {}).get("Tty"))
        return self._log_lines(ref, tty, tail, since_ns, until_ns, follow)

    def _log_lines(self, ref: str, tty: bool, tail: int, since_ns: int, until_ns: int,
                   follow: bool) -> Iterator[LogLine]:  # fmt: skip
        params: dict[str, Any] = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
                                  "tail": "all" if tail < 0 else tail}  # fmt: skip
        if since_ns:
            params["since"] = f"{since_ns // 10**9}.{since_ns % 10**9:09d}"
        if until_ns:
            params["until"] = f"{until_ns // 10**9}.{until_ns % 10**9:09d}"
        api = self._e.api
        with self._e.mapped:
            res = api._get(api._url("/containers/{0}/logs", ref), params=params, stream=True)
            api._raise_for_status(res)
            if follow:
                api._disable_socket_timeout(api._get_raw_response_socket(res))
            for stream, data in _frames(res, tty):
                for line in data.splitlines(keepends=True):
                    stamp, _, rest = line.partition(b" ")
                    yield LogLine(stream, rest, stamp.decode("ascii", "replace"))

    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> NoReturn:
        raise not_remote("attach")

    def exec_demux(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (), workdir: str | None = None,
                   user: str | None = None, privileged: bool = False,
                   detach: bool = False) -> tuple[int | None, bytes, bytes]:  # fmt: skip
        """One exec without a terminal: its exit code (None when detached), stdout, stderr."""
        api = self._e.api
        with self._e.mapped:
            made = api.exec_create(ref, list(cmd), environment=list(env) or None, workdir=workdir or None,
                                   user=user or "", privileged=privileged)  # fmt: skip
            if detach:
                api.exec_start(made["Id"], detach=True)
                return None, b"", b""
            out, err = api.exec_start(made["Id"], demux=True)
            code = api.exec_inspect(made["Id"]).get("ExitCode")
        return (126 if code is None else int(code)), out or b"", err or b""

    def exec_run(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (), workdir: str | None = None,
                 user: str | None = None, privileged: bool = False) -> ExecResult:  # fmt: skip
        code, out, err = self.exec_demux(ref, cmd, env=env, workdir=workdir, user=user, privileged=privileged)
        return ExecResult(exit_code=code or 0, output=out + err)

    def exec_start(self, ref: str, cmd: Sequence[str], **options: Any) -> NoReturn:  # noqa: ANN401
        raise not_remote("exec with a terminal")

    def finish_auto_remove(self, container_id: str) -> None:
        """The daemon removes a ``--rm`` container itself."""


def _frames(res: requests.Response, tty: bool) -> Iterator[tuple[str, bytes]]:
    """A logs response's frames: docker's 8-byte headers (stream, size) unless the container has a tty.

    Read through urllib3 (``res.raw``), which undoes HTTP's chunking (docker-py's socket readers
    are for hijacked connections, where there is none).
    """
    if tty:
        for chunk in res.iter_content(chunk_size=None):
            yield "stdout", chunk
        return
    raw = res.raw
    while len(header := raw.read(8)) == 8:
        size = int.from_bytes(header[4:], "big")
        data = raw.read(size) if size else b""
        yield ("stderr" if header[0] == 2 else "stdout"), data


class RemoteEngine:
    """The seam over one Engine API endpoint (``url`` as the user typed it)."""

    remote = True

    def __init__(self, url: str, *, timeout: int = 120, lazy: bool = False) -> None:
        self.url = url
        self.mapped = _Mapped(url)
        self._timeout = timeout
        self._api: docker.APIClient | None = None
        self.system = RemoteSystem(self)
        self.images = RemoteImages(self)
        self.builds = RemoteBuilds()
        self.containers = RemoteContainers(self)
        if not lazy:
            self.api  # noqa: B018 - the URL's errors and the version negotiation now

    @property
    def api(self) -> docker.APIClient:
        """docker-py's client, made on first use (``version="auto"``: dockerd 20.10 speaks 1.41)."""
        if self._api is None:
            base = parse_host(self.url)
            with self.mapped:
                self._api = docker.APIClient(base_url=base, version="auto", timeout=self._timeout,
                                             use_ssh_client=base.startswith("ssh://"))  # fmt: skip
        return self._api

    def runner(self, verb: str) -> Any:  # noqa: ANN401 - a Runner
        from dockernb.client.remote.runners import remote_runner

        return remote_runner(verb)

    def close(self) -> None:
        if self._api is not None:
            with contextlib.suppress(Exception):
                self._api.close()
            self._api = None


def connect(url: str) -> RemoteEngine:
    """A backend for ``url`` whose daemon answered (Unavailable with docker's words when none does)."""
    engine = RemoteEngine(url)
    try:
        with engine.mapped:
            engine.api.ping()
    except DockernbError:
        engine.close()
        raise
    return engine
