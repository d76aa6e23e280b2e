"""``inspect`` as a collapsible JSON tree (layer L8).

Nested ``<details>`` elements in one HTML widget: objects and arrays fold, the first level is
open, scalars are shown as JSON. The text twin is docker's ``inspect`` output (Go's indented
JSON, :func:`dockernb.present.images.go_json`).
"""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as W

from dockernb.notebook.display import esc, show
from dockernb.present.images import go_json

__all__ = ["JsonTree", "tree_html"]


def tree_html(value: Any, key: str = "", depth: int = 0) -> str:  # noqa: ANN401 - JSON
    label = f"<b>{esc(key)}</b>: " if key else ""
    if isinstance(value, dict | list) and value:
        items = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
        kind = f"{{{len(value)}}}" if isinstance(value, dict) else f"[{len(value)}]"
        inner = "".join(f"<li>{tree_html(v, str(k), depth + 1)}</li>" for k, v in items)
        opened = " open" if depth < 1 else ""
        return (f"<details{opened}><summary>{label}<span style='color:#888'>{kind}</span></summary>"
                f"<ul style='list-style:none;margin:0;padding-left:1.2em'>{inner}</ul></details>")  # fmt: skip
    return f"{label}<code>{esc(json.dumps(value, ensure_ascii=False))}</code>"


class JsonTree:
    def __init__(self, data: list[Any]) -> None:
        self.data = data
        body = "".join(tree_html(item) for item in data) if data else "<code>[]</code>"
        self.widget = W.HTML(value=f"<div class='dockernb-inspect' style='font-family:monospace'>{body}</div>")

    def text(self) -> str:
        return (go_json(self.data) if self.data else "[]") + "\n"

    def display(self) -> None:
        show(self.widget, self.text(), self.widget.value)
