"""``dockernb serve``: open the listeners, serve until SIGINT/SIGTERM, remove the socket (layer L8).

Run as ``python -m dockernb.apiserver`` (``dockernb serve`` execs it: the CLI and the server
are sibling front ends and never import each other). Logs go to stderr in dockerd's logfmt.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from dockernb.apiserver.app import App
from dockernb.apiserver.listeners import Listener, default_socket, open_listener, parse_host
from dockernb.engine import Engine
from dockernb.errors import DockernbError
from dockernb.present.args import HelpRequested, UsageError, parse

__all__ = ["Server", "main"]

log = logging.getLogger("dockernb.apiserver")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
           "fatal": logging.CRITICAL}


class _Logfmt(logging.Formatter):
    """``time="..." level=info msg="..."``, like dockerd's logrus output."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = {"WARNING": "warning", "CRITICAL": "fatal"}.get(record.levelname, record.levelname.lower())
        msg = record.getMessage().replace("\\", "\\\\").replace('"', '\\"')
        line = f'time="{ts}" level={level} msg="{msg}"'
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Server:
    """The listeners of one App, each served from its own thread."""

    def __init__(self, app: App, addresses: Sequence[str], *, group: str | None = None) -> None:
        self.app = app
        self.listeners: list[Listener] = []
        self._threads: list[threading.Thread] = []
        try:
            for value in addresses:
                self.listeners.append(open_listener(parse_host(value), app, group=group))
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        for lst in self.listeners:
            t = threading.Thread(target=lst.server.serve_forever, kwargs={"poll_interval": 0.2},
                                 name=f"dockernb-listen {lst.bound}", daemon=True)
            t.start()
            self._threads.append(t)
            log.info("API listen on %s", lst.bound)

    def close(self) -> None:
        """Stop accepting, end the event streams, remove the socket files."""
        for t, lst in zip(self._threads, self.listeners, strict=False):
            if t.is_alive():
                lst.server.shutdown()
        for lst in self.listeners:
            lst.close()
        self.app.close()


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Logfmt())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = os.environ.get("DOCKERNB_PROG", "dockernb")
    try:
        ns = parse("serve", args, prog)
    except HelpRequested as h:
        sys.stdout.write(h.text)
        return 0
    except UsageError as u:
        sys.stderr.write(u.message + "\n")
        return u.exit_code
    _setup_logging("debug" if ns.debug else ns.log_level)

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        hosts = ns.host or [f"unix://{default_socket()}"]
        server = Server(App(Engine.from_env()), hosts, group=ns.group)
    except DockernbError as err:
        log.critical("failed to start the API server: %s", err)
        return 1
    server.start()
    log.info("dockernb API server ready (pid %d)", os.getpid())
    while not stop.wait(1.0):
        pass
    log.info("Processing signal '%s'", received[0] if received else "?")
    server.close()
    log.info("API server stopped; sockets removed")
    return 0
