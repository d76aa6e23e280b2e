"""``ps`` output against ../shared/golden: the recorded scenario rebuilt as records and rendered."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dockernb.present import args as present_args
from dockernb.present.args import UsageError, parse
from dockernb.present.containers import ellipsis, go_quote, ps_context, render_ps, status_text
from dockernb.present.gotemplate import TemplateError
from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary
from dockernb.spec.status import ContainerState, ContainerStatus
from tests import golden

pytestmark = pytest.mark.rootless

CREATED = datetime(2026, 11, 28, 11, 41, 35, tzinfo=UTC)
NOW = CREATED + timedelta(seconds=3)
LONG = "sleep 1000; echo this is a rather long command line that gets truncated"
PORTS = ("127.0.0.1:18080->80/tcp", "0.0.0.0:18081->81/udp", ":::18081->81/udp")


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def _summary(
    name: str,
    argv: list[str],
    status: ContainerStatus,
    *,
    exit_code: int = 0,
    ports: tuple[str, ...] = (),
    age: int = 0,
) -> ContainerSummary:
    created = CREATED - timedelta(seconds=age)
    started = None if status is ContainerStatus.CREATED else created + timedelta(seconds=1)
    finished = created + timedelta(seconds=1) if status is ContainerStatus.EXITED else None
    rec = ContainerRecord(
        id=(name.encode().hex() + "ab" * 32)[:64],
        name=name,
        created=created,
        config=ContainerConfig(image="busybox", cmd=tuple(argv)),
        path=argv[0],
        args=tuple(argv[1:]),
    )
    state = ContainerState(status=status, exit_code=exit_code, started_at=started, finished_at=finished)
    return ContainerSummary(
        record=rec, state=state, ports=ports, size_rw=0, size_root_fs=1_990_000, networks=("bridge",)
    )


def scenario() -> list[ContainerSummary]:
    """ps's golden scenario, newest first."""
    return [
        _summary("jolly_turing", ["sleep", "1001"], ContainerStatus.RUNNING),
        _summary("ps-longcmd", ["sh", "-c", LONG], ContainerStatus.RUNNING),
        _summary("ps-ports", ["sleep", "1000"], ContainerStatus.RUNNING, ports=PORTS),
        _summary("ps-created", ["true"], ContainerStatus.CREATED),
        _summary("ps-exited", ["sh", "-c", "exit 3"], ContainerStatus.EXITED, exit_code=3, age=1),
        _summary("ps-running", ["sleep", "1000"], ContainerStatus.RUNNING, age=1),
    ]


def running(items: list[ContainerSummary]) -> list[ContainerSummary]:
    return [s for s in items if s.state.running]


def _check(case_id: str, text: str) -> None:
    case = golden.expected(case_id)
    if "stdout_regex" in case:
        assert re.fullmatch(case["stdout_regex"], text, re.S), f"{case_id}:\n{text}\nwant like:\n{case['stdout']}"
    else:
        assert text == case["stdout"]


@pytest.mark.parametrize(
    ("case_id", "subset", "kw"),
    [
        ("ps", running, {}),
        ("ps-a", list, {}),
        ("ps-a-no-trunc", list, {"trunc": False}),
        ("ps-q", running, {"quiet": True}),
        ("ps-aq", list, {"quiet": True}),
        ("ps-s", running, {"size": True}),
        ("ps-format-names-status", list, {"fmt": "{{.Names}} {{.Status}}"}),
        ("ps-format-table", list, {"fmt": "table {{.ID}}\t{{.Image}}"}),
        ("ps-format-command", list, {"fmt": "{{.Names}}\t{{.Command}}"}),
        ("ps-filter-exited", lambda s: [x for x in s if x.record.name == "ps-exited"], {}),
        ("ps-filter-created", lambda s: [x for x in s if x.record.name == "ps-created"], {}),
        ("ps-filter-name", lambda s: [x for x in s if "ps-" in x.record.name], {}),
        ("ps-filter-exited-code", lambda s: [x for x in s if x.state.exit_code == 3], {"fmt": "{{.Names}}"}),
        ("ps-last-1", lambda s: s[:1], {}),
        ("ps-latest", lambda s: s[:1], {"fmt": "{{.Names}}"}),
        ("ps-format-ports", lambda s: [x for x in s if x.record.name == "ps-ports"], {"fmt": "{{.Ports}}"}),
        ("ps-empty", lambda s: [], {}),
    ],
)
def test_ps_like_docker(case_id: str, subset: object, kw: dict[str, object]) -> None:
    items = subset(scenario())  # type: ignore[operator]
    _check(case_id, render_ps(items, now=NOW, **kw))  # type: ignore[arg-type]


