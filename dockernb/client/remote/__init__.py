"""The remote Engine API backend of the Python front ends (layer L7.5): ``%dockernb connect`` and ``DOCKER_HOST``.

:func:`connect` gives a :class:`~.backend.RemoteEngine`, a backend of :mod:`dockernb.client.seam`
that speaks the Engine API through docker-py's low-level ``APIClient`` (unix, tcp and ssh hosts),
so the models, widgets, magics and the Docker kernel drive ``dockernb serve``, a real dockerd or
podman's service without change. The verbs typed in a magic run through :mod:`.runners`: the
shared runners where the seam is enough, this package's own for ``run``/``exec``, and docker's
kind of refusal for the rest.
"""

from __future__ import annotations

from dockernb.client.remote.backend import RemoteEngine, connect
from dockernb.client.remote.host import parse_host

__all__ = ["RemoteEngine", "connect", "parse_host"]
