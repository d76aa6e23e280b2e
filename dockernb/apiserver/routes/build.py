"""``POST /build``: the classic builder over the API, with dockerd's JSON progress stream (layer L8).

The body is the build context as a (possibly compressed) tar, read as it arrives; the query
carries ``docker build``'s options (``dockerfile``, ``t`` repeated, ``buildargs`` and ``labels``
as JSON, ``target``, ``nocache``, ``pull``, ``q``, ``networkmode``, ``platform``). Each build
event goes out as dockerd's classic builder writes it: ``{"stream": "Step 1/3 : FROM busybox\\n"}``
(the text of :func:`dockernb.present.output.build_line`, a RUN's stderr in red), the image id as
``{"aux": {"ID": "sha256:..."}}`` before ``Successfully built``. Like dockerd's ``errf``: an error
before anything was sent is the response's status (the CLI prints ``Error response from daemon:``),
one after is ``{"errorDetail": {"code": N, "message": ...}, "error": ...}`` in the stream, ``N``
a failed RUN's exit code (the CLI exits with it). With ``q`` the stream holds only the image id
on success, and everything it held back before the error on failure, as dockerd's does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, StreamResponse, json_bytes
from dockernb.apiserver.router import Router
from dockernb.errors import BuildError, DockernbError, InvalidRequest
from dockernb.present.output import build_line
from dockernb.spec.events import BuildContextSent, BuildDone, BuildEvent

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["build_records", "register"]


class _BodyFile:
    """The request body as the binary file the build context is read from."""

    def __init__(self, req: Request) -> None:
        self._body = req.body

    def read(self, n: int = -1) -> bytes:
        return self._body.read(n)


def _json_map(req: Request, name: str) -> dict[str, Any]:
    raw = req.query_str(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise InvalidRequest(f"invalid {name} JSON: {err}") from None
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidRequest(f"invalid {name} JSON: want an object")
    return value


def build_records(event: BuildEvent) -> list[dict[str, Any]]:
    """The JSON messages dockerd's classic builder sends for ``event`` (none for the context size,
    which the client prints itself)."""
    if isinstance(event, BuildContextSent):
        return []
    text, _ = build_line(event)
    if isinstance(event, BuildDone):
        return [{"aux": {"ID": event.image_id}}, {"stream": text}]
    return [{"stream": text}]


def _close(it: Iterator[Any]) -> None:
    close = getattr(it, "close", None)  # the engine's build is a generator: closing it cleans up
    if close is not None:
        close()


def _error(err: DockernbError) -> dict[str, Any]:
    detail: dict[str, Any] = {"message": str(err)}
    if isinstance(err, BuildError):
        detail = {"code": err.exit_code, "message": str(err)}
    return {"errorDetail": detail, "error": str(err)}


def register(router: Router, app: App) -> None:
    engine = app.engine

    def build(req: Request) -> Response | StreamResponse:
        if req.query_str("remote"):
            raise InvalidRequest("remote build contexts are not supported by dockernb; send the context as a tar")
        build_args = _json_map(req, "buildargs")
        labels = _json_map(req, "labels")
        if not all(v is None or isinstance(v, str) for v in build_args.values()):
            raise InvalidRequest("invalid buildargs JSON: values must be strings or null")
        if not all(isinstance(v, str) for v in labels.values()):
            raise InvalidRequest("invalid labels JSON: values must be strings")
        quiet = req.query_bool("q")
        network = req.query_str("networkmode") or "default"
        events = engine.builds.build(
            "-",
            stdin=cast(BinaryIO, _BodyFile(req)),
            dockerfile=req.query_str("dockerfile") or None,
            tags=[t for t in req.query.get("t", []) if t],
            build_args=build_args,
            labels=labels,
            target=req.query_str("target"),
            no_cache=req.query_bool("nocache"),
            pull=req.query_bool("pull"),
            network=network,
            platform=req.query_str("platform"),
        )
        held: list[bytes] = []  # what -q keeps back, sent only if the build fails
        image_id = ""

        def records() -> Iterator[list[dict[str, Any]]]:
            nonlocal image_id
            for ev in events:
                if isinstance(ev, BuildDone):
                    image_id = ev.image_id
                out = build_records(ev)
                if out:
                    yield out

        feed = records()
        # run the build up to its first message here: an error before it (an unreadable context,
        # a Dockerfile that does not parse, a bad target or tag) is the response's status
        try:
            first = next(feed, None)
        except BaseException:
            _close(events)
            raise

        def chunks() -> Iterator[bytes]:
            try:
                batch = first
                while batch is not None:
                    for rec in batch:
                        data = json_bytes(rec)
                        if not quiet or "aux" in rec:
                            yield data
                        else:
                            held.append(data)
                    batch = next(feed, None)
                if quiet and image_id:
                    yield json_bytes({"stream": image_id + "\n"})
            except DockernbError as err:
                yield from held
                yield json_bytes(_error(err))
            finally:
                _close(events)  # a client that left mid-build: the build stops and cleans up

        return StreamResponse(chunks())

    router.add("POST", "/build", build, name="ImageBuild")
