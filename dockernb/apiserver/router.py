"""Routes, the optional ``/v1.xx`` prefix and API version negotiation (layer L8).

Like moby's mux: every route also answers under ``/v{version}``; a version below
:data:`MIN_API_VERSION` or above :data:`API_VERSION` is a 400 in dockerd's words; an unknown
path or method is a 404 ``page not found``. Patterns use ``{name}`` for one path segment and
``{name:.*}`` for the rest of the path (image names contain slashes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dockernb._version import API_VERSION, MIN_API_VERSION
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Hijack, Response, StreamResponse
from dockernb.errors import InvalidRequest, NotFound

__all__ = ["Handler", "Route", "Router", "check_version", "split_version", "version_tuple"]

Result = Response | StreamResponse | Hijack
Handler = Callable[[Request], Result]

_VERSION_PREFIX = re.compile(r"^/v([0-9.]+)(/.*)$")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}]*))?\}")


def version_tuple(version: str) -> tuple[int, ...]:
    """moby's ``versions.compare``: dotted parts as integers, anything unparsable as 0."""
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _less(a: str, b: str) -> bool:
    ta, tb = version_tuple(a), version_tuple(b)
    n = max(len(ta), len(tb))
    return ta + (0,) * (n - len(ta)) < tb + (0,) * (n - len(tb))


def split_version(path: str) -> tuple[str, str]:
    """``/v1.41/_ping`` -> ("1.41", "/_ping"); a path without the prefix -> ("", path)."""
    m = _VERSION_PREFIX.match(path)
    if m is None:
        return "", path
    return m.group(1), m.group(2)


def check_version(version: str) -> str:
    """The version to serve the request at; InvalidRequest (400) outside [MIN_API_VERSION, API_VERSION]."""
    if not version:
        return API_VERSION
    if _less(version, MIN_API_VERSION):
        raise InvalidRequest(
            f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
            "please upgrade your client to a newer version"
        )
    if _less(API_VERSION, version):
        raise InvalidRequest(f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    return version


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    #: the operation id in the Engine API spec (SystemPing, ContainerList...), for logs and conformance
    name: str
    regex: re.Pattern[str] | None


def _compile(pattern: str) -> re.Pattern[str] | None:
    if "{" not in pattern:
        return None
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) == ".*" else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


class Router:
    """The route table: static paths by dict lookup, patterns in registration order."""

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._patterns: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, name: str = "") -> None:
        route = Route(method.upper(), pattern, handler, name or pattern, _compile(pattern))
        if route.regex is None:
            key = (route.method, pattern)
            if key in self._static:
                raise ValueError(f"route {method} {pattern} registered twice")
            self._static[key] = route
        else:
            self._patterns.append(route)

    def routes(self) -> list[Route]:
        return [*self._static.values(), *self._patterns]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str], str]:
        """The route, its path parameters and the requested API version ("" when unprefixed).

        Raises NotFound (404, ``page not found``) for an unknown path or method, as dockerd 20.10 does.
        """
        version, bare = split_version(path)
        route = self._static.get((method, bare))
        if route is not None:
            return route, {}, version
        for route in self._patterns:
            if route.method != method or route.regex is None:
                continue
            m = route.regex.match(bare)
            if m is not None:
                return route, m.groupdict(), version
        raise NotFound("page not found")
