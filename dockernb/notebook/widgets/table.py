"""A refreshable table with per-row action buttons: what ``ps`` and ``images`` show in a cell (layer L8).

The table is a GridBox of HTML cells plus one button box per row, a toolbar (Refresh, a status
line) and an Output area where actions put what they produce (logs, inspect trees, a shell). Rows
come from a ``fetch`` callable; refreshing re-reads them and changes only the cells that changed
(a trait set with an unchanged value sends nothing to the front end). ``live`` refreshes from a
daemon thread every few seconds until the widget is closed, through trait updates only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import ipywidgets as W

from dockernb.errors import DockernbError
from dockernb.notebook.display import html_table, show, text_table

__all__ = ["Action", "ActionTable", "Row"]


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # what actions get: a container id, an image id
    cells: tuple[str, ...]
    #: names of the actions offered on this row (None: all of them)
    actions: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # the button's text
    run: Callable[[str], object]  # gets the row's key; may return a widget to show below the table
    style: str = ""  # ipywidgets button_style
    #: the rows must be read again after it (start/stop/remove change them)
    refresh: bool = True
    tooltip: str = field(default="")


class ActionTable:
    """``ActionTable(headers, fetch, actions)``; ``.widget`` to display, ``.refresh()``, ``.rows``."""

    def __init__(
        self,
        headers: Sequence[str],
        fetch: Callable[[], list[Row]],
        actions: Sequence[Action] = (),
        *,
        live: float = 0.0,
        live_for: float = 3600.0,
    ) -> None:
        self.headers = tuple(headers)
        self.fetch = fetch
        self.actions = {a.name: a for a in actions}
        self.rows: list[Row] = []
        self.status = W.HTML(value="", layout=W.Layout(margin="0 0 0 1em"))
        self.refresh_button = W.Button(description="Refresh", icon="refresh", layout=W.Layout(width="auto"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        columns = len(self.headers) + (1 if self.actions else 0)
        self.grid = W.GridBox(layout=W.Layout(grid_template_columns=f"repeat({columns}, auto)", grid_gap="2px 12px",
                                              align_items="center"))  # fmt: skip
        self.output = W.Output(layout=W.Layout(max_height="30em", overflow="auto"))
        self.widget = W.VBox([W.HBox([self.refresh_button, self.status]), self.grid, self.output])
        self.widget.add_class("dockernb-table")
        self._cells: list[list[W.HTML]] = []
        self._buttons: list[dict[str, W.Button]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.refresh()
        if live > 0:
            threading.Thread(target=self._live, args=(live, live_for), daemon=True, name="dockernb-table").start()

    # --- rendering ------------------------------------------------------------------------

    def text(self) -> str:
        return text_table(self.headers, [r.cells for r in self.rows])

    def html(self) -> str:
        return html_table(self.headers, [r.cells for r in self.rows])

    def display(self) -> None:
        show(self.widget, self.text(), self.html())

    def refresh(self) -> None:
        """Read the rows again; the grid keeps its widgets and changes only what differs."""
        with self._lock:
            try:
                rows = self.fetch()
            except DockernbError as err:
                self.status.value = f"<span style='color:#c00'>{err}</span>"
                return
            if [r.key for r in rows] != [r.key for r in self.rows] or not self._cells and rows:
                self._rebuild(rows)
            else:
                for row, cells, buttons in zip(rows, self._cells, self._buttons, strict=True):
                    for cell, text in zip(cells, row.cells, strict=True):
                        cell.value = _cell_html(text)
                    for name, button in buttons.items():
                        button.disabled = row.actions is not None and name not in row.actions
            self.rows = rows

    def _rebuild(self, rows: list[Row]) -> None:
        children: list[W.Widget] = [W.HTML(f"<b>{h}</b>") for h in self.headers]
        if self.actions:
            children.append(W.HTML(""))
        self._cells, self._buttons = [], []
        for row in rows:
            cells = [W.HTML(_cell_html(text)) for text in row.cells]
            buttons: dict[str, W.Button] = {}
            for name, action in self.actions.items():
                b = W.Button(description=name, button_style=action.style, tooltip=action.tooltip or name,
                             layout=W.Layout(width="auto", padding="0 6px"))  # fmt: skip
                b.disabled = row.actions is not None and name not in row.actions
                b.on_click(lambda _b, key=row.key, name=name: self.act(name, key))
                buttons[name] = b
            children += cells
            if self.actions:
                children.append(W.HBox(list(buttons.values())))
            self._cells.append(cells)
            self._buttons.append(buttons)
        self.grid.children = tuple(children)

    # --- actions --------------------------------------------------------------------------

    def act(self, name: str, key: str) -> None:
        """What a row's button does: run the action; errors land in the status line, never as tracebacks."""
        action = self.actions[name]
        self.status.value = f"{name} {key[:12]}…"
        try:
            shown = action.run(key)
        except DockernbError as err:
            self.status.value = f"<span style='color:#c00'>Error response from daemon: {err}</span>"
            return
        self.status.value = f"{name} {key[:12]}: done"
        if shown is not None:
            self.output.clear_output()
            self.output.append_display_data(shown)
        if action.refresh:
            self.refresh()

    def button(self, key: str, name: str) -> W.Button:
        """The button of an action on a row (for tests and for the lab helper's UI checks)."""
        for row, buttons in zip(self.rows, self._buttons, strict=True):
            if row.key == key:
                return buttons[name]
        raise KeyError(key)

    def _live(self, every: float, lasting: float) -> None:
        deadline = threading.Event()
        timer = threading.Timer(lasting, deadline.set)
        timer.daemon = True
        timer.start()
        while not self._stop.wait(every) and not deadline.is_set():
            if self.widget.comm is None:  # closed
                break
            self.refresh()
        timer.cancel()

    def close(self) -> None:
        self._stop.set()
        self.widget.close()


def _cell_html(text: str) -> str:
    from dockernb.notebook.display import esc

    return f"<span style='white-space:pre;font-family:var(--jp-code-font-family,monospace)'>{esc(text)}</span>"
