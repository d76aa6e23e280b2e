"""Values of repeatable flags as the engine takes them (layer L7, present).

``--filter k=v`` (parsed to pairs by the grammar) becomes ``{k: [v, ...]}``; ``--label``/``--opt k=v``
become ``{k: v}`` (a bare ``k`` is ``k=""``, as docker's ``ConvertKVStringsToMap``).
"""

from __future__ import annotations

import argparse


def filters_of(ns: argparse.Namespace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in ns.filters:
        out.setdefault(name, []).append(value)
    return out


def key_values(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (i.partition("=") for i in items)}