def test_format_json_like_docker() -> None:
    item = next(s for s in scenario() if s.record.name == "ps-ports")
    text = render_ps([item], fmt="{{json .}}", now=NOW)
    want = golden.expected("ps-format-json")
    assert re.fullmatch(want["stdout_regex"], text), text
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_bad_field_error_is_gos() -> None:
    want = golden.expected("ps-format-bad-field")
    with pytest.raises(TemplateError) as err:
        render_ps(scenario(), fmt="{{.Nope}}", now=NOW)
    assert f"failed to execute template: {err.value}\n" == want["stderr"]
    assert want["exit_code"] == 1


def test_paused_and_other_statuses() -> None:
    item = _summary("lc-a", ["sleep", "1000"], ContainerStatus.PAUSED)
    _check("ps-paused", render_ps([item], now=NOW + timedelta(seconds=16)))
    _check("ps-paused-status", render_ps([item], fmt="{{.Names}} {{.Status}}", now=NOW))
    base = ContainerState(finished_at=NOW - timedelta(seconds=5), started_at=NOW - timedelta(minutes=3), exit_code=1)
    for status, text in [
        (ContainerStatus.RESTARTING, "Restarting (1) 5 seconds ago"),
        (ContainerStatus.REMOVING, "Removal In Progress"),
        (ContainerStatus.DEAD, "Dead"),
        (ContainerStatus.RUNNING, "Up 3 minutes"),
        (ContainerStatus.EXITED, "Exited (1) 5 seconds ago"),
    ]:
        base.status = status
        assert status_text(base, NOW) == text


def test_label_method_and_header() -> None:
    item = _summary("lab", ["true"], ContainerStatus.CREATED)
    item = ContainerSummary(
        record=ContainerRecord(
            id=item.record.id,
            name="lab",
            created=CREATED,
            config=ContainerConfig(image="busybox", labels={"com.example.team": "blue", "a": "1"}),
            path="true",
        ),
        state=item.state,
    )
    out = render_ps([item], fmt='table {{.Names}}\t{{.Label "com.example.team"}}\t{{.Labels}}', now=NOW)
    assert out == "NAMES     TEAM      LABELS\nlab       blue      a=1,com.example.team=blue\n"
    assert ps_context(item, now=NOW)["Size"] == ""  # not asked for


def test_helpers_are_gos() -> None:
    assert go_quote("sh -c 'exit 3'") == "\"sh -c 'exit 3'\""
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert ellipsis("sh -c 'sleep 1000; echo", 20) == "sh -c 'sleep 1000; …"
    assert ellipsis("short", 20) == "short"
    assert ellipsis("日本語のコマンド", 5) == "日本…"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # the integration phase registers these verbs in COMMANDS with their runners
    for verb in ("ps", "container ls", "logs"):
        monkeypatch.setitem(present_args.COMMANDS, verb, "containers")


def test_ps_grammar(registered: None) -> None:
    ns = parse("ps", ["-aq", "--filter", "status=exited", "-f", "name=x", "-n", "3", "--no-trunc", "-s"])
    assert (ns.all, ns.quiet, ns.filters, ns.last, ns.no_trunc, ns.size) == (
        True,
        True,
        [("status", "exited"), ("name", "x")],
        3,
        True,
        True,
    )
    assert parse("container ls", ["--format", "{{.ID}}"]).format == "{{.ID}}"
    case = golden.expected("ps-extra-arg")
    with pytest.raises(UsageError) as err:
        parse("ps", ["extra"])
    assert (err.value.exit_code, err.value.message + "\n") == (case["exit_code"], case["stderr"])
    with pytest.raises(UsageError) as err:
        parse("ps", ["-n", "x"])
    assert err.value.exit_code == 125
    assert err.value.message.startswith('invalid argument "x" for "-n, --last" flag: strconv.ParseInt')


def test_logs_grammar(registered: None) -> None:
    ns = parse("logs", ["-f", "-t", "--details", "--tail", "10", "--since", "1h", "--until", "5m", "web"])
    assert (ns.follow, ns.timestamps, ns.details, ns.tail, ns.since, ns.until, ns.args) == (
        True,
        True,
        True,
        "10",
        "1h",
        "5m",
        ["web"],
    )
    assert parse("logs", ["-n", "2", "web"]).tail == "2"
    assert parse("logs", ["web"]).tail == "all"
    with pytest.raises(UsageError) as err:
        parse("logs", [])
    assert err.value.exit_code == 1 and '"dockernb logs" requires exactly 1 argument.' in err.value.message
