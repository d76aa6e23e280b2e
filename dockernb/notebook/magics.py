"""``%docker``, ``%%docker`` and ``%%dockerfile`` (layer L8).

``%docker VERB ARGS...`` takes every verb and flag the ``dockernb`` CLI takes (one grammar,
``dockernb.present.args``), after ``$name``/``${name}`` expansion from the user's namespace
(:mod:`.expand`; the magics are ``no_var_expand`` so docker's ``{{...}}`` templates survive).
It returns the command's Python value (image models, a container handle...) or None, and stores
docker's exit code in the user namespace as ``_exit_code``. A line docker refuses raises
IPython's ``UsageError`` (one line, no traceback); an engine error prints the CLI's words on
stderr (one red line) and returns None.

``%%docker`` runs each non-empty line of the cell (``#`` comments skipped; a trailing ``\\``
continues a line), stopping at the first failure. ``%%dockerfile [-t TAG] [--build-arg K=V]
[CONTEXT]`` builds the cell as a Dockerfile with the context directory (default: the
notebook's directory), with ``build``'s flags.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class, no_var_expand

from dockernb.client import DockerClient
from dockernb.client.commands import context_for
from dockernb.errors import DockernbError
from dockernb.notebook.display import print_error
from dockernb.notebook.expand import expand
from dockernb.notebook.session import NotebookContext, ShownList, build_with_widget, run_docker
from dockernb.present.args import HelpRequested, parse, resolve_verb
from dockernb.present.args import UsageError as DockerUsageError

__all__ = ["DockerMagics"]


def _interactive_frontend(shell: Any) -> bool:  # noqa: ANN401
    """A live Jupyter front end, which can deliver widget events (nbclient asks for no stdin)."""
    forced = os.environ.get("DOCKERNB_NOTEBOOK_TERMINAL", "")
    if forced:
        return forced == "widget"
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return False
    try:
        parent = kernel.get_parent("shell")
    except TypeError:
        parent = kernel.get_parent()
    return bool((parent or {}).get("content", {}).get("allow_stdin", False))


@magics_class
class DockerMagics(Magics):
    """Registered by ``%load_ext dockernb``; one client (one engine) per IPython shell."""

    def __init__(self, shell: Any, client: DockerClient | None = None) -> None:  # noqa: ANN401
        super().__init__(shell)
        self._client = client
        #: ``%dockernb disconnect`` was run: the in-process engine even with DOCKER_HOST set
        self._disconnected = False

    @property
    def ip(self) -> Any:  # noqa: ANN401 - the InteractiveShell
        assert self.shell is not None
        return self.shell

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            self._client = DockerClient.from_env() if self._disconnected else DockerClient.from_docker_host()
        return self._client

    @no_var_expand
    @line_magic
    def dockernb(self, line: str) -> Any:  # noqa: ANN401
        """``%dockernb connect unix:///path.sock | tcp://host:port | ssh://user@host``: the magics, widgets and
        models drive that Engine API endpoint; ``%dockernb disconnect``: back to the in-process engine."""
        words = self._words(line)
        if words[:1] == ["connect"] and len(words) == 2:
            try:
                client = DockerClient.for_host(words[1])
                version = client.version()
            except DockernbError as err:
                print_error(str(err))
                self.ip.user_ns["_exit_code"] = 1
                return None
            if self._client is not None:
                self._client.close()
            self._client, self._disconnected = client, False
            self.ip.user_ns["_exit_code"] = 0
            print(f"connected to {words[1]} (Engine {version['Version']}, API {version['ApiVersion']})")
            return None
        if words == ["disconnect"]:
            if self._client is not None:
                self._client.close()
            self._client, self._disconnected = None, True  # made on the next command
            self.ip.user_ns["_exit_code"] = 0
            print("using the in-process engine")
            return None
        raise UsageError('usage: %dockernb connect unix:///PATH | tcp://HOST:PORT | ssh://[USER@]HOST; '
                         "%dockernb disconnect")

    # --- the magics -----------------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def docker(self, line: str, cell: str | None = None) -> Any:  # noqa: ANN401
        """Run docker command lines: ``%docker ps -a``; ``%%docker`` for several lines."""
        if cell is None:
            return self.run_line(line)
        result = None
        for command in _cell_lines(line, cell):
            result = self.run_line(command)
            if self.ip.user_ns.get("_exit_code", 0) != 0:
                break
        return result

    @no_var_expand
    @cell_magic
    def dockerfile(self, line: str, cell: str) -> Any:  # noqa: ANN401
        """Build the cell as a Dockerfile: ``%%dockerfile -t web [--build-arg K=V] [CONTEXT]``."""
        words = self._words(line)
        try:
            ns = self._parse("build", words)
        except UsageError:
            # build's grammar wants the context; here it defaults to the notebook's directory
            ns = self._parse("build", [*words, os.getcwd()])
        if ns.file:
            raise UsageError("%%dockerfile: the cell is the Dockerfile; -f/--file cannot be used")
        base = context_for(self.client.engine)
        ctx = NotebookContext(prog=base.prog, out=sys.stdout, err=sys.stderr, _engine=base._engine,
                              client=self.client, argv=("build", *words))  # fmt: skip
        try:
            code = build_with_widget(ns, ctx, dockerfile_text=cell)
        except DockernbError as err:
            print_error(f"Error response from daemon: {err}")
            code = err.exit_code
        return self._finish(ctx, code)

    # --- the work -------------------------------------------------------------------------

    def _words(self, line: str) -> list[str]:
        text = strip_comment(expand(line, self.ip.user_ns))
        try:
            return shlex.split(text)
        except ValueError as err:
            raise UsageError(f"docker: {err}") from None

    def _parse(self, verb: str, argv: list[str]) -> Any:  # noqa: ANN401
        try:
            return parse(verb, argv)
        except DockerUsageError as u:
            raise UsageError(u.message) from None
        except HelpRequested as h:
            raise UsageError(h.text) from None

    def run_line(self, line: str) -> Any:  # noqa: ANN401
        argv = self._words(line)
        found = resolve_verb(argv)
        if found is not None:
            verb, used = found
            try:
                parse(verb, argv[used:])
            except DockerUsageError as u:
                self.ip.user_ns["_exit_code"] = u.exit_code
                raise UsageError(u.message) from None
            except HelpRequested:
                pass  # dispatch prints the help
        ctx = run_docker(argv, self.client, interactive=_interactive_frontend(self.shell))
        return self._finish(ctx, ctx.exit_code)  # type: ignore[attr-defined]

    def _finish(self, ctx: NotebookContext, code: int) -> Any:  # noqa: ANN401
        self.ip.user_ns["_exit_code"] = code
        if code != 0:
            return None
        result = ctx.result
        if isinstance(result, ShownList):
            result.shown_in = self.ip.execution_count
        return result


def strip_comment(text: str) -> str:
    """Cut a shell comment off a docker line as bash would: a ``#`` that starts a word, outside quotes
    (``echo a#b``, ``'#'`` and ``--format '{{.ID}} #'`` keep theirs)."""
    quote = ""
    escaped = False
    word_start = True
    for i, ch in enumerate(text):
        if escaped:
            escaped, word_start = False, False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote, word_start = ch, False
        elif ch == "#" and word_start:
            return text[:i]
        else:
            word_start = ch.isspace()
    return text


def _cell_lines(line: str, cell: str) -> list[str]:
    """``%%docker``'s commands: the magic's own line (if any) then each line of the cell."""
    commands: list[str] = [line] if line.strip() else []
    pending = ""
    for raw in cell.splitlines():
        text = raw.rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = pending + text
        pending = ""
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(("docker ", "dockernb ")):
            stripped = stripped.split(" ", 1)[1]
        commands.append(stripped)
    if pending.strip():
        commands.append(pending.strip())
    return commands
