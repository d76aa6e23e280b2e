"""The ``ps`` and ``images`` tables: docker's columns, live status, per-row actions (layer L8).

Columns and cell texts are the CLI's (``present.containers.ps_context``,
``present.images.image_rows``), so the table and ``dockernb ps`` agree word for word.
Container rows offer start, stop, restart, remove, logs, inspect and shell; image rows run,
history, inspect and remove. What an action shows (logs, an inspect tree, a terminal) appears
under the table.
"""

from __future__ import annotations

from collections.abc import Callable

from dockernb.client import DockerClient
from dockernb.client.models import Container, Image
from dockernb.notebook.widgets.table import Action, ActionTable, Row
from dockernb.present.containers import ps_context
from dockernb.present.images import image_rows

__all__ = ["PS_HEADERS", "IMAGE_HEADERS", "container_table", "image_table"]

PS_HEADERS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
_PS_FIELDS = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
IMAGE_HEADERS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
_IMAGE_FIELDS = ("Repository", "Tag", "ID", "CreatedSince", "Size")

_LIVE = {"running", "paused", "restarting"}


def _container_actions(status: str) -> frozenset[str]:
    live = status in _LIVE
    offered = {"remove", "logs", "inspect"}
    offered |= {"stop", "restart", "shell"} if live else {"start"}
    return frozenset(offered)


def container_table(client: DockerClient, fetch: Callable[[], list[Container]], *, interactive: bool = False,
                    live: float = 2.0) -> ActionTable:  # fmt: skip
    """``ps``: rows from ``fetch`` (the flags' selection), refreshed live every ``live`` seconds."""

    def rows() -> list[Row]:
        out = []
        for c in fetch():
            ctx = ps_context(c.summary)
            out.append(Row(c.id, tuple(str(ctx[f]) for f in _PS_FIELDS), _container_actions(c.summary.state.status)))
        return out

    def get(key: str) -> Container:
        return client.containers.get(key)

    def logs(key: str) -> object:
        from dockernb.notebook.widgets.logs import LogViewer

        c = get(key)
        viewer = LogViewer(f"logs {c.name}", lambda: c.stream_logs(follow=False, tail=200))
        viewer.read_all()
        return viewer.widget

    def inspect(key: str) -> object:
        from dockernb.notebook.widgets.inspect import JsonTree

        return JsonTree([get(key).attrs]).widget

    def shell(key: str) -> object:
        from dockernb.client.streams import ExecStream
        from dockernb.notebook.widgets.terminal import Terminal

        c = get(key)
        proc = client.engine.containers.exec_start(c.id, ["sh"], tty=True, stdin=True, console_size=(24, 100))
        assert proc is not None
        term = Terminal(ExecStream(proc), f"{c.name}: sh")
        term.start()
        return term.widget

    actions = [
        Action("start", lambda k: get(k).start(), "success"),
        Action("stop", lambda k: get(k).stop(timeout=10), "warning"),
        Action("restart", lambda k: get(k).restart(timeout=10)),
        Action("remove", lambda k: get(k).remove(force=True), "danger"),
        Action("logs", logs, refresh=False),
        Action("inspect", inspect, refresh=False),
        Action("shell", shell, refresh=False, tooltip="sh in the container (docker exec -it NAME sh)"),
    ]
    return ActionTable(PS_HEADERS, rows, actions, live=live)


def image_table(client: DockerClient, fetch: Callable[[], list[Image]]) -> ActionTable:
    """``images``: one row per repository:tag as docker lists them; the row's key is the image id."""

    def rows() -> list[Row]:
        out = []
        images = fetch()
        for image, ctxs in zip(images, (image_rows([i.record]) for i in images), strict=True):
            for n, ctx in enumerate(ctxs):
                key = image.id if n == 0 else f"{image.id}#{n}"
                out.append(Row(key, tuple(str(ctx[f]) for f in _IMAGE_FIELDS)))
        return out

    def image_id(key: str) -> str:
        return key.split("#", 1)[0]

    def run(key: str) -> object:
        from dockernb.notebook.widgets.card import ContainerCard

        container = client.containers.run(image_id(key), detach=True)
        assert isinstance(container, Container)
        return ContainerCard(container).widget

    def history(key: str) -> object:
        import ipywidgets as W

        from dockernb.notebook.session import _history_text

        return W.HTML(f"<pre>{_history_text(client, image_id(key))}</pre>")

    def inspect(key: str) -> object:
        from dockernb.notebook.widgets.inspect import JsonTree

        return JsonTree([client.images.get(image_id(key)).attrs]).widget

    actions = [
        Action("run", run, "success", refresh=False, tooltip="docker run -d IMAGE"),
        Action("history", history, refresh=False),
        Action("inspect", inspect, refresh=False),
        Action("remove", lambda k: client.images.remove(image_id(k), force=True), "danger"),
    ]
    return ActionTable(IMAGE_HEADERS, rows, actions)
