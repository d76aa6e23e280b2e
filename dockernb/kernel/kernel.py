"""DockerKernel: an ipykernel whose cells are run by a persistent bash (top layer).

It keeps IPythonKernel's machinery (comms, so the notebook's widgets work; display; the
interrupt handling) and replaces only what a cell means. Each cell is written to a file and
``source``d by one bash started under a pseudo-terminal with pexpect, followed by a marker that
carries ``$?``; the kernel streams what bash prints into the cell and serves the ``docker``
requests that arrive meanwhile on its own thread, in order, between two reads. An interrupt
sends SIGINT to bash's foreground job (and to a foreground ``docker run``'s container, with
the notebook's escalation); a cell that makes bash exit gets a fresh bash.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import select
import sys
import threading
from typing import Any

import pexpect
from ipykernel.ipkernel import IPythonKernel

from dockernb._version import __version__
from dockernb.client import DockerClient
from dockernb.kernel.bridge import Bridge, Request
from dockernb.kernel.envflags import with_caller_env
from dockernb.notebook.session import run_docker

__all__ = ["DockerKernel"]

#: verbs whose arguments or flags name files relative to the caller's directory
_PATH_VERBS = {
    "build", "image build", "import", "image import", "run", "container run", "create", "container create", "cp",
    "container cp", "commit",
}  # fmt: skip
_FILE_FLAGS = {"-o", "--output", "-i", "--input", "--env-file", "--cidfile", "--iidfile", "-f", "--file"}

_MARK = re.compile(rb"\x1e(-?\d+)\x1f")
_SETUP = (
    "PS1=''; PS2=''; PROMPT_COMMAND=''; unset HISTFILE; bind 'set enable-bracketed-paste off' 2>/dev/null; "
    'docker() { "$DOCKERNB_KERNEL_CLIENT" "$@"; }; dockernb() { "$DOCKERNB_KERNEL_CLIENT" "$@"; }; '
    "printf '\\036%d\\037' 0\n"
)


class DockerKernel(IPythonKernel):
    implementation = "dockernb"
    implementation_version = __version__
    language_info = {"name": "bash", "codemirror_mode": "shell", "mimetype": "text/x-sh", "file_extension": ".sh",
                     "pygments_lexer": "bash"}  # fmt: skip
    banner = "Docker (dockernb): cells are bash; `docker` runs in this kernel's engine"

    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.bridge = Bridge(sys.executable, background=self._serve)
        self.docker_client: DockerClient | None = None
        self.bash: pexpect.spawn | None = None
        self._allow_stdin = False
        self._cwd_lock = threading.RLock()

    # --- bash -------------------------------------------------------------------------------

    def _start_bash(self) -> pexpect.spawn:
        env = dict(os.environ)
        env.update(DOCKERNB_KERNEL_SOCKET=self.bridge.socket_path, DOCKERNB_KERNEL_CLIENT=self.bridge.client,
                   PATH=f"{self.bridge.bin_dir}:{env.get('PATH', '/usr/bin:/bin')}", TERM="dumb",
                   PAGER="cat", GIT_PAGER="cat")  # fmt: skip
        child = pexpect.spawn("/bin/bash", ["--norc", "--noprofile", "-i"], env=env, echo=False,
                              cwd=os.getcwd(), dimensions=(50, 200))  # fmt: skip
        child.send(_SETUP)
        child.expect(_MARK, timeout=30)
        return child

    def _bash(self) -> pexpect.spawn:
        if self.bash is None or not self.bash.isalive():
            self.bash = self._start_bash()
        return self.bash

    # --- a cell -----------------------------------------------------------------------------

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        shell = self.shell
        assert shell is not None
        count = shell.execution_count
        if store_history:
            shell.execution_count += 1
        self._allow_stdin = allow_stdin
        reply: dict[str, Any] = {"status": "ok", "execution_count": count, "payload": [], "user_expressions": {}}
        if not code.strip():
            return reply
        rc = self._run_cell(code, silent)
        if rc != 0:
            reply.update(status="error", ename="ExitCode", evalue=str(rc), traceback=[])
            if not silent:
                sys.stdout.flush()
                sys.stderr.flush()
                content = {"ename": "ExitCode", "evalue": str(rc), "traceback": [f"exit code {rc}"]}
                self.send_response(self.iopub_socket, "error", content)  # type: ignore[no-untyped-call]
        return reply

    def _run_cell(self, code: str, silent: bool) -> int:
        child = self._bash()
        script = self.bridge.dir / "cell.sh"
        script.write_text(code if code.endswith("\n") else code + "\n")
        child.send(f"source {script}; printf '\\036%d\\037' $?\n")
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        fd = child.child_fd
        buf = b""
        interrupted = False

        def emit(data: bytes) -> None:
            text = decoder.decode(data).replace("\r\n", "\n").replace("\r", "")
            if text and not silent:
                sys.stdout.write(text)
                sys.stdout.flush()

        while True:
            try:
                ready, _, _ = select.select([fd, self.bridge.wakeup], [], [], 0.5)
            except KeyboardInterrupt:
                child.sendintr()
                interrupted = True
                continue
            if fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    emit(buf)
                    self.bash = None
                    sys.stderr.write("[bash exited; the next cell starts a new one]\n")
                    return 1
                buf += data
                m = _MARK.search(buf)
                if m:
                    emit(buf[: m.start()])
                    return 130 if interrupted and m.group(1) == b"0" else int(m.group(1))
                cut = buf.rfind(b"\x1e")
                keep = len(buf) - cut if cut >= 0 and len(buf) - cut < 16 else 0
                emit(buf[: len(buf) - keep])
                buf = buf[len(buf) - keep :]
            if self.bridge.wakeup in ready:
                for request in self.bridge.pending():
                    if self._serve(request):
                        child.sendintr()
                        interrupted = True

    # --- docker requests --------------------------------------------------------------------

    def _serve(self, request: Request) -> bool:
        """Run one docker line for bash; True when it was interrupted."""
        if self.docker_client is None:
            self.docker_client = DockerClient.from_docker_host()
        code, interrupted = 1, False
        files: list[Any] = []
        words = request.argv[:2] if request.argv[:1] in (["image"], ["container"]) else request.argv[:1]
        # the process has one working directory: verbs that read or write paths take it in turn
        files_named = any(a in _FILE_FLAGS or a.split("=", 1)[0] in _FILE_FLAGS for a in request.argv)
        lock = self._cwd_lock if " ".join(words) in _PATH_VERBS or files_named else None
        if lock is not None:
            lock.acquire()
        here = os.getcwd()
        try:
            if lock is not None:
                os.chdir(request.cwd)
        except OSError:
            pass
        argv = with_caller_env(request.argv, request.env)
        try:
            if request.tty:
                # the cell shows the output; stdin is the caller's when redirected (docker load < x.tar)
                stdin_tty = os.isatty(request.fds[0])
                stdin: Any = io.BytesIO(b"") if stdin_tty else os.fdopen(os.dup(request.fds[0]), "rb")
                files = [] if stdin_tty else [stdin]
                ctx = run_docker(argv, self.docker_client, widgets=True, interactive=self._allow_stdin,
                                 stdin=stdin)  # fmt: skip
            else:
                stdin = os.fdopen(os.dup(request.fds[0]), "rb")
                out = os.fdopen(os.dup(request.fds[1]), "w", encoding="utf-8", errors="replace")
                err = os.fdopen(os.dup(request.fds[2]), "w", encoding="utf-8", errors="replace")
                files = [stdin, out, err]
                ctx = run_docker(argv, self.docker_client, widgets=False, out=out, err=err, stdin=stdin)
            code = int(getattr(ctx, "exit_code", 1))
        except KeyboardInterrupt:
            code, interrupted = 130, True
        finally:
            for f in files:
                try:
                    f.close()
                except OSError:
                    pass
            if lock is not None:
                os.chdir(here)
                lock.release()
            sys.stdout.flush()
            sys.stderr.flush()
            request.reply(code)
        return interrupted or code == 130

    def do_shutdown(self, restart: bool) -> dict[str, Any]:  # type: ignore[override]
        if self.bash is not None:
            self.bash.close(force=True)
        self.bridge.close()
        if self.docker_client is not None:
            self.docker_client.close()
        result: dict[str, Any] = super().do_shutdown(restart)  # type: ignore[no-untyped-call]
        return result
