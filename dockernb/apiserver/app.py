"""The application: routes, the engine and the event hub, and the one error-to-status mapping (layer L8).

``App.dispatch`` turns a parsed request into a response. A ``DockernbError`` becomes
``{"message": str(err)}`` with ``err.http_status`` (what docker-py reads into
``APIError.explanation`` and the docker CLI prints); anything else is a 500
``internal error: <type>`` and its traceback goes to the log.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dockernb._version import API_VERSION, __version__
from dockernb.apiserver.events import EventHub
from dockernb.apiserver.protocol import Limits, ParsedRequest
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Hijack, Response, StreamResponse, json_response
from dockernb.apiserver.router import Router, check_version
from dockernb.apiserver.sessions import ExecRegistry, PendingAttaches
from dockernb.engine import Engine
from dockernb.errors import DockernbError, InternalError, InvalidRequest

__all__ = ["ROUTE_MODULES", "App", "build_app"]

log = logging.getLogger(__name__)

#: one module per resource under dockernb.apiserver.routes, each with ``register(router, app)``
ROUTE_MODULES: tuple[str, ...] = (
    "system", "images", "containers", "exec", "networks", "volumes", "build", "archive", "resources",
)


class App:
    """What every connection shares: the engine, the route table, the event hub and the limits."""

    def __init__(self, engine: Engine, *, limits: Limits | None = None, events: EventHub | None = None,
                 route_modules: Sequence[str] = ROUTE_MODULES) -> None:
        self.engine = engine
        self.limits = limits or Limits()
        self.events = events or EventHub()
        self.router = Router()
        #: exec instances (dockerd keeps them in memory too) and attaches waiting for a start
        self.execs = ExecRegistry()
        self.attaches = PendingAttaches()
        self._headers = [
            ("Api-Version", API_VERSION),
            ("Docker-Experimental", "false"),
            ("Ostype", "linux"),
            ("Server", f"dockernb/{__version__} (linux)"),
        ]
        for name in route_modules:
            module = importlib.import_module(name if "." in name else f"dockernb.apiserver.routes.{name}")
            module.register(self.router, self)

    def common_headers(self) -> list[tuple[str, str]]:
        """Headers on every response, as dockerd's version middleware sets them."""
        return self._headers

    def dispatch(self, raw: ParsedRequest) -> Response | StreamResponse | Hijack:
        try:
            if "\x00" in raw.path or any("\x00" in v for values in raw.query.values() for v in values):
                # names never hold a NUL; the stores' file lookups would fail on it with a ValueError
                raise InvalidRequest("invalid request: a NUL byte in the path or the query")
            route, params, version = self.router.match(raw.method, raw.path)
            req = Request(
                method=raw.method,
                path=raw.path if not version else raw.path[len(version) + 2 :],
                query=raw.query,
                headers=raw.headers,
                body=raw.body,
                api_version=check_version(version),
                params=params,
                json_limit=self.limits.json_body,
            )
            return route.handler(req)
        except DockernbError as err:
            if isinstance(err, InternalError):
                log.error("%s %s: %s", raw.method, raw.path, err, exc_info=err)
            return json_response({"message": str(err)}, err.http_status)
        except Exception as err:
            log.exception("%s %s failed", raw.method, raw.path)
            return json_response({"message": f"internal error: {type(err).__name__}"}, 500)

    def pump_events(self, source: Iterable[Mapping[str, Any]]) -> threading.Thread:
        """Publish every event ``source`` yields (the engine's event feed) from a daemon thread."""

        def run() -> None:
            try:
                for event in source:
                    self.events.publish(event)
            except Exception:
                log.exception("the event source failed; /events gets no more engine events")

        thread = threading.Thread(target=run, name="dockernb-events", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.events.close()


def build_app(engine: Engine | None = None, **kwargs: Any) -> App:
    """An App over ``engine`` (default: ``Engine.from_env()``)."""
    return App(engine or Engine.from_env(), **kwargs)
