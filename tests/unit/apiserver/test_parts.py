"""Router, stream framing, the events hub and the listeners, each on its own."""

from __future__ import annotations

import grp
import logging
import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from dockernb.apiserver.events import EventFilter, EventHub, parse_timestamp
from dockernb.apiserver.listeners import Address, default_socket, open_listener, parse_host
from dockernb.apiserver.request import parse_filters
from dockernb.apiserver.router import Router, check_version, split_version
from dockernb.apiserver.streams import MAX_FRAME, MuxWriter, Stream, demux, frame
from dockernb.errors import Conflict, InvalidArgument, InvalidRequest, NotFound
from dockernb.present.args import parse

# --- router -------------------------------------------------------------------------------------

pytestmark = pytest.mark.rootless  # no root needed: the unprivileged pass runs them too


def test_version_prefix_and_negotiation() -> None:
    assert split_version("/v1.41/containers/json") == ("1.41", "/containers/json")
    assert split_version("/containers/json") == ("", "/containers/json")
    assert check_version("") == "1.41" and check_version("1.12") == "1.12" and check_version("1.41.0") == "1.41.0"
    with pytest.raises(InvalidRequest, match="too old"):
        check_version("1.9")
    with pytest.raises(InvalidRequest, match="too new"):
        check_version("1.42")


def test_patterns() -> None:
    r = Router()
    r.add("GET", "/containers/{name}/json", lambda req: None, name="ContainerInspect")  # type: ignore[arg-type,return-value]
    r.add("GET", "/images/{name:.*}/json", lambda req: None, name="ImageInspect")  # type: ignore[arg-type,return-value]
    route, params, version = r.match("GET", "/v1.40/images/127.0.0.1:5000/library/busybox:latest/json")
    assert (route.name, params, version) == ("ImageInspect", {"name": "127.0.0.1:5000/library/busybox:latest"}, "1.40")
    assert r.match("GET", "/containers/web/json")[1] == {"name": "web"}
    for method, path in (("GET", "/containers/a/b/json"), ("POST", "/containers/web/json"), ("GET", "/images//json")):
        with pytest.raises(NotFound, match="page not found"):
            r.match(method, path)
    with pytest.raises(ValueError):
        r.add("GET", "/x", lambda req: None)  # type: ignore[arg-type,return-value]
        r.add("GET", "/x", lambda req: None)  # type: ignore[arg-type,return-value]


def test_filters_both_shapes() -> None:
    assert parse_filters('{"type":["container"],"label":{"a=b":true,"c":false}}') == {
        "type": ["container"], "label": ["a=b"]}
    assert parse_filters("") == {} and parse_filters("null") == {}
    for bad in ("{x", "[1]", '{"a": 1}', '{"a": [1]}'):
        with pytest.raises(InvalidRequest):
            parse_filters(bad)


# --- streams ------------------------------------------------------------------------------------


