"""Small helpers the lab notebooks call (layer: front ends, beside the kit).

``from dockernb.labkit import lab``: :func:`free_port` (the seed's port when nothing holds it,
so a lab runs beside other servers), :func:`get` (an HTTP GET that waits for a server that is
still starting), :func:`forget` (remove what an interrupted earlier run left behind, quietly, so
a notebook can always run again from the top). Everything else the labs do is ``%docker``.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable

from dockernb.engine import Engine
from dockernb.errors import NotFound

__all__ = ["forget", "free_port", "get"]


def free_port(preferred: int) -> int:
    """``preferred`` when it can be bound on every address now, else a free port the kernel picks."""
    for port in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free TCP port")  # pragma: no cover - the kernel always has one


def get(url: str, timeout: float = 60.0) -> str:
    """The body of ``url``; retries while the server is not listening yet (a container just started)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the lab's own local server
                return bytes(resp.read()).decode("utf-8", "replace")
        except urllib.error.HTTPError:
            raise  # the server answered: its error is the answer
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def forget(containers: Iterable[str] = (), images: Iterable[str] = ()) -> None:
    """Remove these containers (forced) and images if they exist, saying which were there."""
    removed: list[str] = []
    engine = Engine.from_env()
    try:
        for name in containers:
            try:
                engine.containers.remove(name, force=True)
                removed.append(name)
            except NotFound:
                pass
        for ref in images:
            try:
                engine.images.remove(ref, force=True)
                removed.append(ref)
            except NotFound:
                pass
    finally:
        engine.close()
    if removed:
        print("removed what an earlier run left:", " ".join(removed))
