"""Container routes: create, start/stop/restart/kill, wait, delete, list, inspect, logs, attach, resize,
rename, prune, pause/unpause, top, changes, export, and ``POST /commit`` (layer L8).

dockerd's status codes: 201 for create, 204 for the verbs, 304 for a start of a running or a stop of
a stopped container, 404 ``No such container``, 409 for state conflicts, 400 for bad parameters.
Attach answers ``101 UPGRADED`` (or the older 200) and carries multiplexed frames, raw bytes with a
TTY; an attach to a container that is not running yet waits for its start (see
:mod:`dockernb.apiserver.sessions`). ``wait`` and ``logs --follow`` run in a thread and the
response checks that the client is still there while they block.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from dockernb.apiserver.createspec import create_spec, summary_json
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import (
    RAW_STREAM,
    Connection,
    Hijack,
    Response,
    StreamResponse,
    json_bytes,
    json_response,
)
from dockernb.apiserver.router import Router
from dockernb.apiserver.sessions import detach_keys, poll_until, pump_attachment
from dockernb.apiserver.streams import Stream, frame
from dockernb.errors import Conflict, ContainerStateConflict, DockernbError, InvalidRequest, NameInUse, NoSuchContainer
from dockernb.spec.logline import timestamp_fixed
from dockernb.spec.status import ContainerState, ContainerStatus

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["background", "register"]

T = TypeVar("T")

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)
#: how often a blocked response checks that its client is still connected
_HEARTBEAT = 1.0


def background(produce: Callable[[], Iterator[T]], *, heartbeat: float = _HEARTBEAT) -> Iterator[T | None]:
    """Run ``produce()`` in a thread; yield its items, and None every ``heartbeat`` seconds while it is idle.

    An exception from the producer is raised here. Closing this generator tells the producer's
    thread to stop at its next item.
    """
    items: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        try:
            for item in produce():
                if stop.is_set():
                    break
                items.put((0, item))
            items.put((1, None))
        except BaseException as err:  # noqa: BLE001 - handed to the response
            items.put((2, err))

    threading.Thread(target=run, name="dockernb-api-bg", daemon=True).start()
    try:
        while True:
            try:
                kind, value = items.get(timeout=heartbeat)
            except queue.Empty:
                yield None
                continue
            if kind == 0:
                yield value
            elif kind == 1:
                return
            else:
                raise value
    finally:
        stop.set()


def _parse_unix(text: str, name: str) -> int:
    """A ``since``/``until`` value: seconds since the epoch, with an optional fraction; nanoseconds."""
    if not text:
        return 0
    secs, _, frac = text.partition(".")
    if not secs.lstrip("-").isdigit() or (frac and not frac.isdigit()):
        raise InvalidRequest(f"invalid value for {name}: {text!r} is not a unix timestamp")
    return max(int(secs), 0) * 1_000_000_000 + (int(frac[:9].ljust(9, "0")) if frac else 0)


def register(router: Router, app: App) -> None:
    engine = app.engine
    svc = engine.containers
    pending = app.attaches

    def wait_for(cid: str, condition: str, first: ContainerState) -> int:
        """docker's wait conditions, by polling the state (a run with ``--rm`` is removed by its
        post-exit handler: the last exit code seen, or the one its attach session saw, is the answer)."""
        generation, code = first.generation, first.exit_code
        auto_remove = svc.store.record(cid).host_config.auto_remove
        started = first.status in _LIVE or condition == "not-running"
        step, since = 0.02, time.monotonic()
        while True:
            try:
                state = svc.current_state(cid)
            except NoSuchContainer:
                if not started:  # it ran and went between two looks: its attach session saw the code
                    poll_until(lambda: pending.exit_code(cid) is not None, 1.0)
                seen = pending.exit_code(cid)
                return seen if seen is not None else code
            if state.status in _LIVE or state.generation != generation:
                started = True
            if state.status not in _LIVE and started and (state.generation != generation or first.status in _LIVE
                                                          or condition == "not-running"):
                code = state.exit_code
                if condition != "removed":
                    return code
                if auto_remove:
                    # remove it now rather than wait for the post-exit handler (it loads the engine's
                    # hooks first); whoever comes second finds it gone, as the engine's own attached run
                    svc.finish_auto_remove(cid)
            time.sleep(step)
            if time.monotonic() - since > 2:
                step = 0.1  # a long wait: poll less often (the post-exit handler keeps the state a while)

    # --- create, start, stop ------------------------------------------------------------------

    def create(req: Request) -> Response:
        name = req.query_str("name")
        config, host = create_spec(req.json(required=True))
        result = svc.create(config, host, name=name)
        return json_response({"Id": result.id, "Warnings": list(result.warnings)}, 201)

    def start(req: Request) -> Response:
        ref = req.params["id"]
        cid = svc.resolve(ref)
        if req.query_str("detachKeys"):
            detach_keys(req.query_str("detachKeys"))
        if svc.current_state(cid).status is ContainerStatus.RUNNING:
            return Response(304)
        waiters = pending.take(cid)
        if not waiters:
            svc.start(ref)
            return Response(204)
        wanted = tuple(any(w.streams[i] for w in waiters) for i in range(3))
        try:
            att = svc.start(ref, attach=(wanted[0], wanted[1], wanted[2]))
        except DockernbError as err:
            for w in waiters:
                w.failed = str(err)
                w.ready.set()
            raise
        waiters[0].attachment = att
        for w in waiters:
            w.ready.set()
        return Response(204)

    def stop(req: Request) -> Response:
        cid = svc.resolve(req.params["id"])
        if svc.current_state(cid).status not in _LIVE:
            return Response(304)
        timeout = req.query_int("t", -999) if req.has("t") else None
        svc.stop(cid, timeout=None if timeout == -999 else timeout)
        return Response(204)

    def restart(req: Request) -> Response:
        timeout = req.query_int("t") if req.has("t") and req.query_str("t") != "" else None
        svc.restart(req.params["id"], timeout=timeout)
        return Response(204)

    def kill(req: Request) -> Response:
        svc.kill(req.params["id"], req.query_str("signal") or "KILL")
        return Response(204)

    def wait(req: Request) -> StreamResponse:
        condition = req.query_str("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidRequest(f"invalid condition: {condition!r}")
        cid = svc.resolve(req.params["id"])
        first = svc.current_state(cid)

        def produce() -> Iterator[dict[str, Any]]:
            yield {"StatusCode": wait_for(cid, condition, first), "Error": None}

        # the status goes out now (the CLI waits for it before it starts the container), the body at the exit
        return StreamResponse(_json_items(background(produce)))

    def delete(req: Request) -> Response:
        svc.remove(req.params["id"], force=req.query_bool("force"), volumes=req.query_bool("v"))
        return Response(204)

    # --- list, inspect, logs --------------------------------------------------------------------

    def list_(req: Request) -> Response:
        limit = req.query_int("limit", -1) if req.query_str("limit") else -1
        items = svc.list(all=req.query_bool("all"), filters=req.filters(), limit=limit if limit > 0 else -1,
                         size=req.query_bool("size"))  # fmt: skip
        return json_response([summary_json(i) for i in items])

    def inspect(req: Request) -> Response:
        data = svc.inspect(req.params["id"])
        if req.query_bool("size"):
            rw, root = svc.sizes(svc.store.record(data["Id"]))
            data["SizeRw"], data["SizeRootFs"] = rw, root
        execs = app.execs.for_container(data["Id"])
        data["ExecIDs"] = execs or None
        return json_response(data)

    def logs(req: Request) -> StreamResponse:
        stdout, stderr = req.query_bool("stdout"), req.query_bool("stderr")
        if not (stdout or stderr):
            raise InvalidRequest("Bad parameters: you must choose at least one stream")
        since = _parse_unix(req.query_str("since"), "since")
        until = _parse_unix(req.query_str("until"), "until")
        tail_text = req.query_str("tail", "all")
        try:
            tail = -1 if tail_text in ("all", "") else int(tail_text)
        except ValueError:
            tail = -1  # docker: anything unparsable is "all"
        follow, stamps = req.query_bool("follow"), req.query_bool("timestamps")
        c = svc.get(req.params["id"])
        tty = c.record.config.tty
        lines = svc.logs(c.id, tail=tail if tail >= 0 else -1, since_ns=since, until_ns=until, follow=follow)

        def encode(line: Any) -> bytes:  # noqa: ANN401 - a LogLine
            if (line.stream == "stderr" and not stderr) or (line.stream != "stderr" and not stdout):
                return b""
            data = line.data
            if stamps:
                data = timestamp_fixed(line.time).encode() + b" " + data
            return data if tty else frame(Stream.STDERR if line.stream == "stderr" else Stream.STDOUT, data)

        def chunks() -> Iterator[bytes | None]:
            source = background(lambda: lines) if follow else lines
            for line in source:
                yield None if line is None else encode(line)

        return StreamResponse(chunks(), content_type=RAW_STREAM)

    # --- attach, resize, rename, prune ------------------------------------------------------------

    def attach(req: Request) -> Hijack:
        ref = req.params["id"]
        c = svc.get(ref)
        streams = (req.query_bool("stdin"), req.query_bool("stdout"), req.query_bool("stderr"))
        keys = detach_keys(req.query_str("detachKeys"))
        want_logs, stream = req.query_bool("logs"), req.query_bool("stream")
        tty = c.record.config.tty
        if not stream and not want_logs:
            raise InvalidRequest("Bad parameters: you must choose at least one stream")
        status = c.state.status
        if status is ContainerStatus.PAUSED:
            raise ContainerStateConflict("You cannot attach to a paused container, unpause it first")
        waiter = pending.add(c.id, streams) if stream and status is not ContainerStatus.RUNNING else None

        def run(conn: Connection) -> None:
            if want_logs:
                # clients that read the 101 through a buffered HTTP parser (docker-py's requests) take the
                # raw socket only after the headers: bytes sent at once would sit unread in that buffer
                time.sleep(0.05)
                for line in svc.logs(c.id):
                    if streams[2] if line.stream == "stderr" else streams[1]:
                        conn.write(line.data if tty else frame(
                            Stream.STDERR if line.stream == "stderr" else Stream.STDOUT, line.data))
            if not stream:
                return  # the logs alone (docker-py's attach(logs=True, stream=False)); still hijacked, as dockerd
            att = None
            if waiter is not None:
                try:
                    while not waiter.ready.wait(0.5):
                        now = svc.current_state(c.id).status
                        if now is ContainerStatus.RUNNING:
                            # our start route hands its connection over just after the state says
                            # running; if none comes, another client started it: connect by ourselves
                            waiter.ready.wait(2.0)
                            break
                    att = waiter.attachment
                    if waiter.failed:
                        return
                finally:
                    waiter.abandoned = True
                    pending.discard(c.id, waiter)
            if att is None:
                try:
                    att = svc.attach(c.id, stdin=streams[0], stdout=streams[1], stderr=streams[2])
                except DockernbError as err:
                    conn.write(str(err).encode() + b"\r\n" if tty else frame(Stream.STDERR, str(err).encode()))
                    return
            code = pump_attachment(conn, att, stdin=streams[0], keys=keys)
            if code is not None:
                pending.record_exit(c.id, code)

        return Hijack(run)

    def resize(req: Request) -> Response:
        rows, cols = req.query_int("h"), req.query_int("w")
        if rows < 0 or cols < 0 or rows > 65535 or cols > 65535:
            raise InvalidRequest("invalid terminal size")
        svc.check_running(req.params["id"], "resize")
        svc.resize(req.params["id"], rows, cols)
        return Response(200)

    def rename(req: Request) -> Response:
        name = req.query_str("name")
        if not name:
            raise InvalidRequest("Neither old nor new names may be empty")
        try:
            svc.rename(req.params["id"], name.lstrip("/"))
        except NameInUse as err:
            raise Conflict(f"Error when allocating new name: {err}") from None
        return Response(204)

    def prune(req: Request) -> Response:
        report = svc.prune(filters=req.filters())
        return json_response({"ContainersDeleted": list(report.deleted), "SpaceReclaimed": report.space_reclaimed})

    def commit(req: Request) -> Response:
        container = req.query_str("container")
        if not container:
            raise InvalidRequest("a container is required")
        repo, tag = req.query_str("repo"), req.query_str("tag")
        repository = f"{repo}:{tag}" if repo and tag else repo
        image_id = svc.commit(container, repository, message=req.query_str("comment"),
                              author=req.query_str("author"), changes=list(req.query.get("changes", [])),
                              pause=req.query_bool("pause", True))  # fmt: skip
        return json_response({"Id": image_id}, 201)

    def pause(req: Request) -> Response:
        svc.pause(req.params["id"])
        return Response(204)

    def unpause(req: Request) -> Response:
        svc.unpause(req.params["id"])
        return Response(204)

    def top(req: Request) -> Response:
        result = svc.top(req.params["id"], req.query_str("ps_args"))
        return json_response({"Titles": list(result.titles), "Processes": [list(p) for p in result.processes]})

    def changes(req: Request) -> Response:
        kinds = {"C": 0, "A": 1, "D": 2}  # docker's archive.ChangeType
        found = [{"Path": c.path, "Kind": kinds.get(c.kind, 0)} for c in svc.diff(req.params["id"])]
        return json_response(found or None)  # dockerd: null when nothing changed

    def export(req: Request) -> StreamResponse:
        return StreamResponse(svc.export(req.params["id"]), content_type="application/x-tar")

    router.add("POST", "/containers/{id}/pause", pause, name="ContainerPause")
    router.add("POST", "/containers/{id}/unpause", unpause, name="ContainerUnpause")
    router.add("GET", "/containers/{id}/top", top, name="ContainerTop")
    router.add("GET", "/containers/{id}/changes", changes, name="ContainerChanges")
    router.add("GET", "/containers/{id}/export", export, name="ContainerExport")
    router.add("POST", "/commit", commit, name="ImageCommit")
    router.add("POST", "/containers/create", create, name="ContainerCreate")
    router.add("GET", "/containers/json", list_, name="ContainerList")
    router.add("POST", "/containers/prune", prune, name="ContainerPrune")
    router.add("GET", "/containers/{id}/json", inspect, name="ContainerInspect")
    router.add("GET", "/containers/{id}/logs", logs, name="ContainerLogs")
    router.add("POST", "/containers/{id}/start", start, name="ContainerStart")
    router.add("POST", "/containers/{id}/stop", stop, name="ContainerStop")
    router.add("POST", "/containers/{id}/restart", restart, name="ContainerRestart")
    router.add("POST", "/containers/{id}/kill", kill, name="ContainerKill")
    router.add("POST", "/containers/{id}/wait", wait, name="ContainerWait")
    router.add("POST", "/containers/{id}/attach", attach, name="ContainerAttach")
    router.add("POST", "/containers/{id}/resize", resize, name="ContainerResize")
    router.add("POST", "/containers/{id}/rename", rename, name="ContainerRename")
    router.add("DELETE", "/containers/{id}", delete, name="ContainerDelete")


def _json_items(items: Iterator[Any | None]) -> Iterator[bytes | None]:
    for item in items:
        yield None if item is None else json_bytes(item)
