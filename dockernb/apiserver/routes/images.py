"""Image routes: list, inspect, history, pull/import (``/images/create``), push, tag, delete, prune,
save (``/images/get``), load, ``/system/df`` and ``/auth`` (layer L8).

Shapes are the v1.41 spec's (built in ``engine/inspect.py``). Long operations stream docker's JSON
progress messages; what fails before the first message is an HTTP error (``404`` for a missing
manifest, as dockerd answers when nothing was flushed yet), what fails later is an ``error`` record
in the stream. Registry credentials come from the server's own login store (``POST /auth`` and
``dockernb login`` write it); an ``X-Registry-Auth`` header is not read yet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, StreamResponse, json_bytes, json_response
from dockernb.apiserver.router import Router
from dockernb.apiserver.streams import progress_error
from dockernb.engine.inspect import history_item, image_summary
from dockernb.errors import DockernbError, InvalidRequest
from dockernb.spec.events import ProgressMessage

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["progress_json", "register"]

_CHUNK = 1 << 16


def progress_json(m: ProgressMessage) -> dict[str, Any]:
    """One of docker's JSON progress messages (layer lines carry ``progressDetail``, bars a ``progress``)."""
    out: dict[str, Any] = {"status": m.status}
    if m.id:
        out["progressDetail"] = {"current": m.current, "total": m.total} if m.has_progress else {}
        if m.has_progress:
            from dockernb.present.images import progress_bar  # the text docker's daemon puts there

            out["progress"] = progress_bar(m.current, m.total, 120, 0.0, 0.0)
        out["id"] = m.id
    if m.aux is not None:
        out["aux"] = dict(m.aux)
    return out


def _stream(messages: Iterator[ProgressMessage]) -> StreamResponse:
    """Start the operation here (an error before its first message is the response's status), stream the rest."""
    first = next(messages, None)

    def chunks() -> Iterator[bytes]:
        if first is not None:
            yield json_bytes(progress_json(first))
        try:
            for m in messages:
                yield json_bytes(progress_json(m))
        except DockernbError as err:
            yield json_bytes(progress_error(str(err)))

    return StreamResponse(chunks())


class _BodyFile:
    """The request body as the binary file the engine reads (load, import)."""

    def __init__(self, req: Request) -> None:
        self._body = req.body

    def read(self, n: int = -1) -> bytes:
        return self._body.read(n)

    def readline(self) -> bytes:  # pragma: no cover - tarfile never asks
        return self._body.read(1)


def _produced(write: Callable[[IO[bytes]], None]) -> StreamResponse:
    """Run ``write(file)`` in a thread and stream what it writes; an error before the first byte is the status."""
    chunks: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()

    class _Sink:
        def write(self, data: bytes) -> int:
            chunks.put(bytes(data))
            return len(data)

        def flush(self) -> None:
            pass

    def run() -> None:
        try:
            write(_Sink())  # type: ignore[arg-type]
            chunks.put(None)
        except BaseException as err:  # noqa: BLE001 - handed to the response
            chunks.put(err)

    threading.Thread(target=run, name="dockernb-api-save", daemon=True).start()
    first = chunks.get()
    if isinstance(first, BaseException):
        raise first

    def body() -> Iterator[bytes]:
        item: bytes | BaseException | None = first
        while item is not None:
            if isinstance(item, BaseException):
                return  # the client sees a truncated tar, as with dockerd
            yield item
            item = chunks.get()

    return StreamResponse(body(), content_type="application/x-tar")


