"""The remote backend's own parts, without a daemon: DOCKER_HOST URLs, the refusals' words, JSON to records."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator

import pytest

from dockernb.client import DockerClient
from dockernb.client.commands import context_for
from dockernb.client.remote import RemoteEngine, parse_host
from dockernb.client.remote.records import api_time, container_from_inspect
from dockernb.client.remote.runners import remote_runner
from dockernb.errors import InvalidArgument
from dockernb.present.dispatch import dispatch

pytestmark = [
    pytest.mark.rootless,
    # docker-py's UnixHTTPConnection.connect leaves the socket of a refused connect to the collector
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def _collect_refused_sockets() -> Iterator[None]:
    yield
    gc.collect()  # within the test, where the mark above applies


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
        ("tcp://[::1]:2376", "tcp://[::1]:2376"),
        ("ssh://student@lab.example", "ssh://student@lab.example"),
        ("ssh://lab.example:2222", "ssh://lab.example:2222"),
    ],
)
def test_docker_host_urls(url: str, base: str) -> None:
    assert parse_host(url) == base


@pytest.mark.parametrize("url", ["", "docker.sock", "unix://relative.sock", "tcp://host", "tcp://host:port",
                                 "tcp://host:2375/path", "npipe:////./pipe/docker_engine", "ssh://"])  # fmt: skip
def test_bad_docker_host_is_dockers_error(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_host(url)
    assert str(caught.value) == f"Invalid bind address format: {url}"


def _run(engine: RemoteEngine, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(list(argv), context_for(engine, out=out, err=err), remote_runner)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "what"),
    [(["top", "web"], "top"), (["build", "."], "build"), (["run", "-it", "busybox"], "run -it"),
     (["run", "--privileged", "busybox"], "run --privileged"), (["exec", "-it", "web", "sh"], "exec -it"),
     (["container", "inspect", "-s", "web"], "container inspect --size"), (["start", "-a", "web"], "start -a"),
     (["create", "--init", "busybox"], "create --init"), (["version"], "version")],
)  # fmt: skip
def test_what_is_not_served_remotely_says_so(tmp_path: pytest.TempPathFactory, argv: list[str], what: str) -> None:
    engine = RemoteEngine(f"unix://{tmp_path}/absent.sock", lazy=True)  # refused before any request
    assert _run(engine, *argv) == (1, "", f'"dockernb connect": {what} is not available on a remote engine yet\n')


def test_no_daemon_is_one_line_as_the_cli(tmp_path: pytest.TempPathFactory) -> None:
    url = f"unix://{tmp_path}/absent.sock"
    engine = RemoteEngine(url, lazy=True)
    for argv in (["ps"], ["images"], ["logs", "web"], ["run", "-d", "busybox"]):
        assert _run(engine, *argv) == (1, "", f"Cannot connect to the Docker daemon at {url}. "
                                              "Is the docker daemon running?\n")  # fmt: skip


def test_docker_host_chooses_the_backend_lazily() -> None:
    client = DockerClient.from_docker_host({"DOCKER_HOST": "tcp://nowhere"})  # no error before a call
    assert isinstance(client.engine, RemoteEngine)
    with pytest.raises(InvalidArgument, match="^Invalid bind address format: tcp://nowhere$"):
        client.containers.list()


def test_inspect_json_becomes_records() -> None:
    found = container_from_inspect({
        "Id": "a" * 64, "Name": "/web", "Created": "2026-11-28T17:20:01.123456789Z", "Path": "sh",
        "Args": ["-c", "sleep 1"], "Image": "sha256:" + "b" * 64,
        "Config": {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1"], "Labels": {"k": "v"}, "Tty": True},
        "State": {"Status": "stopped", "ExitCode": 137, "StartedAt": "0001-01-01T00:00:00Z"},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": None}},
    })  # fmt: skip
    assert (found.record.name, found.record.config.image, found.record.config.tty) == ("web", "busybox", True)
    assert found.record.created.isoformat() == "2026-11-28T17:20:01.123456+00:00"
    assert (found.state.status, found.state.exit_code, found.state.started_at) == ("exited", 137, None)  # podman's word
    ports = [(p.container_port, p.proto, p.host_ip, p.host_port) for p in found.ports]
    assert ports == [(80, "tcp", "127.0.0.1", 8080)]
    assert api_time("2026-11-28T18:20:01.5+01:00") == api_time("2026-11-28T17:20:01.500Z")
    assert api_time(0) is not None and api_time("") is None
