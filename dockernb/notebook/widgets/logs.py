"""``logs`` / ``logs -f`` in a cell: scrolling output that follows live, a Stop button, stderr apart (layer L8).

Lines are appended with ``Output.append_stdout``/``append_stderr`` from a daemon thread, so the
cell returns at once and other cells run while the log follows; front ends show the stderr
stream apart (red). Stop ends the follow (the reader is closed between two lines).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import ipywidgets as W

from dockernb.errors import DockernbError
from dockernb.notebook.display import esc, show, update
from dockernb.spec.logline import LogLine

__all__ = ["LogViewer"]


class LogViewer:
    """``LogViewer(title, lines)``: ``follow()`` in the background or ``read_all()`` at once."""

    def __init__(self, title: str, lines: Callable[[], Iterator[LogLine]]) -> None:
        self.lines = lines
        self.output = W.Output(layout=W.Layout(max_height="24em", overflow="auto", border="1px solid #ddd"))
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="warning", disabled=True)
        self.stop_button.on_click(lambda _b: self.stop())
        self.status = W.HTML(value=f"<b>{esc(title)}</b>")
        self.widget = W.VBox([W.HBox([self.status, self.stop_button]), self.output])
        self.widget.add_class("dockernb-logs")
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.handle: object = None

    def _append(self, line: LogLine) -> None:
        text = line.data.decode("utf-8", "replace")
        if line.stream == "stderr":
            self.stderr.append(text)
            self.output.append_stderr(text)
        else:
            self.stdout.append(text)
            self.output.append_stdout(text)

    def read_all(self) -> None:
        try:
            for line in self.lines():
                self._append(line)
        finally:
            self.done.set()

    def follow(self) -> None:
        """Start following in a daemon thread; returns at once."""
        self.stop_button.disabled = False
        self.thread = threading.Thread(target=self._follow, daemon=True, name="dockernb-logs")
        self.thread.start()

    def _follow(self) -> None:
        it = self.lines()
        try:
            for line in it:
                if self._stopped.is_set():
                    break
                self._append(line)
        except DockernbError as err:
            self.output.append_stderr(f"Error response from daemon: {err}\n")
        finally:
            close = getattr(it, "close", None)
            if callable(close):
                close()
            self.stop_button.disabled = True
            self.stop_button.description = "Stopped" if self._stopped.is_set() else "Ended"
            self.done.set()
            update(self.handle, self.widget, self.text(), self.html())

    def stop(self) -> None:
        self._stopped.set()

    def text(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def html(self) -> str:
        out = "".join(self.stdout)
        err = "".join(f"<span style='color:#c00'>{esc(x)}</span>" for x in self.stderr)
        return f"<pre class='dockernb-logs'>{esc(out)}{err}</pre>"

    def display(self) -> None:
        self.handle = show(self.widget, self.text(), self.html())
