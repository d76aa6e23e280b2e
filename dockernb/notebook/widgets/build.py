"""``build`` in a cell: per-step progress, cache hits marked, collapsible step logs, the image id (layer L8).

Fed :mod:`dockernb.spec.events` build records. Each step is an Accordion pane titled
``Step 2/5 : RUN make`` (``(cached)`` on a cache hit, ``✗`` on failure) holding what the step
printed (stderr through ``append_stderr``, so front ends show it apart); a bar counts finished
steps; the last line says ``Successfully built <id>`` and the tags. ``text()`` is docker's
classic output (:func:`dockernb.present.output.build_line`) for front ends without widgets.
"""

from __future__ import annotations

import ipywidgets as W

from dockernb.notebook.display import esc, show, update
from dockernb.present.output import build_line
from dockernb.present.units import short_id
from dockernb.spec.events import (
    BuildCacheHit,
    BuildDone,
    BuildEvent,
    BuildOutput,
    BuildStep,
    BuildStepDone,
    BuildTagged,
    Stream,
)

__all__ = ["BuildProgress"]

_ANSI_RED, _ANSI_RESET = "\x1b[91m", "\x1b[0m"


class BuildProgress:
    """``feed(event)`` for each build record; ``fail(message)`` when the build raised."""

    def __init__(self, title: str = "build") -> None:
        self.title = W.HTML(value=f"<b>{esc(title)}</b>")
        self.bar = W.IntProgress(value=0, min=0, max=1, description="Steps", bar_style="info")
        self.steps = W.Accordion(children=())
        self.result = W.HTML(value="")
        self.widget = W.VBox([self.title, self.bar, self.steps, self.result])
        self.widget.add_class("dockernb-build")
        self.titles: list[str] = []
        self.cached: list[bool] = []
        self.logs: list[W.Output] = []
        self.image_id = ""
        self.tags: list[str] = []
        self._text: list[str] = []
        self.handle: object = None

    def display(self) -> None:
        self.handle = show(self.widget, self.text(), self.html())

    def finish(self) -> None:
        """The build ended (well or not): the text twins get the whole output."""
        update(self.handle, self.widget, self.text(), self.html())

    def feed(self, event: BuildEvent) -> None:
        line, _stream = build_line(event)
        self._text.append(line.replace(_ANSI_RED, "").replace(_ANSI_RESET, ""))
        if isinstance(event, BuildStep):
            self._new_step(f"Step {event.index}/{event.total} : {event.text}")
            self.bar.max = max(event.total, 1)
            return
        if isinstance(event, BuildCacheHit) and self.titles:
            self.cached[-1] = True
            self._set_title(len(self.titles) - 1, self.titles[-1] + "  (cached)")
        elif isinstance(event, BuildStepDone):
            self.bar.value = min(self.bar.value + 1, self.bar.max)
            if self.logs and event.image_id:
                self.logs[-1].append_stdout(f" ---> {short_id(event.image_id)}\n")
        elif isinstance(event, BuildOutput):
            if not self.logs:
                self._new_step("(before the first step)")
            if event.stream == Stream.STDERR:
                self.logs[-1].append_stderr(event.text)
            else:
                self.logs[-1].append_stdout(event.text)
        elif isinstance(event, BuildDone):
            self.image_id = event.image_id
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
        elif isinstance(event, BuildTagged):
            self.tags.append(event.name)
        elif self.logs:
            self.logs[-1].append_stdout(line)
        self._result()

    def _new_step(self, title: str) -> None:
        out = W.Output(layout=W.Layout(max_height="20em", overflow="auto"))
        self.titles.append(title)
        self.cached.append(False)
        self.logs.append(out)
        self.steps.children = (*self.steps.children, out)
        self._set_title(len(self.titles) - 1, title)

    def _set_title(self, index: int, title: str) -> None:
        self.steps.set_title(index, title)

    def _result(self) -> None:
        if self.image_id:
            tags = "".join(f"<br>Successfully tagged {esc(t)}" for t in self.tags)
            self.result.value = f"<b>Successfully built {esc(short_id(self.image_id))}</b>{tags}"

    def fail(self, message: str) -> None:
        self.bar.bar_style = "danger"
        if self.titles:
            self._set_title(len(self.titles) - 1, self.titles[-1] + "  ✗")
            self.steps.selected_index = len(self.titles) - 1
        self.result.value = f"<span style='color:#c00'>{esc(message)}</span>"
        self._text.append(message + "\n")

    def text(self) -> str:
        return "".join(self._text)

    def html(self) -> str:
        return f"<pre class='dockernb-build'>{esc(self.text())}</pre>"
