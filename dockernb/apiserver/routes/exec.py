"""Exec routes: ``POST /containers/{id}/exec``, ``POST /exec/{id}/start`` (attached over a hijacked
connection, or detached), ``POST /exec/{id}/resize``, ``GET /exec/{id}/json`` (layer L8).

Exec instances live in the server (:class:`~dockernb.apiserver.sessions.ExecRegistry`), as in
dockerd. A start that fails in the runtime (``OCI runtime exec failed: ...``) is an error body
when detached; attached, the 101 is already sent, so the message goes down the stream and the
exit code (126/127) is what ``GET /exec/{id}/json`` reports, which is what the docker CLI prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockernb.apiserver.createspec import go_bool, go_str
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Connection, Hijack, Response, json_response
from dockernb.apiserver.router import Router
from dockernb.apiserver.sessions import ExecInstance, detach_keys, pump_exec
from dockernb.apiserver.streams import Stream, frame
from dockernb.errors import Conflict, DockernbError, InvalidRequest

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["register"]


def _strs(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"json: cannot unmarshal {key}: want a list of strings")
    return tuple(value)


def _exit_code(err: DockernbError) -> int:
    """dockerd 20.10 records 126 for any exec the runtime could not start (not found included)."""
    return 126


def register(router: Router, app: App) -> None:
    svc = app.engine.containers
    execs = app.execs

    def create(req: Request) -> Response:
        body = req.json(required=True)
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        cmd = _strs(body, "Cmd")
        if not cmd:
            raise InvalidRequest("No exec command specified")
        keys = go_str(body, "DetachKeys")
        if keys:
            detach_keys(keys)
        ref = req.params["id"]
        cid = svc.check_running(ref, "exec")
        inst = execs.add({
            "container_id": cid, "cmd": cmd, "tty": go_bool(body, "Tty"), "attach_stdin": go_bool(body, "AttachStdin"),
            "attach_stdout": go_bool(body, "AttachStdout"), "attach_stderr": go_bool(body, "AttachStderr"),
            "env": _strs(body, "Env"), "user": go_str(body, "User"), "workdir": go_str(body, "WorkingDir"),
            "privileged": go_bool(body, "Privileged"), "detach_keys": keys,
        })  # fmt: skip
        return json_response({"Id": inst.id}, 201)

    def _launch(inst: ExecInstance, *, detach: bool) -> None:
        if inst.started:
            raise Conflict(f"Error: Exec command {inst.id} has already run" if not inst.running
                           else f"Error: Exec command {inst.id} is already running")
        inst.started = True
        inst.running = True
        try:
            proc = svc.exec_start(inst.container_id, inst.cmd, env=inst.env, workdir=inst.workdir or None,
                                  user=inst.user or None, tty=inst.tty, stdin=inst.attach_stdin,
                                  privileged=inst.privileged, console_size=inst.size, detach=detach)
        except DockernbError as err:
            inst.running = False
            inst.exit_code = _exit_code(err)
            raise
        if proc is None:  # detached: nobody reaps it here, its code is not known
            inst.running = False
            return
        inst.process = proc
        inst.pid = proc.pid
        if inst.size is not None:
            inst.resize(*inst.size)

    def start(req: Request) -> Response | Hijack:
        inst = execs.get(req.params["id"])
        body = req.json() or {}
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        if go_bool(body, "Detach"):
            _launch(inst, detach=True)
            return Response(200)
        if inst.started:
            raise Conflict(f"Error: Exec command {inst.id} has already run" if not inst.running
                           else f"Error: Exec command {inst.id} is already running")
        svc.check_running(inst.container_id, "exec")

        def run(conn: Connection) -> None:
            try:
                _launch(inst, detach=False)
            except DockernbError as err:
                message = str(err).encode() + b"\r\n"
                conn.write(message if inst.tty else frame(Stream.STDOUT, message))
                return
            assert inst.process is not None
            proc = inst.process
            try:
                pump_exec(conn, inst, proc)
            except BaseException:
                if inst.running:  # the client left: reap it when it ends
                    import threading

                    from dockernb.apiserver.sessions import finish

                    threading.Thread(target=finish, args=(inst, proc), daemon=True).start()
                raise

        return Hijack(run)

    def resize(req: Request) -> Response:
        inst = execs.get(req.params["id"])
        rows, cols = req.query_int("h"), req.query_int("w")
        if rows < 0 or cols < 0 or rows > 65535 or cols > 65535:
            raise InvalidRequest("invalid terminal size")
        inst.resize(rows, cols)
        return Response(200)

    def inspect(req: Request) -> Response:
        return json_response(execs.get(req.params["id"]).inspect())

    router.add("POST", "/containers/{id}/exec", create, name="ContainerExec")
    router.add("POST", "/exec/{id}/start", start, name="ExecStart")
    router.add("POST", "/exec/{id}/resize", resize, name="ExecResize")
    router.add("GET", "/exec/{id}/json", inspect, name="ExecInspect")
