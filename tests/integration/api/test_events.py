"""``GET /events`` from the engine's event log, through clients we did not write: docker-py's
``client.events(decode=True)`` (replayed with since/until, and followed live), and the docker CLI's
``docker events --since --until --filter``; plus dockerd's 400s for bad arguments."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import docker
import pytest

from dockernb.testing.apiserver import ServedApi
from tests.integration.api.conftest import DockerCli

pytestmark = [
    pytest.mark.kit,
    pytest.mark.rootless,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def client(served: ServedApi) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=served.docker_host, version="1.41", timeout=120)
    yield c
    c.close()
    gc.collect()


def test_events_replayed_between_since_and_until(client: docker.DockerClient, docker_cli: DockerCli) -> None:
    t0 = time.time() - 1
    c = client.containers.run("busybox", ["true"], name="ev1", detach=True)
    assert c.wait(timeout=60)["StatusCode"] == 0
    c.remove()
    t1 = time.time() + 1
    time.sleep(1.2)  # until is past: the stream ends after the recorded events
    got = list(client.events(since=t0, until=t1, decode=True, filters={"container": "ev1"}))
    actions = [e["Action"] for e in got]
    for want in ("create", "start", "die", "destroy"):
        assert want in actions, actions
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")
    create = got[actions.index("create")]
    assert create["Type"] == "container" and create["Actor"]["ID"] == c.id and create["id"] == c.id
    assert create["Actor"]["Attributes"]["name"] == "ev1" and create["from"] == "busybox"
    assert isinstance(create["timeNano"], int) and int(t0) <= create["time"] <= int(t1)
    die = got[actions.index("die")]
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    # a filter on the action, and on another container: docker's rules, applied server-side
    only = list(client.events(since=t0, until=t1, decode=True, filters={"container": "ev1", "event": "die"}))
    assert [e["Action"] for e in only] == ["die"]
    assert list(client.events(since=t0, until=t1, decode=True, filters={"container": "nosuch"})) == []

    # the docker CLI: the same log through its own formatting
    out = docker_cli.ok("events", "--since", f"{t0:.3f}", "--until", f"{t1:.3f}", "--filter", "container=ev1",
                        "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    lines = [ln for ln in out.splitlines() if ln]
    assert lines[0] == "container create ev1" and "container destroy ev1" in lines, out
    r = docker_cli("events", "--since", "10", "--until", "5")
    assert r.code == 1 and "`since` time cannot be after `until` time" in r.err, r
    r = docker_cli("events", "--until", f"{t1:.3f}", "--filter", "bogus=1")
    assert r.code == 1 and "nvalid filter 'bogus'" in r.err, r


def test_events_followed_live(client: docker.DockerClient, served: ServedApi) -> None:
    stream = client.events(decode=True, filters={"type": "container", "container": "ev2"})
    got: list[dict[str, object]] = []
    done = threading.Event()

    def read() -> None:
        for ev in stream:
            got.append(ev)
            if ev["Action"] == "destroy":
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)
    client.containers.run("busybox", ["true"], name="ev2", remove=True)
    assert done.wait(60), [e["Action"] for e in got]
    stream.close()
    reader.join(10)
    actions = [e["Action"] for e in got]
    assert actions[0] == "create" and "start" in actions and "die" in actions and actions[-1] == "destroy", actions
    # the server notices the client left an idle stream (its next heartbeat), and drops the listener
    deadline = time.monotonic() + 30
    while client.info()["NEventsListener"] != 0:
        assert time.monotonic() < deadline, "the /events listener outlived its client"
        time.sleep(0.5)
