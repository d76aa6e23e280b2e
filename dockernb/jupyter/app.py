"""The extension application jupyter_server loads: engine, thread pool, event feed, routes (layer L8).

Enabled by ``jupyter-config/jupyter_server_config.d/dockernb.json`` (installed with the wheel);
configurable like any Jupyter app, e.g. ``--DockernbJupyter.workers=8``.
"""

from __future__ import annotations

import importlib
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode

from dockernb._version import __version__
from dockernb.engine import Engine
from dockernb.errors import InvalidConfig
from dockernb.jupyter import handlers
from dockernb.jupyter.events import EventFeed
from dockernb.jupyter.records import events_source

__all__ = ["DockernbJupyter", "cli_command"]

#: where a login shell finds commands (JupyterLab's terminals run ``$SHELL -l``, which resets PATH)
_LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"


def cli_command() -> str:
    """How a terminal of this server runs this installation's ``dockernb`` (shell-quoted)."""
    script = Path(sys.executable).parent / "dockernb"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m dockernb"
    found = shutil.which("dockernb", path=_LOGIN_PATH)
    if found and Path(found).resolve() == script.resolve():
        return "dockernb"
    return shlex.quote(str(script))


def _import(spec: str) -> Callable[[], Any]:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidConfig(f"DockernbJupyter.engine_factory: {spec} is not callable")
    return cast(Callable[[], Any], obj)


class DockernbJupyter(ExtensionApp):
    """The server side of the lab's Docker sidebar."""

    name = "dockernb"
    description = "dockernb's engine for the JupyterLab sidebar"
    version = __version__
    # the lab (or notebook) is the page; this extension only adds API routes
    load_other_extensions = True

    workers = Int(4, help="Threads for blocking engine calls (pulls and builds hold one each).").tag(config=True)
    heartbeat = Float(15.0, help="Seconds between keep-alive comments on an idle events stream.").tag(config=True)
    engine_factory = Unicode(
        "dockernb.engine:Engine.from_env",
        help="module:callable returning the engine the sidebar shows (default: the local engine, "
        "configured from the environment as the dockernb CLI is).",
    ).tag(config=True)

    pool: ThreadPoolExecutor
    feed: EventFeed
    cli_command: str
    #: published ports link through jupyter-server-proxy when this server runs it
    proxy: bool

    def initialize_settings(self) -> None:
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="dockernb-jupyter")
        self.cli_command = cli_command()
        proxy = self.serverapp.extension_manager.extensions.get("jupyter_server_proxy") if self.serverapp else None
        self.proxy = bool(proxy is not None and proxy.enabled)
        # the feed needs the engine to know whether it has a source: make it now, report a bad config later
        try:
            source = events_source(self.engine())
        except Exception as err:  # the API answers with the error; the lab itself must still start
            self.log.warning("dockernb: the engine is not available: %s", err)
            source = None
        self.feed = EventFeed(source)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers.routes())

    def engine(self) -> Engine:
        """The engine, made on first use (DockernbError if its configuration is bad)."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = cast(Engine, _import(self.engine_factory)())
            return self._engine

    async def stop_extension(self) -> None:
        self.feed.close()
        # running pulls and builds end with the server; queued calls are dropped
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._engine is not None:
            self._engine.close()
