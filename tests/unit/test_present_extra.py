"""Rendering and parsing of the extra container verbs: top's ps parsing, stats' table, events' lines,
commit's config merge, cp's argument split, and their grammar (group help, commit --pause=false)."""

from __future__ import annotations

import io
import json
import re

import pytest

from dockernb.build.image import RunConfig
from dockernb.engine.containers.commit import merge_config
from dockernb.engine.containers.stats import StatsSample, cpu_percent
from dockernb.engine.containers.top import parse_ps
from dockernb.errors import InvalidArgument
from dockernb.present.args import parse
from dockernb.present.commands.containerfs import split_cp_arg
from dockernb.present.context import Context
from dockernb.present.dispatch import dispatch
from dockernb.present.events import event_context, event_line, format_time
from dockernb.present.gotemplate import Template, TemplateError, render
from dockernb.present.stats import render_stats, stats_context
from dockernb.spec.events import Event
from tests import golden

PS = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:03 /sbin/init splash
root        4242    4200  0 11:41 ?        00:00:00 sleep 1000
root        4243    4242  0 11:41 ?        00:00:00 sh -c echo a   b
"""


def test_top_keeps_the_containers_rows_and_merges_the_command() -> None:
    got = parse_ps(PS, {4242, 4243})
    assert got.titles == ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
    assert got.processes == (("root", "4242", "4200", "0", "11:41", "?", "00:00:00", "sleep 1000"),
                             ("root", "4243", "4242", "0", "11:41", "?", "00:00:00", "sh -c echo a b"))  # fmt: skip
    threads = "USER PID TID CMD\nroot 7 - x\nroot - 7 x\nroot - 8 x\nroot 9 - y\nroot - 9 y\n"
    assert [p[1] for p in parse_ps(threads, {7}).processes] == ["7", "-", "-"]
    with pytest.raises(InvalidArgument, match="Couldn't find PID field"):
        parse_ps("USER CMD\nroot x\n", {1})


def _sample(**kw: int) -> StatsSample:
    base = {"id": "a" * 64, "name": "lc-a", "read_ns": 0, "running": True, "online_cpus": 2}
    return StatsSample(**{**base, **kw})  # type: ignore[arg-type]


def test_stats_row_and_table_as_docker() -> None:
    before = _sample(cpu_total_ns=1_000_000_000, system_cpu_ns=10_000_000_000)
    now = _sample(cpu_total_ns=1_500_000_000, system_cpu_ns=12_000_000_000, memory_usage=400 * 1024,
                  memory_cache=72 * 1024, memory_limit=25_276_510_208, net_rx=806, net_tx=0, block_read=1_234_567,
                  pids=1)  # fmt: skip
    assert cpu_percent(before, now) == pytest.approx(50.0)
    row = stats_context("lc-a", now, before)
    assert row["MemUsage"] == "328KiB / 23.54GiB" and row["NetIO"] == "806B / 0B" and row["BlockIO"] == "1.23MB / 0B"
    assert (row["CPUPerc"], row["MemPerc"], row["PIDs"], row["ID"]) == ("50.00%", "0.00%", "1", "a" * 12)
    table = render_stats([row])
    case = golden.expected("stats-no-stream")
    assert re.fullmatch(case["stdout_regex"], table), table
    assert render_stats([row], "{{.Name}} {{.PIDs}}") == "lc-a 1\n"
    assert json.loads(render_stats([row], "{{json .}}"))["Container"] == "lc-a"
    stopped = stats_context("x", _sample(running=False), None)
    assert (stopped["CPUPerc"], stopped["MemUsage"], stopped["PIDs"]) == ("0.00%", "0B / 0B", "0")
    with pytest.raises(TemplateError):
        render_stats([row], "{{.Nope}}")


def test_event_lines_and_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        ev = Event(type="container", action="die", actor_id="c" * 64, time_nano=1_700_000_000_000_000_042,
                   attributes={"name": "web", "exitCode": "137", "image": "busybox"})  # fmt: skip
        assert event_line(ev) == ("2023-11-14T22:13:20.000000042Z container die " + "c" * 64
                                  + " (exitCode=137, image=busybox, name=web)")  # fmt: skip
        ctx = event_context(ev)
        assert render("{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}} {{.From}}", ctx) == (
            "container die web die busybox")
        assert json.loads(render("{{json .}}", ctx))["Actor"]["Attributes"]["exitCode"] == "137"
        with pytest.raises(TemplateError, match=r"type \*events.Message"):
            Template("{{.Nope}}").render(event_context(None))
        monkeypatch.setenv("TZ", "EST+5")
        time.tzset()
        assert format_time(1_700_000_000_000_000_000).endswith("-05:00")
    finally:
        monkeypatch.undo()
        time.tzset()


def test_commit_merges_the_containers_config_under_the_changes() -> None:
    container = RunConfig(user="app", env=["PATH=/bin", "A=1"], cmd=["sh"], entrypoint=None, working_dir="/w",
                          labels={"x": "1"}, exposed_ports={"80/tcp": {}}, stop_signal="SIGINT")  # fmt: skip
    merged = merge_config(RunConfig(cmd=["cat", "/tmp/new.txt"], env=["A=2"]), container)
    assert merged.cmd == ["cat", "/tmp/new.txt"] and merged.env == ["A=2", "PATH=/bin"]
    assert (merged.user, merged.working_dir, merged.stop_signal) == ("app", "/w", "SIGINT")
    assert merged.labels == {"x": "1"} and merged.exposed_ports == {"80/tcp": {}}
    plain = merge_config(RunConfig(), container)
    assert plain.cmd == ["sh"] and plain.env == ["PATH=/bin", "A=1"]
    with_entry = merge_config(RunConfig(entrypoint=["/init"]), RunConfig(cmd=["sh"], entrypoint=["/old"]))
    assert with_entry.entrypoint == ["/init"] and with_entry.cmd is None  # a new entrypoint drops the cmd


def test_cp_arguments_split_as_docker() -> None:
    assert split_cp_arg("c:/etc/passwd") == ("c", "/etc/passwd")
    assert split_cp_arg("/abs/with:colon") == ("", "/abs/with:colon")
    assert split_cp_arg("./rel:colon") == ("", "./rel:colon")
    assert split_cp_arg("plain") == ("", "plain")
    assert split_cp_arg("-") == ("", "-")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(argv, Context(out=out, err=err))
    return code, out.getvalue(), err.getvalue()


def test_grammar_of_the_extra_verbs() -> None:
    case = golden.expected("unknown-subcommand")
    assert _run(["container", "nosuchcmd"]) == (case["exit_code"], case["stdout"], case["stderr"])
    assert parse("commit", ["c"]).pause is True
    assert parse("commit", ["--pause=false", "c", "img"]).pause is False
    assert parse("commit", ["-p", "c", "img"]).args == ["c", "img"]
    assert parse("commit", ["-c", "CMD x", "-c", "ENV A=1", "c"]).changes == ["CMD x", "ENV A=1"]
    assert parse("top", ["c", "-o", "pid,comm"]).args == ["c", "-o", "pid,comm"]  # ps's options, not ours
    assert parse("update", ["-m", "64m", "c"]).memory == 64 << 20
    code, _, err = _run(["update", "-m", "12q", "c"])
    assert code == 125 and 'invalid argument "12q" for "-m, --memory" flag' in err
    code, _, err = _run(["cp", "onlyone"])
    assert code == 1 and err.startswith('"dockernb cp" requires exactly 2 arguments.')
    code, _, err = _run(["cp", "a", "b"])
    assert (code, err) == (1, "must specify at least one container source\n")
    code, _, err = _run(["cp", "c1:/a", "c2:/b"])
    assert (code, err) == (1, "copying between containers is not supported\n")
    code, _, err = _run(["update", "c"])
    assert (code, err) == (1, "you must provide one or more flags when using this command\n")
    code, _, err = _run(["events", "--since", "bad"])
    assert (code, err) == (1, 'invalid value for "since": failed to parse value as time or duration: "bad"\n')
    code, _, err = _run(["events", "--format", "{{.Nope}}"])
    assert code == 64 and err.startswith("Error parsing format: ")
    code, out, _ = _run(["container", "prune", "--help"])
    assert code == 0 and "Remove all stopped containers" in out
