"""A terminal in a cell, wired to a container's pseudo-terminal (layer L8).

Widget events are not delivered while a cell runs, so the magic returns at once: a daemon
reader thread feeds the output area from the attach stream, and the input box's callback writes
each typed line to the container's terminal (line-based shells and REPLs work; no cursor
addressing). **Detach** does what Ctrl-P Ctrl-Q does in docker: the connection closes and the
container keeps running; when the container's process exits, its exit code is shown.

Without a widget front end (nbclient, a terminal IPython) :func:`run_without_terminal` sends
end-of-input to the container's terminal, collects what it printed and its exit code.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time

import ipywidgets as W

from dockernb.client.seam import AttachStream
from dockernb.engine.containers import DetachScanner
from dockernb.notebook.display import esc, show

__all__ = ["Terminal", "run_without_terminal"]

#: CSI/OSC sequences and lone control characters a line-oriented view cannot draw
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>]"
    r"|[\x00-\x08\x0b\x0e-\x1f\x7f]"
)


def clean(text: str) -> str:
    """What a pty wrote, as plain text: CRLF to LF, escape sequences and control characters removed."""
    return _ANSI.sub("", text.replace("\r\n", "\n")).replace("\r", "")


class Terminal:
    """``Terminal(stream, title)``: ``start()`` the reader, ``send(line)``, ``detach()``; ``exit_code`` when done."""

    def __init__(self, stream: AttachStream, title: str) -> None:
        self.stream = stream
        self.screen = W.Output(layout=W.Layout(max_height="28em", overflow="auto", border="1px solid #888"))
        self.input = W.Text(placeholder="type a line, Enter sends it", continuous_update=False,
                            layout=W.Layout(width="40em"))  # fmt: skip
        self.input.observe(self._on_input, names="value")
        self.ctrl_c = W.Button(description="Ctrl-C", layout=W.Layout(width="auto"))
        self.ctrl_d = W.Button(description="Ctrl-D", layout=W.Layout(width="auto"))
        self.detach_button = W.Button(description="Detach", tooltip="Ctrl-P Ctrl-Q: the container keeps running",
                                      button_style="info", layout=W.Layout(width="auto"))  # fmt: skip
        self.ctrl_c.on_click(lambda _b: self.write(b"\x03"))
        self.ctrl_d.on_click(lambda _b: self.write(b"\x04"))
        self.detach_button.on_click(lambda _b: self.detach())
        self.status = W.HTML(value=f"<b>{esc(title)}</b>: attached")
        self.title = title
        self.widget = W.VBox([self.status, self.screen, W.HBox([self.input, self.ctrl_c, self.ctrl_d,
                                                                 self.detach_button])])  # fmt: skip
        self.widget.add_class("dockernb-terminal")
        self.text_parts: list[str] = []
        self.exit_code: int | None = None
        self.detached = False
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self._scanner = DetachScanner()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._read, daemon=True, name="dockernb-terminal")
        self.thread.start()

    def display(self) -> None:
        show(self.widget, f"{self.title}: attached\n", f"<pre>{esc(self.title)}: attached</pre>")

    # --- input ------------------------------------------------------------------------------

    def _on_input(self, change: dict[str, object]) -> None:
        value = str(change.get("new") or "")
        if not value:
            return
        self.send(value)
        self.input.value = ""

    def send(self, line: str) -> None:
        """A typed line: written to the container's terminal with Enter."""
        self.write(line.encode() + b"\r")

    def write(self, data: bytes) -> None:
        """Bytes to the container's terminal; Ctrl-P Ctrl-Q among them detaches, as in docker's client."""
        if self.closed.is_set():
            return
        with self._lock:
            data, detached = self._scanner.feed(data)
            try:
                if data:
                    self.stream.write(data)
            except OSError:
                pass
        if detached:
            self.detach()

    def detach(self) -> None:
        """Ctrl-P Ctrl-Q: leave the container running, close our connection.

        The reader thread closes the stream (a socket closed under a thread blocked reading it stays
        open until that read returns, and the monitor would keep the old client as stdin's owner);
        this returns once it has, so an ``attach`` right after gets the container's stdin.
        """
        if self.closed.is_set():
            return
        self.detached = True
        self._end(f"detached; {self.title} keeps running")
        thread = self.thread
        if thread is None or not thread.is_alive():
            self.stream.close()
        elif thread is not threading.current_thread():
            thread.join(5)

    # --- output -----------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while not self.closed.is_set():
                try:
                    frame = self.stream.recv(0.2)
                except TimeoutError:
                    continue
                except (OSError, ValueError):
                    frame = None  # our own close (detach) or a broken connection
                if frame is None:
                    if self.detached:
                        return
                    self.exit_code = self.stream.exit_code
                    why = "the connection closed" if self.exit_code is None else f"exited with code {self.exit_code}"
                    self._end(why)
                    return
                kind, data = frame
                text = clean(data.decode("utf-8", "replace"))
                if text:
                    self.text_parts.append(text)
                    if kind == "stderr":
                        self.screen.append_stderr(text)
                    else:
                        self.screen.append_stdout(text)
        finally:
            self.closed.set()
            self.stream.close()

    def _end(self, why: str) -> None:
        self.status.value = f"<b>{esc(self.title)}</b>: {esc(why)}"
        for w in (self.input, self.ctrl_c, self.ctrl_d, self.detach_button):
            w.disabled = True
        self.closed.set()

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def wait(self, timeout: float | None = None) -> bool:
        return self.closed.wait(timeout)


def run_without_terminal(stream: AttachStream, *, tty: bool = True,
                         timeout: float = 30.0) -> tuple[str, int | None]:  # fmt: skip
    """No widget front end: end-of-input (Ctrl-D on a terminal, then stdin closed); (output, exit code).

    Gives up after ``timeout`` seconds of a container that does not end (exit code None: running).
    """
    out: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        with contextlib.suppress(OSError):
            if tty:
                stream.write(b"\x04")
            stream.close_stdin()
        while time.monotonic() < deadline:
            try:
                frame = stream.recv(0.2)
            except TimeoutError:
                continue
            if frame is None:
                break
            out.append(clean(frame[1].decode("utf-8", "replace")))
    finally:
        stream.close()
    return "".join(out), stream.exit_code