def test_frames_round_trip() -> None:
    data = frame(Stream.STDOUT, b"out\n") + frame(Stream.STDERR, b"err\n") + frame(Stream.STDOUT, b"")
    assert data[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x04"
    assert list(demux(data)) == [(1, b"out\n"), (2, b"err\n")]
    big = os.urandom(MAX_FRAME + 10)
    parts = list(demux(frame(Stream.STDOUT, big)))
    assert [len(p) for _, p in parts] == [MAX_FRAME, 10] and b"".join(p for _, p in parts) == big
    with pytest.raises(ValueError):
        list(demux(data[:-1]))


def test_mux_writer_raw_with_tty() -> None:
    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

        def read(self, n: int = 65536) -> bytes:
            return b""

        def close_write(self) -> None:
            pass

    tty, plain = Sink(), Sink()
    MuxWriter(tty, tty=True).stderr(b"x")
    MuxWriter(plain, tty=False).stderr(b"x")
    assert tty.data == b"x" and plain.data == b"\x02\x00\x00\x00\x00\x00\x00\x01x"


# --- events -------------------------------------------------------------------------------------


def _ev(kind: str, action: str, ident: str, **attrs: str) -> dict[str, object]:
    return {"Type": kind, "Action": action, "Actor": {"ID": ident, "Attributes": attrs}}


def test_events_fan_out_replay_and_filters() -> None:
    now = [1_000_000_000_000]
    hub = EventHub(heartbeat=0.01, clock=lambda: now[0])
    hub.publish(_ev("container", "create", "a" * 64, name="web", image="busybox:latest"))
    now[0] += 1
    first = hub.publish(_ev("network", "create", "n1", name="lab"))
    assert first["scope"] == "local" and first["time"] == 1000 and "status" not in first
    everything = hub.subscribe()
    containers = hub.subscribe(filters=EventFilter.parse({"type": ["container"], "event": ["start"]}))
    assert hub.listeners == 2
    now[0] += 1
    started = hub.publish(_ev("container", "start", "a" * 64, name="web", image="busybox:latest", team="x"))
    assert started["status"] == "start" and started["from"] == "busybox:latest"
    assert next(everything)["Action"] == "start"
    assert next(containers)["Action"] == "start"
    everything.close()
    containers.close()
    assert hub.listeners == 0
    replay = hub.subscribe(since=0, until=now[0])
    assert [e["Action"] for e in replay if e] == ["create", "create", "start"]  # and it ends at until
    def pick(**terms: list[str]) -> list[str]:
        return [e["Action"] for e in hub.subscribe(since=0, until=now[0], filters=EventFilter.parse(terms)) if e]
    assert pick(container=["web"]) == ["create", "start"]
    assert pick(container=["aaaaaaaaaaaa"]) == ["create", "start"]  # short id
    assert pick(image=["busybox"]) == ["create", "start"]
    assert pick(label=["team=x"]) == ["start"] and pick(label=["team"]) == ["start"]
    assert pick(network=["lab"]) == ["create"]
    with pytest.raises(InvalidRequest, match="invalid filter 'bogus'"):
        EventFilter.parse({"bogus": ["x"]})
    with pytest.raises(InvalidRequest):
        hub.subscribe(since=5, until=4)


def test_events_heartbeat_close_and_slow_subscribers() -> None:
    hub = EventHub(heartbeat=0.01, queue_size=2)
    sub = hub.subscribe()
    assert next(sub) is None  # idle: a heartbeat for the server's liveness check
    slow = hub.subscribe()
    for i in range(3):
        hub.publish(_ev("volume", "create", f"v{i}"))
    got = [e["Actor"]["ID"] for e in slow if e]  # ends: cut off after overflowing, never waited for
    assert len(got) < 3 and hub.listeners == 0
    waiter = hub.subscribe()
    done = threading.Event()

    def drain() -> None:
        for _ in waiter:
            pass
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    hub.close()
    assert done.wait(2)
    sub.close()


def test_timestamps() -> None:
    assert parse_timestamp("since", "") is None
    assert parse_timestamp("since", "12") == 12_000_000_000
    assert parse_timestamp("since", "12.5") == 12_500_000_000
    assert parse_timestamp("until", "1.000000001") == 1_000_000_001
    for bad in ("x", "-1", "1.2.3", "2026-01-01T00:00:00Z", "1.0000000001"):
        with pytest.raises(InvalidRequest):
            parse_timestamp("since", bad)


# --- listeners ----------------------------------------------------------------------------------


def test_parse_host() -> None:
    assert parse_host("unix:///run/x.sock") == Address("unix", path="/run/x.sock")
    assert parse_host("tcp://127.0.0.1:2376") == Address("tcp", host="127.0.0.1", port=2376)
    assert parse_host("tcp://:2377") == Address("tcp", host="127.0.0.1", port=2377)
    assert parse_host("tcp://") == Address("tcp", host="127.0.0.1", port=2375)
    assert parse_host("127.0.0.1:9") == Address("tcp", host="127.0.0.1", port=9)
    assert parse_host("tcp://[::1]:8") == Address("tcp", host="::1", port=8)
    assert str(parse_host("tcp://[::1]:8")) == "tcp://[::1]:8"
    for bad in ("fd://", "ssh://h", "unix://rel.sock", "tcp://h:99999", "tcp://h:x", "tcp://h:1/path"):
        with pytest.raises(InvalidArgument, match="Invalid bind address format"):
            parse_host(bad)


def test_default_socket() -> None:
    assert default_socket(0, {}) == "/run/dockernb.sock"
    assert default_socket(1000, {"XDG_RUNTIME_DIR": "/run/user/1000"}) == "/run/user/1000/dockernb.sock"
    with pytest.raises(InvalidArgument, match="XDG_RUNTIME_DIR"):
        default_socket(1000, {})


class _App:
    def dispatch(self, req: object) -> object:
        raise AssertionError("not used")

    def common_headers(self) -> list[tuple[str, str]]:
        return []


@pytest.fixture
def sock_dir() -> object:
    d = tempfile.mkdtemp(prefix="dnb-lst-", dir="/tmp")
    yield Path(d)
    for p in Path(d).iterdir():
        p.unlink()
    os.rmdir(d)


def test_unix_socket_modes(sock_dir: Path) -> None:
    path = str(sock_dir / "a.sock")
    lst = open_listener(Address("unix", path=path), _App())
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with pytest.raises(Conflict, match="address already in use"):
            open_listener(Address("unix", path=path), _App())
    finally:
        lst.close()
    assert not os.path.exists(path)
    group = grp.getgrgid(os.getgid()).gr_name
    lst = open_listener(Address("unix", path=path), _App(), group=group)
    try:
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == os.getgid()
    finally:
        lst.close()
    with pytest.raises(InvalidArgument, match="group no-such-group-x not found"):
        open_listener(Address("unix", path=path), _App(), group="no-such-group-x")


def test_stale_socket_replaced_other_files_kept(sock_dir: Path) -> None:
    path = str(sock_dir / "b.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    open_listener(Address("unix", path=path), _App()).close()
    regular = sock_dir / "c.sock"
    regular.write_text("keep me")
    with pytest.raises(InvalidArgument, match="is not a socket"):
        open_listener(Address("unix", path=str(regular)), _App())
    assert regular.read_text() == "keep me"
    with pytest.raises(InvalidArgument, match="socket path too long"):
        open_listener(Address("unix", path=str(sock_dir / ("x" * 120))), _App())


def test_tcp_warns_off_loopback(caplog: pytest.LogCaptureFixture) -> None:
    lst = open_listener(Address("tcp", host="127.0.0.1", port=0), _App())
    assert lst.bound.startswith("127.0.0.1:")
    lst.close()
    assert "insecure" not in caplog.text
    with caplog.at_level(logging.WARNING), pytest.raises(InvalidArgument, match="listen tcp 192.0.2.1:0"):
        open_listener(Address("tcp", host="192.0.2.1", port=0), _App())  # TEST-NET-1: never bound here
    assert "Binding to IP address without --tlsverify is insecure" in caplog.text


def test_serve_grammar() -> None:
    ns = parse("serve", ["-H", "unix:///tmp/a.sock", "-H", "tcp://127.0.0.1:1", "--group", "staff"])
    assert ns.host == ["unix:///tmp/a.sock", "tcp://127.0.0.1:1"] and ns.group == "staff" and ns.log_level == "info"
