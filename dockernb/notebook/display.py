"""Putting things in a cell's output: widgets with a text and an HTML twin, error lines (layer L8).

A widget is shown as one display message whose bundle holds the widget view *and* a
``text/plain`` and ``text/html`` rendering of the same content, so that a front end without a
widget manager (nbconvert, nbclient's saved notebook, a terminal IPython) still shows the table,
the progress or the JSON. Updates from background threads go through trait changes and
``Output.append_*`` calls only (never ``with output:``, which captures by the cell's message id
and only works on the cell's own thread).
"""

from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from typing import Any

from IPython.display import display

__all__ = ["esc", "html_table", "print_error", "show", "text_table", "update"]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bundle(widget: Any, text: str, html_text: str) -> dict[str, Any]:  # noqa: ANN401
    bundle = dict(widget._repr_mimebundle_() or {})
    bundle["text/plain"] = text
    bundle["text/html"] = html_text
    return bundle


def show(widget: Any, text: str, html_text: str) -> Any:  # noqa: ANN401 - any ipywidgets widget
    """Display ``widget`` with ``text``/``html_text`` as what widget-less front ends render.

    Returns the display handle: :func:`update` replaces the text twins when the content has
    changed (a pull's progress at its end), so a saved notebook holds the final text.
    """
    return display(_bundle(widget, text, html_text), raw=True, display_id=True)  # type: ignore[no-untyped-call]


def update(handle: Any, widget: Any, text: str, html_text: str) -> None:  # noqa: ANN401
    if handle is not None:
        handle.update(_bundle(widget, text, html_text), raw=True)


def print_error(text: str) -> None:
    """One red line (or a few): what the CLI prints on stderr, no traceback."""
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """docker's tabwriter look: columns padded to the widest cell plus three spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str = "dockernb-table") -> str:
    head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
