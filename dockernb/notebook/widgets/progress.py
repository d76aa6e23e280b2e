"""Pull/push progress as bars: one per layer plus a total, like docker's terminal output (layer L8).

Fed :class:`~dockernb.spec.events.ProgressMessage` records as the engine yields them. A layer's
bar counts its compressed bytes while downloading, then again while extracting (docker's two
phases); the total bar counts finished layers' bytes plus the current downloads. Lines without a
layer (``Digest: ...``, ``Status: ...``) go to the summary. ``text()`` is docker's non-TTY
output (state changes only), for front ends without widgets.
"""

from __future__ import annotations

import threading

import ipywidgets as W

from dockernb.notebook.display import esc, show, update
from dockernb.spec.events import LayerStatus, ProgressMessage

__all__ = ["PullProgress"]

_DONE = {LayerStatus.PULLED, LayerStatus.EXISTS, LayerStatus.PUSHED, LayerStatus.PUSH_EXISTS}


class _Layer:
    def __init__(self, layer_id: str) -> None:
        self.id = layer_id
        self.status = W.Label(value="", layout=W.Layout(width="16em"))
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="22em"))
        self.bytes = W.Label(value="")
        self.total = 0
        self.downloaded = 0
        self.done = False
        self.widget = W.HBox([W.Label(value=layer_id, layout=W.Layout(width="9em")), self.status, self.bar,
                              self.bytes])  # fmt: skip


class PullProgress:
    """``PullProgress(title)``; ``feed(message)`` for each engine record; ``finish(ok)``."""

    def __init__(self, title: str) -> None:
        self.title = W.HTML(value=f"<b>{esc(title)}</b>")
        self.total = W.IntProgress(value=0, min=0, max=1, description="Total", bar_style="info",
                                   layout=W.Layout(width="40em"))  # fmt: skip
        self.total_label = W.Label(value="")
        self.rows = W.VBox([])
        self.summary = W.HTML(value="")
        self.widget = W.VBox([self.title, self.rows, W.HBox([self.total, self.total_label]), self.summary])
        self.widget.add_class("dockernb-pull")
        self.layers: dict[str, _Layer] = {}
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.handle: object = None

    def display(self) -> None:
        self.handle = show(self.widget, self.text(), self.html())

    def feed(self, m: ProgressMessage) -> None:
        with self._lock:
            self._feed(m)

    def _feed(self, m: ProgressMessage) -> None:
        is_layer = bool(m.id) and any(m.status.startswith(s.value) for s in LayerStatus)
        if not is_layer:
            line = f"{m.id}: {m.status}" if m.id else m.status
            self.lines.append(line)
            self.summary.value = "<br>".join(esc(x) for x in self.lines)
            return
        layer = self.layers.get(m.id)
        if layer is None:
            layer = self.layers[m.id] = _Layer(m.id)
            self.rows.children = (*self.rows.children, layer.widget)
        if not m.has_progress and (not self.lines or self.lines[-1] != f"{m.id}: {m.status}"):
            self.lines.append(f"{m.id}: {m.status}")
        layer.status.value = m.status
        if m.has_progress:
            if m.total:
                layer.total = max(layer.total, m.total)
                layer.bar.max = max(m.total, 1)
            layer.bar.value = min(m.current, layer.bar.max)
            layer.bar.bar_style = "info" if m.status == LayerStatus.DOWNLOADING else "warning"
            layer.bytes.value = _bytes(m.current, m.total)
            if m.status == LayerStatus.DOWNLOADING:
                layer.downloaded = m.current
        elif m.status in (LayerStatus.DOWNLOADED, LayerStatus.VERIFYING):
            layer.downloaded = layer.total
            layer.bar.value = layer.bar.max
        elif m.status in _DONE:
            layer.done = True
            layer.bar.value = layer.bar.max
            layer.bar.bar_style = "success"
            layer.bytes.value = _bytes(layer.total, layer.total) if layer.total else ""
        self._update_total()

    def _update_total(self) -> None:
        layers = list(self.layers.values())
        size = sum(layer.total for layer in layers) or 1
        got = sum(layer.total if layer.done else layer.downloaded for layer in layers)
        self.total.max = size
        self.total.value = min(got, size)
        done = sum(1 for layer in layers if layer.done)
        self.total_label.value = f"{done}/{len(layers)} layers, {_bytes(got, size)}"

    def feed_line(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            self.summary.value = "<br>".join(esc(x) for x in self.lines)

    def finish(self, ok: bool, message: str = "") -> None:
        self.total.bar_style = "success" if ok else "danger"
        if ok:
            self.total.value = self.total.max
        if message:
            self.lines.append(message)
            self.summary.value = "<br>".join(esc(x) for x in self.lines)
        update(self.handle, self.widget, self.text(), self.html())

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def html(self) -> str:
        return f"<pre class='dockernb-pull'>{esc(self.text())}</pre>"


def _bytes(current: int, total: int) -> str:
    from dockernb.present.units import human_size

    return f"{human_size(current)}/{human_size(total)}" if total else human_size(current)
