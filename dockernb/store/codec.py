"""Dataclasses to and from JSON-able data, for the records the store persists (layer L1).

Handles what ``dockernb.spec`` uses: nested frozen/mutable dataclasses, ``StrEnum``, aware
``datetime`` (ISO 8601), ``tuple[X, ...]``, ``Mapping[str, str]``, ``X | None`` and scalars.
Unknown keys are ignored and missing ones take the field default, so an older dockernb reads
a newer file (and the other way round) as far as the fields allow.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

__all__ = ["decode", "encode"]

T = TypeVar("T")


def encode(value: Any) -> Any:  # noqa: ANN401 - JSON-able output
    """A dataclass (or any supported value) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def _identity(value: Any) -> Any:  # noqa: ANN401
    return value


@cache
def _converter(tp: Any) -> Callable[[Any], Any]:  # noqa: ANN401
    """A function turning JSON data into ``tp`` (built once per type: decoding is on ps's path)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _converter(options[0]) if len(options) == 1 else _identity
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(typing.get_args(tp)[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is list:
        item = _converter(typing.get_args(tp)[0])
        return lambda v: [item(x) for x in v]
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp)
        value = _converter(args[1]) if args else _identity
        if value is _identity:
            return lambda v: dict(v)
        return lambda v: {k: value(x) for k, x in v.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return lambda v: decode(tp, v)
        if issubclass(tp, Enum):
            return tp
        if tp is datetime:
            return datetime.fromisoformat
        if tp is float:
            return float
    return _identity


@cache
def _fields(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build ``cls`` from JSON data written by :func:`encode`; raises ValueError/TypeError on a bad shape."""
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    kwargs = {}
    for name, convert in _fields(cls):  # type: ignore[arg-type]  # classes are hashable
        if name in data:
            value = data[name]
            kwargs[name] = None if value is None else convert(value)
    return cls(**kwargs)
