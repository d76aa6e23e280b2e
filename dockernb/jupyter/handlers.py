"""The sidebar's HTTP API under ``/dockernb/api/v1`` (layer L8).

Every route needs a logged-in Jupyter user (``@tornado.web.authenticated``) whom the server's
authorizer lets read (GET) or write (POST) the ``dockernb`` resource; POSTs are also XSRF-checked
by jupyter_server (the lab sends the token or the ``_xsrf`` cookie's value).
Engine calls block, so they run in the extension's thread pool, never on the event loop.

==========================================  =========================================================
``GET  version`` / ``info``                 ``engine.system.version()`` / ``.info()`` as JSON
``GET  client``                             ``{"command", "proxy"}``: how a terminal runs this CLI;
                                            whether jupyter-server-proxy serves published ports
``GET  events``                             server-sent events: ``status`` frames, then ``docker``
                                            frames (one :class:`~dockernb.spec.events.Event` each)
``GET  containers`` / ``images``            ``{"containers": [...]}`` / ``{"images": [...]}``
``POST containers/NAME/ACTION``             start, stop, restart, remove (body ``{"force": bool}``)
``POST images/pull`` ``{"ref"}``            progress records as JSON lines
``POST images/remove`` ``{"ref", "force"}``
``POST build`` ``{"path", "tags"}``         build a Dockerfile of the file browser; JSON lines
``POST prune``                              prune stopped containers and dangling images
==========================================  =========================================================

Errors are ``{"message": ...}`` with the error's HTTP status (501 while the engine lacks the
service). A stream that fails after it started ends with ``{"kind": "error", "message", "status"}``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.iostream import StreamClosedError

from dockernb.errors import DockernbError, InternalError, InvalidArgument, NotSupported
from dockernb.jupyter.events import FeedStatus, Subscription
from dockernb.jupyter.paths import resolve_in_root
from dockernb.jupyter.records import container_row, containers, images, stream_record, to_json
from dockernb.spec.events import Event

if TYPE_CHECKING:
    from dockernb.engine import Engine
    from dockernb.jupyter.app import DockernbJupyter

__all__ = ["API_PREFIX", "BaseHandler", "routes", "sse_frame"]

log = logging.getLogger(__name__)

API_PREFIX = "/dockernb/api/v1"

T = TypeVar("T")
_END = object()
CONTAINER_ACTIONS = ("start", "stop", "restart", "remove")


def sse_frame(item: Event | FeedStatus) -> str:
    """One server-sent event: ``status`` for the feed's state, ``docker`` (with its id) for an event."""
    if isinstance(item, FeedStatus):
        return f"event: status\ndata: {json.dumps({'live': item.live, 'message': item.message})}\n\n"
    return f"id: {item.time_nano}\nevent: docker\ndata: {json.dumps(to_json(item))}\n\n"


