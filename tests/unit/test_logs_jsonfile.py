"""docker's json-file format: escaping like moby's jsonlog, times, line splitting, rotation, reading."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from dockernb.errors import InvalidConfig, NotSupported
from dockernb.logs import jsonfile
from dockernb.logs.jsonfile import BUF_SIZE, JsonFileWriter, LineSplitter, encode_entry
from dockernb.logs.options import from_human_size, log_settings
from dockernb.logs.reader import log_files, read_logs
from dockernb.spec.container import LogConfig

pytestmark = pytest.mark.rootless

T0 = 1_764_330_140_923_414_039  # 2025-11-28T11:42:20.923414039Z


@pytest.mark.parametrize(
    ("data", "escaped"),
    [
        (b"hello\n", '"hello\\n"'),
        (b'q"b\\s', '"q\\"b\\\\s"'),
        (b"\r\t\x00\x1f\x7f", '"\\r\\u0009\\u0000\\u001f\x7f"'),
        (b"<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ("é€😀".encode(), '"é€😀"'),
        (b"\xff", '"\\ufffd"'),
        (b"\xc0\xaf", '"\\ufffd\\ufffd"'),  # overlong: invalid in Go
        (b"\xed\xa0\x80", '"\\ufffd\\ufffd\\ufffd"'),  # a surrogate: invalid in Go
        (b"\xe2\x82", '"\\ufffd\\ufffd"'),  # truncated sequence
        ("\u2028\u2029".encode(), '"\\u2028\\u2029"'),
    ],
)
def test_escaping_matches_moby(data: bytes, escaped: str) -> None:
    line = encode_entry("stdout", data, T0)
    assert line == ('{"log":' + escaped + ',"stream":"stdout","time":"2025-11-28T11:42:20.923414039Z"}\n').encode()
    # and it is JSON that decodes to the text, each invalid byte replaced one for one (Go's rule)
    text = json.loads(line)["log"]
    assert text.encode("utf-8", "surrogatepass") == data or "\ufffd" in text


def test_times_are_go_rfc3339nano() -> None:
    assert jsonfile.format_time(T0) == "2025-11-28T11:42:20.923414039Z"
    assert jsonfile.format_time(T0 - 39) == "2025-11-28T11:42:20.923414Z"  # trailing zeros trimmed
    assert jsonfile.format_time(1_764_330_140_000_000_000) == "2025-11-28T11:42:20Z"
    assert jsonfile.format_time_fixed(1_764_330_140_500_000_000) == "2025-11-28T11:42:20.500000000Z"
    assert jsonfile.timestamp_fixed("2025-11-28T11:42:20.9234Z") == "2025-11-28T11:42:20.923400000Z"
    assert jsonfile.timestamp_fixed("2025-11-28T11:42:20Z") == "2025-11-28T11:42:20.000000000Z"
    for stamp in ("2025-11-28T11:42:20.923414039Z", "2025-11-28T11:42:20Z", "2025-11-28T12:42:20.923414039+01:00"):
        ns = jsonfile.parse_time(stamp)
        assert jsonfile.format_time(ns).startswith("2025-11-28T11:42:20")
    assert jsonfile.parse_time("2025-11-28T11:42:20.923414039Z") == T0
    with pytest.raises(ValueError):
        jsonfile.parse_time("yesterday")


def test_attrs_sit_between_stream_and_time() -> None:
    attrs = jsonfile.attrs_json({"z": "1", "a": "<2>"})
    assert attrs == '{"a":"\\u003c2\\u003e","z":"1"}'
    line = encode_entry("stderr", b"x\n", T0, attrs)
    assert line.startswith(b'{"log":"x\\n","stream":"stderr","attrs":{"a":')
    decoded = jsonfile.decode_block(line)[0]
    assert decoded.stream == "stderr" and decoded.data == b"x\n" and json.loads(decoded.attrs) == {"a": "<2>", "z": "1"}


def test_splitter_is_dockers_copier() -> None:
    sp = LineSplitter()
    assert sp.feed(b"a\nb", 1) == [(b"a\n", 1)]
    assert sp.feed(b"c\nd", 2) == [(b"bc\n", 2)]
    # a line longer than the buffer: partial chunks share the first chunk's time
    chunks = sp.feed(b"x" * (2 * BUF_SIZE + 10), 3)
    assert [len(c) for c, _ in chunks] == [BUF_SIZE, BUF_SIZE] and chunks[0][0].startswith(b"d")
    assert sp.feed(b"\n", 9) == [(b"x" * 11 + b"\n", 3)]
    assert sp.feed(b"tail", 10) == []
    assert sp.flush(11) == [(b"tail", 11)]
    assert sp.flush(12) == []


def test_round_trip_through_reader(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    w = JsonFileWriter(log)
    samples = [("stdout", b"plain\n"), ("stderr", b'tab\tquote"\n'), ("stdout", b"no-newline"), ("stdout", b"\xff\n")]
    for i, (stream, data) in enumerate(samples):
        w.write(stream, data, T0 + i)
    w.close()
    got = list(read_logs(log))
    assert [(g.stream, g.data) for g in got] == [*samples[:3], ("stdout", "\ufffd\n".encode())]
    assert [jsonfile.parse_time(g.time) for g in got] == [T0, T0 + 1, T0 + 2, T0 + 3]


def _fill(log: Path, n: int, **kw: int) -> None:
    w = JsonFileWriter(log, **kw)
    for i in range(n):
        w.write("stdout", b"line %d\n" % i, T0 + i * 1000)
    w.close()


def test_rotation_like_docker(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    _fill(log, 100, max_size=300, max_file=3)
    files = log_files(log)
    assert [p.name for p in files] == ["c-json.log.2", "c-json.log.1", "c-json.log"]
    for p in files[:-1]:
        assert p.stat().st_size >= 300  # rotated once a file reached max-size
    lines = [g.data for g in read_logs(log)]
    assert lines == [b"line %d\n" % i for i in range(100 - len(lines), 100)]  # the newest kept, in order
    # max-file=1 truncates in place
    single = tmp_path / "d-json.log"
    _fill(single, 50, max_size=200, max_file=1)
    assert log_files(single) == [single] and single.stat().st_size < 300


@pytest.mark.parametrize("tail", [0, 1, 2, 5, 37, 99, 100, 1000])
def test_tail_across_rotated_files(tmp_path: Path, tail: int) -> None:
    log = tmp_path / "c-json.log"
    _fill(log, 100, max_size=400, max_file=50)
    assert len(log_files(log)) > 3
    got = [g.data for g in read_logs(log, tail=tail)]
    want = [b"line %d\n" % i for i in range(100)]
    assert got == (want[-tail:] if tail else [])


def test_since_and_until(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    _fill(log, 10)
    got = [g.data for g in read_logs(log, since_ns=T0 + 3000, until_ns=T0 + 6000)]
    assert got == [b"line %d\n" % i for i in (3, 4, 5, 6)]
    # tail first, then the time filter (docker's order)
    assert [g.data for g in read_logs(log, tail=3, since_ns=T0 + 8000)] == [b"line 8\n", b"line 9\n"]


def test_missing_log_is_empty(tmp_path: Path) -> None:
    assert list(read_logs(tmp_path / "none-json.log")) == []
    assert list(read_logs(tmp_path / "none-json.log", tail=5)) == []


def test_torn_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(
        encode_entry("stdout", b"a\n", T0)
        + b"garbage\n"
        + b'{"stream":"stdout","time":"2025-11-28T11:42:20Z","log":"reordered\\n"}\n'
        + encode_entry("stdout", b"b\n", T0 + 1)
        + b'{"log":"torn'
    )
    assert [g.data for g in read_logs(log)] == [b"a\n", b"reordered\n", b"b\n"]


def test_follow_sees_appends_rotation_and_stops_when_done(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    _fill(log, 3)
    finished = threading.Event()
    got: list[bytes] = []
    seen = threading.Condition()

    def writer() -> None:
        # Paced on the reader: like docker's, a follower that falls more than max-file rotations behind
        # loses lines, and on a loaded machine the reader's poll can stall that long.
        w = JsonFileWriter(log, max_size=200, max_file=5)
        for i in range(3, 40):
            w.write("stdout", b"line %d\n" % i, T0 + i * 1000)
            with seen:
                seen.wait_for(lambda n=i - 1: len(got) >= n, timeout=10)
        w.close()
        finished.set()

    t = threading.Thread(target=writer)
    lines = read_logs(log, tail=1, follow=True, done=finished.is_set, poll=0.05)
    got.append(next(lines).data)  # the tail is read before the writer starts
    t.start()
    for g in lines:
        with seen:
            got.append(g.data)
            seen.notify_all()
    t.join()
    assert got == [b"line %d\n" % i for i in range(2, 40)]


def test_follow_until_in_the_past_returns(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    _fill(log, 3)
    start = time.monotonic()
    got = list(read_logs(log, follow=True, until_ns=time.time_ns() - 1, poll=0.05))
    assert len(got) == 3 and time.monotonic() - start < 2


def test_log_options_like_docker() -> None:
    assert from_human_size("10m") == 10_000_000 and from_human_size("1k") == 1000 and from_human_size("12") == 12
    s = log_settings(LogConfig(config={"max-size": "1m", "max-file": "3"}))
    assert (s.max_size, s.max_file, s.readable) == (1_000_000, 3, True)
    assert not log_settings(LogConfig(type="none")).readable
    s = log_settings(
        LogConfig(config={"labels": "team", "env": "MODE", "tag": "{{.Name}}/{{.ID}}"}),
        container_id="a" * 64,
        name="web",
        labels={"team": "blue", "other": "x"},
        env=("MODE=prod", "X=1"),
    )
    assert json.loads(s.attrs_json) == {"team": "blue", "MODE": "prod", "tag": "web/aaaaaaaaaaaa"}
    cases = [
        (LogConfig(type="syslogx"), "logger: no log driver named 'syslogx' is registered"),
        (LogConfig(config={"bogus": "1"}), "unknown log opt 'bogus' for json-file log driver"),
        (LogConfig(config={"max-size": "x"}), "invalid size: 'x'"),
        (LogConfig(config={"max-size": "0"}), "max-size must be a positive number"),
        (LogConfig(config={"max-file": "0"}), "max-file cannot be less than 1"),
        (LogConfig(config={"max-file": "z"}), 'strconv.Atoi: parsing "z": invalid syntax'),
        (LogConfig(type="none", config={"max-size": "1m"}), "unknown log opt 'max-size' for none log driver"),
    ]
    for config, message in cases:
        with pytest.raises(InvalidConfig) as err:
            log_settings(config)
        assert str(err.value) == message
    with pytest.raises(NotSupported):
        log_settings(LogConfig(config={"compress": "true"}))


def test_tail_reads_only_the_end(tmp_path: Path) -> None:
    # a 100,000-line log: --tail 10 reads a block or two from the end, not the whole file
    log = tmp_path / "big-json.log"
    with open(log, "wb") as f:
        f.write(b"".join(encode_entry("stdout", b"line %d\n" % i, T0 + i) for i in range(100_000)))
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, n: int, off: int) -> bytes:
        reads.append(n)
        return real_pread(fd, n, off)

    os.pread = counting_pread  # type: ignore[assignment]
    try:
        got = [g.data for g in read_logs(log, tail=10)]
    finally:
        os.pread = real_pread  # type: ignore[assignment]
    assert got == [b"line %d\n" % i for i in range(99_990, 100_000)]
    assert sum(reads) <= 64 * 1024
