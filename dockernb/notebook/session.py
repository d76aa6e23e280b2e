"""One docker command line in a notebook: the shared grammar and runners, widgets where they help (layer L8).

:func:`run_docker` parses and runs a line through :func:`dockernb.present.dispatch.dispatch`
(so usage errors, engine errors and exit codes are the CLI's), with :func:`runner_for`
swapping in the notebook's renderers for the verbs that have a widget, when the output is the
default one: with ``--format``/``-q`` a verb prints the CLI's text, which is what a user who
asked for a format wants. Every renderer also leaves a Python value in ``ctx.result`` (image
models for ``images``, a container handle for ``run -d``...), which the magic returns.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from dockernb.client import DockerClient
from dockernb.client.commands import context_for
from dockernb.client.models import Container, Image
from dockernb.errors import (
    BuildContextError,
    BuildError,
    ContainerStartFailed,
    DockernbError,
    NoSuchContainer,
    NoSuchImage,
)
from dockernb.notebook.display import print_error
from dockernb.present.context import Context
from dockernb.present.dispatch import Runner, dispatch, shared_runner
from dockernb.present.images import history_rows
from dockernb.spec.reference import parse_reference

T = TypeVar("T")

__all__ = ["NotebookContext", "run_docker", "runner_for"]


@dataclass
class NotebookContext(Context):
    """The Context a notebook runner gets: the client, the line as typed, and room for a result."""

    client: DockerClient | None = None
    argv: tuple[str, ...] = ()
    #: the Python value of the command (what ``x = %docker ...`` gets)
    result: Any = None
    #: render widgets (False: always the CLI's text, as in a pipeline of the Docker kernel)
    widgets: bool = True
    #: the front end can deliver widget events (a live Jupyter front end, not nbclient)
    interactive: bool = False
    #: the kernel's cell directory: relative paths in the line are relative to it
    cwd: str = field(default_factory=os.getcwd)

    @property
    def docker(self) -> DockerClient:
        assert self.client is not None
        return self.client


def run_docker(argv: Sequence[str], client: DockerClient, *, widgets: bool = True, interactive: bool = False,
               out: TextIO | None = None, err: TextIO | None = None,
               stdin: BinaryIO | None = None) -> NotebookContext:  # fmt: skip
    """Run one command line; the context holds ``result`` and the exit code is ``ctx.exit_code``."""
    base = context_for(client.engine, out=out or sys.stdout, err=err or sys.stderr, stdin=stdin)
    ctx = NotebookContext(prog=base.prog, out=base.out, err=base.err, stdin=stdin, _engine=base._engine,
                          client=client, argv=tuple(argv), widgets=widgets, interactive=interactive)  # fmt: skip
    ctx.exit_code = dispatch(list(argv), ctx, runner_for(ctx))  # type: ignore[attr-defined]
    return ctx


def runner_for(ctx: NotebookContext) -> Any:  # noqa: ANN401 - Callable[[str], Runner | None]
    def find(verb: str) -> Runner | None:
        base = _SPELLINGS.get(verb, verb)
        mine = _RENDERERS.get(base)
        shared = engine_runner(ctx, verb)
        if mine is None or not ctx.widgets:
            return _with_result(base, shared) if shared is not None else None
        return lambda ns, c: mine(ns, ctx, shared)

    return find


def engine_runner(ctx: Context, verb: str) -> Runner | None:
    """The shared runner of ``verb``, or the backend's own (a remote engine serves its verbs its way)."""
    own = getattr(ctx._engine, "runner", None)
    return own(verb) if callable(own) else shared_runner(verb)


def _with_result(verb: str, shared: Runner) -> Runner:
    """A shared runner whose Python value is still computed (``ids = %docker images -q``)."""

    def run(ns: argparse.Namespace, ctx: Context) -> int:
        code = shared(ns, ctx)
        if code == 0 and isinstance(ctx, NotebookContext) and verb in _VALUES:
            ctx.result = _VALUES[verb](ns, ctx)
        return code

    return run


