"""The sidebar's API, through a real jupyter_server with the extension enabled as an install enables it.

One server runs the real engine (version, info, images, containers, builds, the event feed);
another runs the container/image stand-ins of ``jupyter_fake`` so
routing, errors, streams and live events are exercised end to end.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from dockernb._version import __version__
from tests.browser.launcher import Jupyter, jupyter

API = "/dockernb/api/v1"


@pytest.fixture(scope="module")
def real() -> Iterator[Jupyter]:
    with jupyter("jupyter-server-real") as server:
        yield server


@pytest.fixture(scope="module")
def fake() -> Iterator[Jupyter]:
    args = ["--DockernbJupyter.engine_factory=tests.integration.jupyter_fake:make_engine",
            "--DockernbJupyter.heartbeat=0.5",
            "--ServerApp.authorizer_class=tests.integration.jupyter_fake.ReadOnlyOnRequest"]
    with jupyter("jupyter-server-fake", args=args) as server:
        yield server


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- the real engine ------------------------------------------------------------------------


def test_extension_is_enabled_and_loaded(real: Jupyter) -> None:
    log = real.log.read_text()
    assert "dockernb.jupyter | extension was successfully loaded." in log


def test_version_and_info_come_from_the_engine(real: Jupyter) -> None:
    status, version = real.api(f"{API}/version")
    assert status == 200
    assert version["version"] == __version__ and version["api_version"] == "1.41"
    status, info = real.api(f"{API}/info")
    assert status == 200
    assert info["root"] == str(real.engine_root)  # the server's engine reads DOCKERNB_ROOT like the CLI
    assert info["storage_driver"] and isinstance(info["features"], list)
    assert {"name", "available", "detail", "check"} <= set(info["features"][0])


def test_client_names_a_cli_that_runs(real: Jupyter) -> None:
    import shlex
    import subprocess

    status, client = real.api(f"{API}/client")
    assert status == 200 and client["proxy"] in (True, False)
    out = subprocess.run([*shlex.split(client["command"]), "version", "--format", "{{.Server.Version}}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == __version__


def test_every_route_needs_a_login(real: Jupyter) -> None:
    for path in ("version", "info", "client", "events", "containers", "images"):
        assert real.api(f"{API}/{path}", token=False)[0] == 403, path
    for path in ("images/pull", "build", "prune", "containers/web/stop"):
        assert real.api(f"{API}/{path}", method="POST", body={}, token=False)[0] == 403, path


def test_posts_with_a_login_cookie_need_the_xsrf_token(real: Jupyter) -> None:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{real.url}/login?token={real.token}", timeout=30):
        pass  # a token in a page's URL logs the browser in: a login cookie, and the page's _xsrf cookie
    xsrf = next((c.value for c in jar if c.name == "_xsrf"), None)
    assert xsrf, [c.name for c in jar]

    def post(headers: dict[str, str]) -> int:
        req = urllib.request.Request(f"{real.url}{API}/prune", data=b"{}", method="POST", headers=headers)
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    assert post({}) == 403  # the cookie alone: refused (a cross-site form could send it)
    assert post({"X-XSRFToken": xsrf}) == 200  # reached the engine, which pruned its (no) dangling images


def test_the_container_service_answers(real: Jupyter) -> None:
    # the container service has landed (issue 5): an empty list, and docker's words for a missing container
    assert real.api(f"{API}/containers") == (200, {"containers": []})
    status, body = real.api(f"{API}/containers/web/start", method="POST", body={})
    assert (status, body) == (404, {"message": "No such container: web"})


def test_images_come_from_the_image_service(real: Jupyter) -> None:
    # the kit's loopback registry needs no mirror configuration in the server's environment
    status, body = real.api(f"{API}/images/pull", method="POST", body={"ref": "127.0.0.1:5000/busybox"})
    assert status == 200, body
    records = lines(body)
    assert {r["kind"] for r in records} == {"ProgressMessage"}
    assert records[-1]["status"] == "Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest"
    status, listed = real.api(f"{API}/images")
    assert status == 200 and [i["tags"] for i in listed["images"]] == [["127.0.0.1:5000/busybox:latest"]]
    status, removed = real.api(f"{API}/images/remove", method="POST", body={"ref": "127.0.0.1:5000/busybox"})
    assert status == 200, removed
    assert real.api(f"{API}/images") == (200, {"images": []})


def test_events_come_from_the_engine(real: Jupyter) -> None:
    from dockernb.engine import Engine

    with sse(real) as stream:
        event, data, _ = stream.next_event()
        assert (event, data) == ("status", {"live": True, "message": ""})
        time.sleep(0.5)  # the feed's reader thread starts with the first subscriber
        # another process of the same root (a CLI, a kernel) changes something: the sidebar hears of it
        with Engine.from_env({"DOCKERNB_ROOT": str(real.engine_root)}) as engine:
            engine.volumes.create("sidebar-sees-this")
            engine.volumes.remove("sidebar-sees-this")
        seen = [stream.next_event() for _ in range(2)]
    assert [(e, d["type"], d["action"], d["actor_id"]) for e, d, _ in seen] == [
        ("docker", "volume", "create", "sidebar-sees-this"), ("docker", "volume", "destroy", "sidebar-sees-this")]
    assert seen[0][2] == str(seen[0][1]["time_nano"])  # the id a reconnecting browser sends back


def test_build_streams_the_engine_records(real: Jupyter) -> None:
    (real.root / "app").mkdir()
    (real.root / "app" / "Dockerfile").write_text("FROM busybox:latest\nRUN echo hi\n")
    status, body = real.api(f"{API}/build", method="POST", body={"path": "app/Dockerfile", "tags": ["app:test"]})
    assert status == 200, body
    records = lines(body)
    kinds = [r["kind"] for r in records]
    assert kinds[:2] == ["BuildContextSent", "BuildStep"]
    assert records[1]["text"] == "FROM busybox:latest" and records[1]["total"] == 2
    # it either built (once the engine runs steps) or says why it stopped, in the engine's words
    assert kinds[-1] in ("BuildTagged", "error")
    if kinds[-1] == "error":
        assert records[-1]["message"] and not str(records[-1]["message"]).startswith("internal error")


def test_build_errors(real: Jupyter) -> None:
    # as with docker, the daemon's parse error comes after the context was sent: in the stream
    (real.root / "bad").mkdir()
    (real.root / "bad" / "Dockerfile").write_text("FROM busybox\nFROBNICATE now\n")
    status, body = real.api(f"{API}/build", method="POST", body={"path": "bad/Dockerfile"})
    assert status == 200
    assert lines(body)[-1] == {"kind": "error", "status": 400,
                               "message": "dockerfile parse error line 2: unknown instruction: FROBNICATE"}
    # errors before any record (the client side of docker build) are HTTP errors
    status, body = real.api(f"{API}/build", method="POST", body={"path": "nowhere/Dockerfile"})
    assert status == 400 and body["message"] == f'unable to prepare context: path "{real.root}/nowhere" not found'
    status, body = real.api(f"{API}/build", method="POST", body={"path": "bad/web.Dockerfile"})
    assert status == 400 and body["message"].startswith("unable to prepare context: unable to evaluate symlinks"), body
    status, body = real.api(f"{API}/build", method="POST", body={"path": "app/Dockerfile", "tags": "x"})
    assert (status, body) == (400, {"message": "tags must be a list of strings"})
    status, body = real.api(f"{API}/build", method="POST", body={})
    assert status == 400 and body["message"].startswith("invalid path")
    req = urllib.request.Request(f"{real.url}{API}/build", data=b"{nope", method="POST",
                                 headers={"Authorization": f"token {real.token}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 400 and json.loads(err.value.read())["message"].startswith("the request body is not JSON")


def test_build_stays_inside_the_server_root(real: Jupyter, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM busybox\n")
    (real.root / "escape").symlink_to(outside)
    for path in ("../secret/Dockerfile", "escape/Dockerfile", "app/../../x/Dockerfile"):
        status, body = real.api(f"{API}/build", method="POST", body={"path": path})
        assert status == 403 and body["message"] == f"{path}: outside the server's root directory", (path, body)


# --- the stand-in services -------------------------------------------------------------------


def test_lists_are_the_engine_records(fake: Jupyter) -> None:
    status, body = fake.api(f"{API}/containers")
    assert status == 200
    web = next(c for c in body["containers"] if c["name"] == "web")
    assert web == {"id": "a" * 64, "name": "web", "image": "nginx:latest", "state": "running",
                   "ports": [{"container_port": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host_port": 8080}]}
    status, body = fake.api(f"{API}/images")
    assert status == 200 and body["images"][0]["tags"] == ["busybox:latest"]


def test_actions_errors_and_events(fake: Jupyter) -> None:
    with sse(fake) as stream:
        assert stream.next_event()[:2] == ("status", {"live": True, "message": ""})
        assert fake.api(f"{API}/containers/db/start", method="POST", body={}) == (204, None)
        event, data, first_id = stream.next_event()
        assert event == "docker" and first_id == str(data["time_nano"])
        assert (data["type"], data["action"], data["attributes"]["name"]) == ("container", "start", "db")
        status, body = fake.api(f"{API}/containers/db/remove", method="POST", body={})
        assert status == 409 and body["message"].startswith("You cannot remove a running container")
        assert fake.api(f"{API}/containers/nosuch/stop", method="POST", body={}) == (
            404, {"message": "No such container: nosuch"})
        assert fake.api(f"{API}/containers/db/stop", method="POST", body={}) == (204, None)
        assert stream.next_event()[1]["action"] == "die"
    states = {c["name"]: c["state"] for c in fake.api(f"{API}/containers")[1]["containers"]}
    assert states["db"] == "exited"
    # a browser that reconnects with Last-Event-ID gets what it missed, then live events again
    with sse(fake, last_event_id=first_id) as stream:
        assert stream.next_event()[0] == "status"
        assert stream.next_event()[1]["action"] == "die"


def test_events_stream_keeps_itself_alive(fake: Jupyter) -> None:
    with sse(fake) as stream:
        stream.next_event()
        assert stream.readline(timeout=5) == ": keep-alive"


def test_pull_streams_progress_and_failures(fake: Jupyter) -> None:
    status, body = fake.api(f"{API}/images/pull", method="POST", body={"ref": "alpine:3"})
    assert status == 200
    assert [(r["kind"], r["status"]) for r in lines(body)] == [
        ("FakePullProgress", "Pulling fs layer"), ("FakePullProgress", "Pull complete")]
    assert any(i["tags"] == ["alpine:3"] for i in fake.api(f"{API}/images")[1]["images"])
    status, body = fake.api(f"{API}/images/pull", method="POST", body={"ref": "broken:1"})
    assert status == 200  # the stream had started: the failure is its last line
    assert lines(body)[-1] == {"kind": "error", "message": "manifest for broken:1 is corrupt", "status": 502}
    assert fake.api(f"{API}/images/pull", method="POST", body={"ref": " "}) == (
        400, {"message": "an image reference is required (for example busybox:latest)"})


def test_the_servers_authorizer_decides(fake: Jupyter) -> None:
    read_only = {"X-Test-Read-Only": "1"}
    assert fake.api(f"{API}/containers", headers=read_only)[0] == 200
    for path in ("containers/web/stop", "images/pull", "build", "prune"):
        status, body = fake.api(f"{API}/{path}", method="POST", body={"ref": "x"}, headers=read_only)
        assert (status, body["message"]) == (403, "User is not authorized to write on resource: dockernb."), path
    assert fake.api(f"{API}/containers", headers=read_only)[1]["containers"][0]["state"] == "running"


def test_image_remove_and_prune(fake: Jupyter) -> None:
    assert fake.api(f"{API}/images/remove", method="POST", body={"ref": "nope:1"}) == (
        404, {"message": "No such image: nope:1"})
    status, body = fake.api(f"{API}/prune", method="POST", body={})
    assert status == 200 and set(body) == {"containers", "images"}


# --- a small SSE reader ----------------------------------------------------------------------


class _Stream:
    def __init__(self, server: Jupyter, last_event_id: str | None) -> None:
        url = urllib.parse.urlsplit(server.url)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Authorization": f"token {server.token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", f"{API}/events", headers=headers)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200 and self.resp.headers["Content-Type"] == "text/event-stream"

    def readline(self, timeout: float = 10) -> str:
        sock = self.conn.sock
        assert sock is not None
        sock.settimeout(timeout)
        return self.resp.readline().decode().rstrip("\n")

    def next_event(self) -> tuple[str, dict[str, object], str | None]:
        event, data, ident = "message", "", None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.readline()
            if not line:
                if data:
                    return event, json.loads(data), ident
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data = value
            elif field == "id":
                ident = value
        raise AssertionError("no event within 10 s")

    def close(self) -> None:
        self.conn.close()


class sse:  # noqa: N801 (used like a function)
    def __init__(self, server: Jupyter, last_event_id: str | None = None) -> None:
        self.stream = _Stream(server, last_event_id)

    def __enter__(self) -> _Stream:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
