"""The notebook's widgets and models over a fake container role of the seam (no root, no engine)."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from dockernb.client import DockerClient
from dockernb.client.seam import EngineAPI
from dockernb.notebook.expand import expand
from dockernb.spec.events import (
    BuildCacheHit,
    BuildDone,
    BuildOutput,
    BuildStep,
    BuildStepDone,
    BuildTagged,
    ProgressMessage,
    Stream,
)
from dockernb.spec.logline import LogLine
from dockernb.spec.status import ContainerStatus
from tests.unit.notebook.fakes import FakeEngine, FakeStream

pytestmark = pytest.mark.rootless


def _client() -> tuple[DockerClient, FakeEngine]:
    engine = FakeEngine()
    return DockerClient(cast(EngineAPI, engine)), engine


def _wait(predicate: Any, timeout: float = 5.0) -> None:  # noqa: ANN401
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_expand_leaves_go_templates_and_unknown_names() -> None:
    ns = {"name": "web", "port": 8080, "cfg": type("C", (), {"image": "nginx"})()}
    assert expand("run --name $name -p ${port}:80 ${cfg.image}", ns) == "run --name web -p 8080:80 nginx"
    assert expand("ps --format '{{.Names}} {{json .}}'", ns) == "ps --format '{{.Names}} {{json .}}'"
    assert expand("run -e HOME=$HOME -e X=$$name", ns) == "run -e HOME=$HOME -e X=$name"


def test_ps_table_columns_actions_and_live_state() -> None:
    from dockernb.notebook.widgets.tables import PS_HEADERS, container_table

    client, engine = _client()
    web = engine.containers.add("web")
    old = engine.containers.add("old", ContainerStatus.EXITED)
    table = container_table(client, lambda: client.containers.list(all=True), live=0)
    assert table.headers == PS_HEADERS
    assert [r.cells[-1] for r in table.rows] == ["old", "web"]
    assert table.rows[1].cells[0] == web[:12] and table.rows[1].cells[4].startswith("Up ")
    assert "sleep 1000" in table.rows[1].cells[2]
    # a stopped container offers start, not stop; a running one the reverse
    assert table.button(old, "start").disabled is False and table.button(old, "stop").disabled is True
    assert table.button(web, "stop").disabled is False and table.button(web, "start").disabled is True
    table.button(web, "stop").click()
    assert ("stop", web) in engine.containers.calls
    assert table.rows[1].cells[4].startswith("Exited (137)")
    assert table.button(web, "start").disabled is False  # the row's buttons follow the new state
    table.button(old, "remove").click()
    assert [r.cells[-1] for r in table.rows] == ["web"]
    # the text twin is a docker-looking table
    assert table.text().splitlines()[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                                    "PORTS", "NAMES"]  # fmt: skip
    assert "<td>web</td>" in table.html()


def test_ps_table_error_goes_to_status_line() -> None:
    from dockernb.notebook.widgets.tables import container_table

    client, engine = _client()
    cid = engine.containers.add("gone", ContainerStatus.EXITED)
    table = container_table(client, lambda: client.containers.list(all=True), live=0)
    del engine.containers.items[cid]  # removed behind the table's back
    table.button(cid, "start").click()
    assert "No such container" in table.status.value


def test_ps_table_live_refresh() -> None:
    from dockernb.notebook.widgets.tables import container_table

    client, engine = _client()
    cid = engine.containers.add("web")
    table = container_table(client, lambda: client.containers.list(all=True), live=0.05)
    engine.containers.stop(cid)
    _wait(lambda: table.rows[0].cells[4].startswith("Exited"))
    assert table._cells[0][4].value.count("Exited") == 1
    table.close()


def test_logs_viewer_follows_in_background_and_keeps_stderr_apart() -> None:
    from dockernb.notebook.widgets.logs import LogViewer

    lines = [LogLine("stdout", b"one\n", ""), LogLine("stderr", b"oops\n", ""), LogLine("stdout", b"two\n", "")]
    viewer = LogViewer("logs web", lambda: iter(lines))
    viewer.follow()
    assert viewer.done.wait(5)
    assert viewer.stdout == ["one\n", "two\n"] and viewer.stderr == ["oops\n"]
    names = [o["name"] for o in viewer.output.outputs]
    assert names == ["stdout", "stderr", "stdout"]
    assert viewer.stop_button.disabled and viewer.stop_button.description == "Ended"


def test_pull_progress_bars_per_layer_and_total() -> None:
    from dockernb.notebook.widgets.progress import PullProgress

    view = PullProgress("pull busybox:latest")
    for m in [
        ProgressMessage(status="Pulling from library/busybox", id="latest"),
        ProgressMessage(status="Pulling fs layer", id="aaa"),
        ProgressMessage(status="Pulling fs layer", id="bbb"),
        ProgressMessage(status="Downloading", id="aaa", current=50, total=100),
        ProgressMessage(status="Already exists", id="bbb"),
    ]:
        view.feed(m)
    a = view.layers["aaa"]
    assert (a.bar.value, a.bar.max, a.status.value) == (50, 100, "Downloading")
    assert view.layers["bbb"].done and view.total_label.value.startswith("1/2 layers")
    for m in [
        ProgressMessage(status="Download complete", id="aaa"),
        ProgressMessage(status="Extracting", id="aaa", current=100, total=100),
        ProgressMessage(status="Pull complete", id="aaa"),
        ProgressMessage(status="Digest: sha256:abc"),
    ]:
        view.feed(m)
    view.finish(True, "busybox:latest")
    assert a.bar.bar_style == "success" and view.total.value == view.total.max
    assert view.text().splitlines() == [
        "latest: Pulling from library/busybox", "aaa: Pulling fs layer", "bbb: Pulling fs layer",
        "bbb: Already exists", "aaa: Download complete", "aaa: Pull complete", "Digest: sha256:abc", "busybox:latest",
    ]  # fmt: skip


def test_build_progress_steps_cache_and_result() -> None:
    from dockernb.notebook.widgets.build import BuildProgress

    view = BuildProgress("build web")
    for e in [
        BuildStep(index=1, total=2, text="FROM busybox"),
        BuildStepDone(image_id="sha256:" + "1" * 64),
        BuildStep(index=2, total=2, text="RUN echo hi"),
        BuildCacheHit(),
        BuildOutput(text="warn\n", stream=Stream.STDERR),
        BuildStepDone(image_id="sha256:" + "2" * 64),
        BuildDone(image_id="sha256:" + "2" * 64),
        BuildTagged(name="web:latest"),
    ]:
        view.feed(e)
    assert view.steps.get_title(1) == "Step 2/2 : RUN echo hi  (cached)"
    assert view.cached == [False, True]
    assert [o["name"] for o in view.logs[1].outputs][:1] == ["stderr"]
    assert (view.bar.value, view.bar.max, view.bar.bar_style) == (2, 2, "success")
    assert "Successfully built 222222222222" in view.result.value and "web:latest" in view.result.value
    assert "Step 2/2 : RUN echo hi\n ---> Using cache\n" in view.text()


def test_terminal_typed_lines_detach_and_exit() -> None:
    from dockernb.notebook.widgets.terminal import Terminal

    stream = FakeStream()
    term = Terminal(stream, "box")
    term.start()
    term.input.value = "echo hi"  # what the front end sends when Enter is pressed
    assert term.input.value == ""
    _wait(lambda: "ECHO HI" in term.text)
    assert bytes(stream.written) == b"echo hi\r"
    term.detach_button.click()
    assert term.detached and term.closed.is_set() and stream.closed.is_set()
    assert "keeps running" in term.status.value and term.input.disabled
    # a new attach, then the process exits: its code is shown
    stream2 = FakeStream()
    term2 = Terminal(stream2, "box")
    term2.start()
    term2.send("exit 3")
    assert term2.wait(5)
    assert term2.exit_code == 3 and "exited with code 3" in term2.status.value


def test_without_a_terminal_end_of_input_is_sent() -> None:
    from dockernb.notebook.widgets.terminal import run_without_terminal

    stream = FakeStream()
    text, code = run_without_terminal(stream, timeout=5)
    assert (text, code) == ("bye\n", 0) and stream.stdin_closed and bytes(stream.written) == b"\x04"


def test_interrupt_escalates_until_the_container_stops() -> None:
    from dockernb.notebook.session import stop_escalating

    client, engine = _client()
    cid = engine.containers.add("stubborn")
    engine.containers.stop_on = {"SIGKILL"}  # ignores SIGINT and SIGTERM, like sh as PID 1
    how = stop_escalating(client, cid, steps=(("SIGINT", 0.05), ("SIGTERM", 0.05), ("SIGKILL", 1)))
    assert how == "SIGKILL"
    assert [c[2] for c in engine.containers.calls if c[0] == "kill"] == ["SIGINT", "SIGTERM", "SIGKILL"]
    polite = engine.containers.add("polite")
    engine.containers.stop_on = {"SIGINT"}
    assert stop_escalating(client, polite, steps=(("SIGINT", 1), ("SIGTERM", 1), ("SIGKILL", 1))) == "SIGINT"


def test_container_model_delegates() -> None:
    client, engine = _client()
    cid = engine.containers.add("web")
    engine.containers.logs_of[cid] = [LogLine("stdout", b"a\n", ""), LogLine("stderr", b"b\n", "")]
    c = client.containers.get("web")
    assert (c.id, c.name, c.status, c.image) == (cid, "web", "running", "busybox")
    assert c.logs() == b"a\nb\n" and c.logs(stderr=False) == b"a\n"
    assert c.exec("echo hi") == (0, b"echo hi\n") and c.exec(["id", "-u"]).output == b"id -u\n"
    assert ("exec", cid, "echo", "hi") in engine.containers.calls
    c.stop()
    assert c.status == "exited" and c.exit_code == 137
    assert repr(c) == f"<Container: {cid[:12]} web>"