def _filters(ns: argparse.Namespace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in getattr(ns, "filters", None) or []:
        name, value = item if isinstance(item, tuple) else str(item).split("=", 1)
        out.setdefault(name, []).append(value)
    return out


# --- images ------------------------------------------------------------------------------------


def _image_list(ns: argparse.Namespace, ctx: NotebookContext) -> list[Image]:
    return ctx.docker.images.list(ns.args[0] if ns.args else None, all=ns.all, filters=_filters(ns))


def _images(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    if ns.format or ns.quiet or ns.digests or ns.no_trunc:
        assert shared is not None
        return _with_result("images", shared)(ns, ctx)
    from dockernb.notebook.widgets.tables import image_table

    found = _image_list(ns, ctx)  # engine errors (a bad filter) propagate to dispatch: the CLI's words
    table = image_table(ctx.docker, lambda: _image_list(ns, ctx))
    table.display()
    ctx.result = ShownList(found)
    return 0


class ShownList(list[T]):
    """``%docker images``/``ps`` values: models. As a cell's last line, the table already shows them."""

    shown_in: int | None = None

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        ip = get_ipython()
        if ip is not None and self.shown_in == ip.execution_count:
            return
        display(list(self))  # type: ignore[no-untyped-call]


def _pull(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    if ns.quiet or ns.all_tags:
        assert shared is not None
        return shared(ns, ctx)
    from dockernb.notebook.widgets.progress import PullProgress

    text = ns.args[0]
    ref = parse_reference(text)  # InvalidReference: dispatch prints it, as the CLI does
    if ref.tag is None and ref.digest is None:
        ref = ref.with_default_tag()
    view = PullProgress(f"pull {ref.familiar}")
    view.display()
    if ref.familiar != text and ":" not in text.rsplit("/", 1)[-1] and "@" not in text:
        view.feed_line(f"Using default tag: {ref.tag}")
    try:
        for message in ctx.engine.images.pull(text, platform=ns.platform):
            view.feed(message)
    except DockernbError as err:
        view.finish(False, f"Error response from daemon: {err}")
        raise
    except KeyboardInterrupt:
        view.finish(False, "interrupted")
        raise
    view.finish(True, ref.familiar)
    ctx.result = ctx.docker.images.get(ref.familiar)
    return 0


def _history_text(client: DockerClient, key: str) -> str:
    from dockernb.notebook.display import esc
    from dockernb.present.images import HISTORY_HEADERS, HISTORY_TABLE, format_table

    return esc(format_table(HISTORY_TABLE, history_rows(client.images.api.history(key)), HISTORY_HEADERS))


# --- inspect -----------------------------------------------------------------------------------


def _inspect(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    assert shared is not None
    if ns.format:
        return shared(ns, ctx)
    from dockernb.notebook.widgets.inspect import JsonTree

    buffer = io.StringIO()
    sub = NotebookContext(prog=ctx.prog, out=buffer, err=ctx.err, _engine=ctx._engine, client=ctx.client)
    code = shared(ns, sub)  # the CLI's lookup rules (type, errors per name); its JSON, parsed back
    import json

    text = buffer.getvalue().strip()
    data = json.loads(text) if text.startswith("[") else []
    if data:
        JsonTree(data).display()
    else:
        ctx.out.write(text + "\n")  # docker's "[]" beside the errors
    ctx.result = data
    return code


# --- build -------------------------------------------------------------------------------------


def _build(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    if ns.quiet or (ctx.stdin is None and ns.args and ns.args[0] == "-"):
        assert shared is not None
        return shared(ns, ctx)
    return build_with_widget(ns, ctx, dockerfile_text=None)


def build_with_widget(ns: argparse.Namespace, ctx: NotebookContext, *, dockerfile_text: str | None) -> int:
    """A build rendered as steps; ``dockerfile_text`` is ``%%dockerfile``'s cell."""
    from dockernb.notebook.widgets.build import BuildProgress

    view = BuildProgress("build " + " ".join(ns.tags) if ns.tags else "build")
    view.display()
    try:
        events = ctx.engine.builds.build(
            ns.args[0], stdin=ctx.stdin, dockerfile=ns.file, dockerfile_text=dockerfile_text, cwd=ctx.cwd,
            tags=ns.tags, build_args=dict(ns.build_args), labels=dict(ns.labels), target=ns.target,
            no_cache=ns.no_cache, pull=ns.pull, network=ns.network, platform=ns.platform,
        )  # fmt: skip
        for event in events:
            view.feed(event)
    except BuildContextError as err:
        view.fail(str(err))
        print_error(str(err))
        return 1
    except BuildError as err:
        view.fail(str(err))
        print_error(str(err))
        return err.exit_code or 1
    except DockernbError as err:
        view.fail(f"Error response from daemon: {err}")
        raise
    finally:
        view.finish()
    if ns.iidfile:
        Path(ns.iidfile).write_text(view.image_id)
    try:
        ctx.result = ctx.docker.images.get(view.image_id) if view.image_id else None
    except NoSuchImage:
        ctx.result = None
    return 0


# --- containers --------------------------------------------------------------------------------


def _container_list(ns: argparse.Namespace, ctx: NotebookContext) -> list[Container]:
    show_all = bool(getattr(ns, "all", False) or getattr(ns, "latest", False) or getattr(ns, "last", -1) > 0)
    found = ctx.docker.containers.list(all=show_all, filters=_filters(ns))
    if getattr(ns, "latest", False):
        return found[:1]
    last = getattr(ns, "last", -1)
    return found[:last] if last and last > 0 else found


def _ps(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    if ns.format or ns.quiet or ns.size or ns.no_trunc:
        assert shared is not None
        return _with_result("ps", shared)(ns, ctx)
    from dockernb.notebook.widgets.tables import container_table

    found = _container_list(ns, ctx)
    table = container_table(ctx.docker, lambda: _container_list(ns, ctx), interactive=ctx.interactive)
    table.display()
    ctx.result = ShownList(found)
    return 0


def _logs(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    assert shared is not None
    if ns.timestamps or ns.details or ns.since or ns.until:
        return shared(ns, ctx)
    from dockernb.notebook.widgets.logs import LogViewer
    from dockernb.present.logs import tail_arg

    container = ctx.docker.containers.get(ns.args[0])
    tail = tail_arg(ns.tail)
    viewer = LogViewer(f"logs {container.name}", lambda: container.stream_logs(follow=ns.follow, tail=tail))
    if ns.follow:
        viewer.display()
        viewer.follow()
    else:
        viewer.read_all()
        viewer.display()
    ctx.result = viewer
    return 0


def _created_id(ctx: NotebookContext, verb_argv: list[str]) -> str:
    """Run ``run -d`` through the shared runner, quietly; the new container's id."""
    out = io.StringIO()
    code = dispatch(verb_argv, NotebookContext(prog=ctx.prog, out=out, err=ctx.err, _engine=ctx._engine,
                                               client=ctx.client), lambda v: engine_runner(ctx, v))  # fmt: skip
    lines = out.getvalue().strip().splitlines()
    if code != 0 or not lines:
        raise _Exit(code or 1)
    return lines[-1].strip()


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _verb_args(ctx: NotebookContext) -> list[str]:
    """The words after the verb (``run``, ``container run``) as typed."""
    argv = list(ctx.argv)
    used = 2 if argv[:1] == ["container"] else 1
    return argv[used:]


#: the terminal size a container started from a notebook gets (no terminal to ask)
CONSOLE_SIZE = (24, 100)


def _run(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    assert shared is not None
    try:
        if ns.detach:
            from dockernb.notebook.widgets.card import ContainerCard

            container = ctx.docker.containers.get(_created_id(ctx, ["run", *_verb_args(ctx)]))
            ContainerCard(container).display()
            ctx.result = container
            return 0
    except _Exit as e:
        return e.code
    if getattr(ctx._engine, "remote", False):
        return shared(ns, ctx)  # the remote backend's run (no attached start over the API yet)
    if ns.detach_keys:
        from dockernb.engine.containers import parse_detach_keys

        parse_detach_keys(ns.detach_keys)  # InvalidArgument before anything is created, as the CLI
    # the shared runner's create: the pull with "Unable to find image", cidfile, warnings, its errors
    from dockernb.present.commands.containers import _create

    made = _create(ctx, ns, _verb(ns), detach=False)
    if isinstance(made, int):
        return made
    cid, req = made
    cfg = req.config
    containers = ctx.engine.containers
    try:
        stream = containers.start(cid, attach=(cfg.attach_stdin, cfg.attach_stdout, cfg.attach_stderr),
                                  console_size=CONSOLE_SIZE if cfg.tty else None)  # fmt: skip
    except DockernbError as err:
        if req.host_config.auto_remove:
            with contextlib.suppress(DockernbError):
                containers.remove(cid, force=True, volumes=True)
        print_error(f"{ctx.prog}: Error response from daemon: {str(err).removesuffix('.')}.")
        return err.exit_code if err.exit_code in (126, 127) else 125
    assert stream is not None
    for warning in containers.last_warnings:
        ctx.eprint(f"WARNING: {warning}")
    if cfg.tty or cfg.attach_stdin:
        code = _terminal(ctx, stream, cid, tty=cfg.tty)
    else:
        code = _foreground(ctx, stream, cid)
    if req.host_config.auto_remove and ctx.result is None:
        containers.finish_auto_remove(cid)
    return code


def _verb(ns: argparse.Namespace) -> str:
    return str(getattr(ns, "_verb", "run"))


def _foreground(ctx: NotebookContext, stream: Any, cid: str) -> int:  # noqa: ANN401 - an AttachStream
    """Foreground ``run``: output streams into the cell; an interrupt stops the container, escalating."""
    try:
        with contextlib.closing(stream):
            while (frame := stream.recv(None)) is not None:
                kind, data = frame
                target = ctx.err if kind == "stderr" else ctx.out
                target.write(data.decode("utf-8", "replace"))
                target.flush()
            code = stream.exit_code
    except KeyboardInterrupt:
        how = stop_escalating(ctx.docker, cid)
        print_error(f"interrupted: the container {cid[:12]} was stopped by {how}")
        return 130
    if code is None:
        code = ctx.engine.containers.wait(cid)
    return int(code)


#: IPython's ScriptMagics escalation, with the waits a container's init needs
ESCALATION = (("SIGINT", 2.0), ("SIGTERM", 3.0), ("SIGKILL", 10.0))


def stop_escalating(client: DockerClient, cid: str, steps: Sequence[tuple[str, float]] = ESCALATION) -> str:
    """SIGINT, then SIGTERM, then SIGKILL until the container stops; the signal that ended it."""
    container = client.containers.get(cid)
    for signame, wait in steps:
        try:
            container.kill(signame)
        except DockernbError:
            if container.status not in ("running", "paused", "restarting"):
                return signame
            raise
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if container.status not in ("running", "paused", "restarting"):
                return signame
            time.sleep(0.05)
    return steps[-1][0]


def _terminal(ctx: NotebookContext, stream: Any, cid: str, *, tty: bool) -> int:  # noqa: ANN401
    """``-it``, ``attach``, ``exec -it``: a terminal widget when the front end delivers widget events,
    else end-of-input, what the container printed and its exit code."""
    from dockernb.notebook.widgets.terminal import Terminal, run_without_terminal

    name = ctx.docker.containers.get(cid).name
    if ctx.interactive:
        term = Terminal(stream, name)
        term.display()
        term.start()
        ctx.result = term
        return 0
    text, code = run_without_terminal(stream, tty=tty)
    ctx.out.write(text)
    ctx.out.flush()
    told = f"exit code {code}" if code is not None else "it is still running"
    print_error(f"(no terminal in this front end: sent end-of-input to {name}'s terminal; {told})")
    return code if code is not None else 0


def _attach(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    if getattr(ctx._engine, "remote", False) and shared is not None:
        return shared(ns, ctx)
    containers = ctx.engine.containers
    found = containers.get(ns.args[0])
    with_stdin = found.record.config.open_stdin and not ns.no_stdin
    stream = containers.attach(found.id, stdin=with_stdin, stdout=True, stderr=True)
    return _terminal(ctx, stream, found.id, tty=found.record.config.tty)


def _exec(ns: argparse.Namespace, ctx: NotebookContext, shared: Runner | None) -> int:
    assert shared is not None
    if not (ns.interactive and ns.tty) or ns.detach or getattr(ctx._engine, "remote", False):
        return shared(ns, ctx)
    from dockernb.client.streams import ExecStream

    ref = ns.args[0]
    try:
        proc = ctx.engine.containers.exec_start(ref, list(ns.args[1:]), env=list(ns.env), workdir=ns.workdir,
                                                user=ns.user, tty=True, stdin=True, privileged=ns.privileged,
                                                console_size=CONSOLE_SIZE)  # fmt: skip
    except NoSuchContainer:
        ctx.eprint(f"Error: No such container: {ref}")
        return 1
    except ContainerStartFailed as err:
        ctx.print(str(err))  # docker prints the runtime's failure on the attached stream
        return 126
    assert proc is not None
    return _terminal(ctx, ExecStream(proc), ctx.engine.containers.resolve(ref), tty=True)


_RENDERERS: dict[str, Any] = {
    "images": _images,
    "pull": _pull,
    "inspect": _inspect,
    "build": _build,
    "ps": _ps,
    "logs": _logs,
    "run": _run,
    "attach": _attach,
    "exec": _exec,
}

_VALUES: dict[str, Any] = {"images": _image_list, "ps": _container_list}

#: management-command spellings of the verbs above
_SPELLINGS = {
    "image ls": "images", "image list": "images", "image pull": "pull", "image inspect": "inspect",
    "image build": "build", "container ls": "ps", "container list": "ps", "container ps": "ps",
    "container logs": "logs", "container run": "run", "container attach": "attach", "container exec": "exec",
    "container inspect": "inspect",
}  # fmt: skip
