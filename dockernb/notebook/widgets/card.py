"""``run -d``: a status card for the new container, with Stop / Logs / Remove buttons (layer L8)."""

from __future__ import annotations

import ipywidgets as W

from dockernb.client.models import Container
from dockernb.errors import DockernbError
from dockernb.notebook.display import esc, show

__all__ = ["ContainerCard"]


class ContainerCard:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.info = W.HTML(value="")
        self.message = W.HTML(value="")
        self.output = W.Output()
        self.buttons = {name: W.Button(description=name, layout=W.Layout(width="auto"))
                        for name in ("Refresh", "Stop", "Logs", "Remove")}  # fmt: skip
        for name, b in self.buttons.items():
            b.on_click(lambda _b, name=name: self.act(name))
        self.widget = W.VBox([self.info, W.HBox(list(self.buttons.values())), self.message, self.output],
                             layout=W.Layout(border="1px solid #ccc", padding="4px", width="fit-content"))
        self.widget.add_class("dockernb-card")
        self.refresh()

    def fields(self) -> list[tuple[str, str]]:
        c = self.container
        return [("Name", c.name), ("ID", c.short_id), ("Image", c.image), ("Status", str(c.summary.state.status)),
                ("Ports", c.ports)]  # fmt: skip

    def refresh(self) -> None:
        try:
            self.container.reload()
        except DockernbError as err:
            self.message.value = f"<span style='color:#c00'>{esc(err)}</span>"
            return
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{k}</th><td>{esc(v)}</td></tr>"
                       for k, v in self.fields())  # fmt: skip
        self.info.value = f"<table>{rows}</table>"

    def act(self, name: str) -> None:
        try:
            if name == "Stop":
                self.container.stop(timeout=10)
            elif name == "Remove":
                self.container.remove(force=True)
                self.message.value = f"removed {esc(self.container.name)}"
                for b in self.buttons.values():
                    b.disabled = True
                return
            elif name == "Logs":
                self.output.clear_output()
                self.output.append_stdout(self.container.logs(tail=200).decode("utf-8", "replace"))
        except DockernbError as err:
            self.message.value = f"<span style='color:#c00'>Error response from daemon: {esc(err)}</span>"
            return
        self.refresh()

    def text(self) -> str:
        return self.container.id + "\n"

    def display(self) -> None:
        show(self.widget, self.text(), self.info.value)
