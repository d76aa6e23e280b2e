"""The Docker Engine API server over dockernb.engine (layer L8).

``dockernb serve`` runs :func:`dockernb.apiserver.serve.main`. The parts, bottom up:

- :mod:`.protocol`: HTTP/1.1 on one connection (keep-alive, chunked bodies both ways, limits, hijack);
- :mod:`.request` and :mod:`.responses`: what a route handler receives and returns;
- :mod:`.router`: the ``/v1.xx`` prefix, version negotiation, ``page not found``;
- :mod:`.streams` (multiplexed stdout/stderr frames, JSON lines) and :mod:`.events` (the ``/events`` fan-out);
- :mod:`.routes`: one module per resource, each with ``register(router)``;
- :mod:`.app` (router + engine + events) and :mod:`.listeners` / :mod:`.serve` (sockets, signals).
"""

from __future__ import annotations

from dockernb.apiserver.app import App, build_app

__all__ = ["App", "build_app"]
