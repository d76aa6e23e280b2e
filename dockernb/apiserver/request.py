"""What a route handler receives: the parsed request, its body stream and typed query access (layer L8).

Query values follow dockerd's conventions: booleans are false for ``""``, ``0``, ``no``, ``false``
and ``none`` (moby's ``httputils.BoolValue``), filters are JSON in either of docker's two shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockernb.errors import InvalidRequest

__all__ = ["Body", "Request", "parse_filters"]

_FALSE = frozenset({"", "0", "no", "false", "none"})


class Body(Protocol):
    """A request body, read at most once; chunked or sized is the protocol's business."""

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left for -1); b"" at the end."""
        ...

    def read_all(self, limit: int) -> bytes:
        """The whole body; InvalidRequest when it exceeds ``limit`` bytes."""
        ...


@dataclass(slots=True)
class Request:
    method: str
    #: the path without the ``/v1.xx`` prefix, percent-decoded
    path: str
    query: Mapping[str, list[str]]
    #: header names lower-cased; repeated headers joined with ", "
    headers: Mapping[str, str]
    body: Body
    #: the API version the client asked for (from the prefix), else the server's
    api_version: str = ""
    #: values of ``{name}`` placeholders in the matched route
    params: dict[str, str] = field(default_factory=dict)
    #: the server-wide JSON body limit (set by the app)
    json_limit: int = 4 << 20

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def has(self, name: str) -> bool:
        return name in self.query

    def query_str(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def query_bool(self, name: str, default: bool = False) -> bool:
        values = self.query.get(name)
        if not values:
            return default
        return values[-1].strip().lower() not in _FALSE

    def query_int(self, name: str, default: int = 0) -> int:
        values = self.query.get(name)
        if not values or values[-1] == "":
            return default
        try:
            return int(values[-1])
        except ValueError:
            raise InvalidRequest(f"invalid value for {name}: {values[-1]!r} is not an integer") from None

    def json(self, *, required: bool = False) -> Any:
        """The JSON body (None when empty and not required); InvalidRequest when malformed or too large."""
        raw = self.body.read_all(self.json_limit)
        if not raw.strip():
            if required:
                raise InvalidRequest("request body is empty; a JSON object was expected")
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise InvalidRequest(f"malformed JSON: {err}") from None

    def filters(self) -> dict[str, list[str]]:
        """The ``filters`` query parameter, in either of docker's JSON shapes."""
        return parse_filters(self.query_str("filters"))


def parse_filters(text: str) -> dict[str, list[str]]:
    """Parse docker's filter JSON: ``{"k": ["v", ...]}`` or the older ``{"k": {"v": true}}``.

    Raises InvalidRequest for anything else (dockerd 20.10 answers 500 here; a 400 is the truth).
    """
    if not text:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InvalidRequest(f"invalid filters: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("invalid filters: want a JSON object of string lists")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
            out[key] = [k for k, on in value.items() if on]
        else:
            raise InvalidRequest(f"invalid filters: the value of {key!r} must be a list of strings")
    return out