class BaseHandler(APIHandler):
    """JSON in and out, engine calls in the pool, DockernbError -> its status and message."""

    #: what a Jupyter authorizer (JupyterHub's scopes...) is asked about: GET reads, POST writes
    auth_resource = "dockernb"

    @property
    def ext(self) -> DockernbJupyter:
        return cast("DockernbJupyter", self.settings["dockernb"])

    async def blocking(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the extension's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.ext.pool, functools.partial(fn, *args, **kwargs))

    async def on_engine(self, fn: Callable[[Engine], T]) -> T:
        """``fn(engine)`` in the pool (making the engine there too: reading its config may fail)."""
        return await self.blocking(lambda: fn(self.ext.engine()))

    def json_body(self) -> dict[str, Any]:
        raw = self.request.body or b"{}"
        try:
            body = json.loads(raw)
        except ValueError as err:
            raise InvalidArgument(f"the request body is not JSON: {err}") from err
        if not isinstance(body, dict):
            raise InvalidArgument("the request body must be a JSON object")
        return body

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        err = exc_info[1] if exc_info else None
        if isinstance(err, DockernbError):
            self.set_status(err.http_status)
            self.finish(json.dumps({"message": str(err)}))
            return
        if err is not None and not isinstance(err, tornado.web.HTTPError):
            self.set_status(500)
            self.finish(json.dumps({"message": f"internal error: {type(err).__name__}"}))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # an engine error is an answer, not a server fault: no traceback in the server log
        if isinstance(value, DockernbError) and not isinstance(value, InternalError):
            log.info("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    async def stream(self, records: Iterable[object]) -> None:
        """Send ``records`` as JSON lines as they come; an error before the first one is a plain error."""
        it = iter(records)
        try:
            first = await self.blocking(next, it, _END)
        except BaseException:
            await self.blocking(_close, it)
            raise
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-cache")
        item = first
        try:
            while item is not _END:
                self.write(json.dumps(stream_record(item)) + "\n")
                await self.flush()
                item = await self.blocking(next, it, _END)
        except StreamClosedError:
            return  # the browser went away; the finally clause closes the operation
        except DockernbError as err:
            self.write(json.dumps({"kind": "error", "message": str(err), "status": err.http_status}) + "\n")
        finally:
            await self.blocking(_close, it)
        self.finish(set_content_type="application/x-ndjson")


def _close(it: Iterator[object]) -> None:
    close = getattr(it, "close", None)
    if callable(close):
        close()


class VersionHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(to_json(await self.on_engine(lambda e: e.system.version())))


class InfoHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(to_json(await self.on_engine(lambda e: e.system.info())))


class ClientHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    def get(self) -> None:
        self.send_json({"command": self.ext.cli_command, "proxy": self.ext.proxy})


class EventsHandler(BaseHandler):
    """Server-sent events; the browser reads them with fetch (the token rides in a header)."""

    # a browser tab holding the stream open is not user activity (idle culling must still work)
    _track_activity = False
    _sub: Subscription | None = None

    def _after(self) -> int | None:
        raw = self.request.headers.get("Last-Event-ID") or self.get_argument("since", "")
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError as err:
            raise InvalidArgument(f"invalid event id: {raw!r}") from err

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        after = self._after()
        feed = self.ext.feed
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # proxies (JupyterHub's) must not buffer the stream
        sub = self._sub = feed.subscribe(after)
        try:
            self.write("retry: 3000\n\n")
            await self.flush()
            while True:
                try:
                    item = await asyncio.wait_for(sub.next(), timeout=self.ext.heartbeat)
                except TimeoutError:
                    self.write(": keep-alive\n\n")  # a comment: finds dead connections, keeps proxies open
                else:
                    if item is None:
                        break
                    self.write(sse_frame(item))
                await self.flush()
        except StreamClosedError:
            return
        finally:
            feed.unsubscribe(sub)
        self.finish(set_content_type="text/event-stream")

    def on_connection_close(self) -> None:
        if self._sub is not None:
            self._sub.end()
        super().on_connection_close()


class ContainersHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def run(engine: Engine) -> Any:
            return [container_row(c) for c in containers(engine).list(all=True)]

        self.send_json({"containers": await self.on_engine(run)})


class ContainerActionHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        body = self.json_body()
        force = bool(body.get("force", False))

        def run(engine: Engine) -> None:
            svc = containers(engine)
            if action == "remove":
                svc.remove(name, force=force)
            else:
                getattr(svc, action)(name)

        await self.on_engine(run)
        self.set_status(204)
        self.finish()


class ImagesHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def run(engine: Engine) -> Any:
            return to_json(images(engine).list())

        self.send_json({"images": await self.on_engine(run)})


def _ref(body: dict[str, Any]) -> str:
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument("an image reference is required (for example busybox:latest)")
    return ref.strip()


class PullHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        ref = _ref(self.json_body())
        svc = await self.on_engine(images)
        await self.stream(_lazy(lambda: svc.pull(ref)))


class ImageRemoveHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        ref, force = _ref(body), bool(body.get("force", False))
        result = await self.on_engine(lambda e: images(e).remove(ref, force=force))
        self.send_json({"removed": to_json(result)})


class BuildHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidArgument("tags must be a list of strings")
        dockerfile = resolve_in_root(self.settings["server_root_dir"], body.get("path", ""))
        context = dockerfile.parent
        engine = await self.on_engine(lambda e: e)
        await self.stream(
            engine.builds.build(context, dockerfile=str(dockerfile), cwd=context, tags=[t for t in tags if t])
        )


class PruneHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        def run(engine: Engine) -> dict[str, Any]:
            done: dict[str, Any] = {}
            for noun in ("containers", "images"):
                svc = getattr(engine, noun, None)
                if svc is not None:
                    done[noun] = to_json(svc.prune())
            if not done:
                raise NotSupported("this dockernb engine has no containers or images yet: nothing to prune")
            return done

        self.send_json(await self.on_engine(run))


def _lazy(make: Callable[[], Iterable[object]]) -> Iterator[object]:
    """Defer ``make()`` to the first ``next`` (so that it runs in the pool, like the rest)."""
    yield from make()


def routes() -> list[tuple[str, type[BaseHandler]]]:
    """URL patterns (without the server's base URL) and their handlers."""
    p = API_PREFIX
    actions = "|".join(CONTAINER_ACTIONS)
    return [
        (f"{p}/version", VersionHandler),
        (f"{p}/info", InfoHandler),
        (f"{p}/client", ClientHandler),
        (f"{p}/events", EventsHandler),
        (f"{p}/containers", ContainersHandler),
        (rf"{p}/containers/([^/]+)/({actions})", ContainerActionHandler),
        (f"{p}/images", ImagesHandler),
        (f"{p}/images/pull", PullHandler),
        (f"{p}/images/remove", ImageRemoveHandler),
        (f"{p}/build", BuildHandler),
        (f"{p}/prune", PruneHandler),
    ]

