"""``DOCKER_HOST`` URLs as the docker CLI takes them, for docker-py (layer L7.5)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dockernb.errors import InvalidArgument

__all__ = ["parse_host"]

_HOSTNAME = re.compile(r"^[A-Za-z0-9._\-\[\]:]+$")


def parse_host(url: str) -> str:
    """The URL docker-py's ``APIClient(base_url=...)`` takes for ``unix://PATH``, ``tcp://HOST:PORT``,
    ``ssh://[USER@]HOST[:PORT]``; InvalidArgument with the docker CLI's words otherwise."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not rest:
        raise InvalidArgument(f"Invalid bind address format: {url}")
    scheme = scheme.lower()
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"Invalid bind address format: {url}")
        return f"unix://{rest}"
    if scheme in ("tcp", "http", "https"):
        parts = urlsplit(f"tcp://{rest}")
        try:
            port = parts.port
        except ValueError:
            raise InvalidArgument(f"Invalid bind address format: {url}") from None
        host = parts.hostname or ""
        if not host or not _HOSTNAME.match(host) or parts.path not in ("", "/") or port is None:
            raise InvalidArgument(f"Invalid bind address format: {url}")
        bracketed = f"[{host}]" if ":" in host else host
        return f"{'https' if scheme == 'https' else 'tcp'}://{bracketed}:{port}"
    if scheme == "ssh":
        parts = urlsplit(text)
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise InvalidArgument(f"Invalid bind address format: {url}") from None
        if not parts.hostname or parts.path not in ("", "/"):
            raise InvalidArgument(f"Invalid bind address format: {url}")
        return text
    raise InvalidArgument(f"Invalid bind address format: {url}")
