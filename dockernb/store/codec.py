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
from collections.abc import Mapping
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


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, data: Any) -> Any:  # noqa: ANN401
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(options[0], data) if len(options) == 1 else data
    if origin is tuple:
        (item, *_) = typing.get_args(tp)
        return tuple(_convert(item, v) for v in data)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp)
        return {k: _convert(args[1], v) if args else v for k, v in data.items()}
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_convert(item, v) for v in data]
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return decode(tp, data)
        if issubclass(tp, Enum):
            return tp(data)
        if tp is datetime:
            return datetime.fromisoformat(data)
        if tp is float:
            return float(data)
    return data


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build ``cls`` from JSON data written by :func:`encode`; raises ValueError/TypeError on a bad shape."""
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    hints = _hints(cls)  # type: ignore[arg-type]  # classes are hashable
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)