def register(router: Router, app: App) -> None:
    engine = app.engine

    def image_list(req: Request) -> Response:
        found = engine.images.list(all=req.query_bool("all"), filters=req.filters())
        return json_response([image_summary(i) for i in found])

    def image_create(req: Request) -> StreamResponse:
        platform = req.query_str("platform")
        source = req.query_str("fromSrc")
        if source:
            repo, tag = req.query_str("repo"), req.query_str("tag")
            name = f"{repo}:{tag}" if repo and tag else repo
            changes = list(req.query.get("changes", []))
            message = req.query_str("message")
            if source == "-":
                image_id = engine.images.import_(_BodyFile(req), repository=name, changes=changes,  # type: ignore[arg-type]
                                                 message=message, platform=platform)  # fmt: skip
            else:
                image_id = engine.images.import_url(source, repository=name, changes=changes, message=message,
                                                    platform=platform)  # fmt: skip
            return StreamResponse(iter([json_bytes({"status": image_id})]))
        image = req.query_str("fromImage")
        if not image:
            raise InvalidRequest("fromImage or fromSrc is required")
        tag = req.query_str("tag")
        if tag:  # a tag, or a digest (docker-py passes those as tag=sha256:...)
            image = f"{image}@{tag}" if tag.split(":", 1)[0] in ("sha256", "sha384", "sha512") else f"{image}:{tag}"
        return _stream(engine.images.pull(image, platform=platform))

    def image_inspect(req: Request) -> Response:
        return json_response(engine.images.inspect(req.params["name"]))

    def image_history(req: Request) -> Response:
        return json_response([history_item(h) for h in engine.images.history(req.params["name"])])

    def image_push(req: Request) -> StreamResponse:
        name, tag = req.params["name"], req.query_str("tag")
        if tag:
            name = f"{name}:{tag}"
        return _stream(engine.images.push(name, all_tags=not tag and ":" not in name.rsplit("/", 1)[-1]))

    def image_tag(req: Request) -> Response:
        repo, tag = req.query_str("repo"), req.query_str("tag")
        if not repo:
            raise InvalidRequest("repo is required")
        engine.images.tag(req.params["name"], f"{repo}:{tag}" if tag else repo)
        return Response(201)

    def image_delete(req: Request) -> Response:
        items = engine.images.remove(req.params["name"], force=req.query_bool("force"),
                                     prune=not req.query_bool("noprune"))  # fmt: skip
        return json_response([{"Deleted": i.deleted} if i.deleted else {"Untagged": i.untagged} for i in items])

    def image_prune(req: Request) -> Response:
        filters = req.filters()
        report = engine.images.prune(filters=filters)
        deleted = [{"Deleted": i.deleted} if i.deleted else {"Untagged": i.untagged} for i in report.deleted]
        return json_response({"ImagesDeleted": deleted, "SpaceReclaimed": report.space_reclaimed})

    def image_get(req: Request) -> StreamResponse:
        names = [req.params["name"]] if "name" in req.params else list(req.query.get("names", []))
        return _produced(lambda out: engine.images.save(names, out))  # type: ignore[arg-type]

    def image_load(req: Request) -> StreamResponse:
        quiet = req.query_bool("quiet")
        messages = engine.images.load(_BodyFile(req))  # type: ignore[arg-type]

        def chunks() -> Iterator[bytes]:
            try:
                for m in messages:
                    if m.status.startswith(("Loaded image", "The image ")):
                        yield json_bytes({"stream": m.status + "\n"})
                    elif not quiet:
                        yield json_bytes(progress_json(m))
            except DockernbError as err:
                yield json_bytes(progress_error(str(err)))

        return StreamResponse(chunks())

    def system_df(req: Request) -> Response:
        usage = engine.images.df()
        images = []
        for image in usage.images:
            summary = image_summary(image, containers=0)
            summary["SharedSize"] = 0
            images.append(summary)
        return json_response({"LayersSize": usage.layers_size, "Images": images, "Containers": [], "Volumes": [],
                              "BuildCache": []})  # fmt: skip

    def auth(req: Request) -> Response:
        body = req.json(required=True)
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        result = engine.images.login(str(body.get("serveraddress", "")), str(body.get("username", "")),
                                     str(body.get("password", "")))  # fmt: skip
        return json_response({"Status": result.status, "IdentityToken": ""})

    router.add("GET", "/images/json", image_list, name="ImageList")
    router.add("POST", "/images/create", image_create, name="ImageCreate")
    router.add("POST", "/images/prune", image_prune, name="ImagePrune")
    router.add("POST", "/images/load", image_load, name="ImageLoad")
    router.add("GET", "/images/get", image_get, name="ImageGetAll")
    router.add("GET", "/system/df", system_df, name="SystemDataUsage")
    router.add("POST", "/auth", auth, name="SystemAuth")
    router.add("GET", "/images/{name:.*}/json", image_inspect, name="ImageInspect")
    router.add("GET", "/images/{name:.*}/history", image_history, name="ImageHistory")
    router.add("GET", "/images/{name:.*}/get", image_get, name="ImageGet")
    router.add("POST", "/images/{name:.*}/push", image_push, name="ImagePush")
    router.add("POST", "/images/{name:.*}/tag", image_tag, name="ImageTag")
    router.add("DELETE", "/images/{name:.*}", image_delete, name="ImageDelete")
