"""``logs`` output against ../shared/golden, from a json-file log like the lg-a container's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dockernb.logs.jsonfile import JsonFileWriter, attrs_json, parse_time
from dockernb.logs.reader import read_logs
from dockernb.present.logs import TimeArgError, log_chunks, parse_duration, parse_time_arg, tail_arg
from tests import golden

pytestmark = pytest.mark.rootless

T0 = parse_time("2026-11-28T11:42:20.923355998Z")


@pytest.fixture
def lg_a(tmp_path: Path) -> Path:
    """The golden lg-a container: echo out1; echo err1 >&2; echo out2; printf no-newline."""
    log = tmp_path / "lg-a-json.log"
    w = JsonFileWriter(log)
    w.write("stderr", b"err1\n", T0)
    w.write("stdout", b"out1\n", T0 + 58041)
    w.write("stdout", b"out2\n", T0 + 60471)
    w.write("stdout", b"no-newline", T0 + 16424007)
    w.close()
    return log


def _render(log: Path, **kw: object) -> tuple[str, str]:
    timestamps = bool(kw.pop("timestamps", False))
    details = bool(kw.pop("details", False))
    out, err = b"", b""
    for stream, data in log_chunks(read_logs(log, **kw), timestamps=timestamps, details=details):  # type: ignore[arg-type]
        if stream == "stdout":
            out += data
        else:
            err += data
    return out.decode(), err.decode()


@pytest.mark.parametrize(
    ("case_id", "kw"),
    [
        ("logs", {}),
        ("logs-tail-1", {"tail": 1}),
        ("logs-tail-2", {"tail": 2}),
        ("logs-tail-0", {"tail": 0}),
        ("logs-follow-exited", {"follow": True, "done": lambda: True}),
    ],
)
def test_logs_like_docker(lg_a: Path, case_id: str, kw: dict[str, object]) -> None:
    case = golden.expected(case_id)
    assert _render(lg_a, **kw) == (case["stdout"], case["stderr"])


def test_timestamps_like_docker(lg_a: Path) -> None:
    case = golden.expected("logs-t")
    out, err = _render(lg_a, timestamps=True)
    assert re.fullmatch(case["stdout_regex"], out) and re.fullmatch(case["stderr_regex"], err)
    assert err == "2026-11-28T11:42:20.923355998Z err1\n"


def test_since_like_docker(lg_a: Path) -> None:
    now = datetime(2026, 11, 28, 11, 50, tzinfo=UTC)
    case = golden.expected("logs-since-1h")
    since = parse_time_arg("1h", "since", now)
    assert _render(lg_a, since_ns=since) == (case["stdout"], case["stderr"])
    assert _render(lg_a, since_ns=parse_time_arg("1m", "since", now)) == ("", "")
    bad = golden.expected("logs-since-bad")
    with pytest.raises(TimeArgError) as err:
        parse_time_arg("bad", "since", now)
    assert str(err.value) + "\n" == bad["stderr"] and bad["exit_code"] == 1


def test_tty_log_is_all_stdout(tmp_path: Path) -> None:
    log = tmp_path / "tty-json.log"
    w = JsonFileWriter(log)
    w.write("stdout", b"out\r\n", T0)
    w.write("stdout", b"err\r\n", T0 + 1)
    w.close()
    case = golden.expected("logs-tty")
    assert _render(log) == (case["stdout"], case["stderr"])


def test_details_prefix(tmp_path: Path) -> None:
    log = tmp_path / "d-json.log"
    w = JsonFileWriter(log, attrs_json=attrs_json({"team": "blue sky", "a": "1"}))
    w.write("stdout", b"x\n", T0)
    w.close()
    plain = tmp_path / "p-json.log"
    w = JsonFileWriter(plain)
    w.write("stdout", b"y\n", T0)
    w.close()
    assert _render(log, details=True) == ("a=1,team=blue+sky x\n", "")
    assert _render(plain, details=True) == (" y\n", "")  # docker prints the separator even without attrs
    assert _render(log, details=True, timestamps=True)[0] == "2026-11-28T11:42:20.923355998Z a=1,team=blue+sky x\n"


def test_time_arguments() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    now_ns = int(now.timestamp()) * 10**9
    assert parse_duration("1h30m") == 5400 * 10**9
    assert parse_duration("1.5s") == 1_500_000_000
    assert parse_duration("-2m") == -120 * 10**9
    assert parse_time_arg("10m", "since", now) == now_ns - 600 * 10**9
    assert parse_time_arg("2026-11-28T11:00:00Z", "since", now) == now_ns - 3600 * 10**9
    assert parse_time_arg("2026-11-28T11:00:00.5Z", "since", now) == now_ns - 3600 * 10**9 + 500_000_000
    assert parse_time_arg("2026-11-28T12:00:00+01:00", "since", now) == now_ns - 3600 * 10**9
    assert parse_time_arg("1764331200", "until", now) == 1764331200 * 10**9
    assert parse_time_arg("1764331200.25", "until", now) == 1764331200 * 10**9 + 250_000_000
    local = now.astimezone(timezone(timedelta(hours=2)))
    assert parse_time_arg("2026-11-28T14:00", "since", local) == now_ns  # no zone: local time
    assert parse_time_arg("2026-11-28", "since", now) == int(datetime(2026, 11, 28, tzinfo=UTC).timestamp()) * 10**9
    with pytest.raises(TimeArgError, match='invalid value for "until"'):
        parse_time_arg("2026-13-45", "until", now)
    for value, n in (("all", -1), ("10", 10), ("0", 0), ("-3", -1), ("x", -1)):
        assert tail_arg(value) == n


def test_a_follower_gets_each_line_before_the_next_exists() -> None:
    from collections.abc import Iterator

    from dockernb.spec.logline import LogLine

    def lines() -> Iterator[LogLine]:
        yield LogLine(stream="stdout", data=b"serving\n", time="2026-11-28T16:19:03.365066661Z", attrs="")
        raise AssertionError("the first line must be written before the log has another")

    chunks = log_chunks(lines(), batch=1)
    assert next(chunks) == ("stdout", b"serving\n")
