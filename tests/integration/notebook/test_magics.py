"""%docker / %%docker / %%dockerfile in an IPython InteractiveShell, against the real engine and the kit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from dockernb.client import Image
from tests import golden
from tests.integration.notebook.conftest import run

pytestmark = [pytest.mark.rootless, pytest.mark.kit]


def test_images_table_widget_and_value(ip: InteractiveShell) -> None:
    value, cap = run(ip, "images")
    assert ip.user_ns["_exit_code"] == 0
    assert [type(i) for i in value] == [Image, Image]
    assert sorted(t for i in value for t in i.tags) == ["busybox:latest", "debian:bookworm"]
    (out,) = cap.outputs
    assert "application/vnd.jupyter.widget-view+json" in out.data
    text = out.data["text/plain"]
    assert text.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert re.search(r"^busybox\s+latest\s+[0-9a-f]{12}\s", text, re.M)
    assert "<td>debian</td>" in out.data["text/html"]


def test_go_templates_survive_and_dollar_names_expand(ip: InteractiveShell) -> None:
    value, cap = run(ip, 'images --format "{{.Repository}}:{{.Tag}}"')
    assert sorted(cap.stdout.splitlines()) == ["busybox:latest", "debian:bookworm"] and not cap.outputs
    ip.user_ns["ref"] = "busybox"
    ip.user_ns["fmt"] = "{{.Id}} {{.Config.Cmd}}"
    _, cap = run(ip, 'image inspect -f "$fmt" $ref')
    want = golden.expected("image-inspect-format")["stdout"].replace("<IMGID>", "[0-9a-f]{64}")
    assert re.fullmatch(re.escape(want).replace(re.escape("[0-9a-f]{64}"), "[0-9a-f]{64}"), cap.stdout)
    _, cap = run(ip, 'image inspect -f "{{.Id}} {{.Config.Cmd}}" ${ref}')
    assert cap.stdout.endswith(" [sh]\n")


def test_inspect_tree_and_value(ip: InteractiveShell) -> None:
    value, cap = run(ip, "image inspect busybox")
    assert isinstance(value, list) and value[0]["Config"]["Cmd"] == ["sh"]
    (out,) = cap.outputs
    assert out.data["text/plain"].startswith("[\n    {\n        \"Id\": \"sha256:")
    assert "<details open><summary>" in out.data["text/html"] and "<b>Config</b>" in out.data["text/html"]


def test_errors_are_one_line_usage_errors_raise(ip: InteractiveShell) -> None:
    value, cap = run(ip, "rmi nosuch")
    assert value is None and ip.user_ns["_exit_code"] == 1
    assert cap.stderr == "Error: No such image: nosuch\n"
    with pytest.raises(UsageError, match=r"^unknown flag: --bogus\nSee 'dockernb images --help'.$"):
        ip.run_line_magic("docker", "images --bogus")
    assert ip.user_ns["_exit_code"] == 125
    with pytest.raises(UsageError, match='requires exactly 1 argument'):
        ip.run_line_magic("docker", "history")
    value, cap = run(ip, "image inspect nosuch")
    assert value is None and cap.stderr == "Error: No such image: nosuch\n" and cap.stdout == "[]\n"


def test_pull_progress_from_the_kit(ip: InteractiveShell) -> None:
    value, cap = run(ip, "pull hello-world")
    assert ip.user_ns["_exit_code"] == 0, cap.stderr
    assert isinstance(value, Image) and "hello-world:latest" in value.tags
    out = cap.outputs[-1]  # the display updated at the end: the text twin has the whole pull
    lines = out.data["text/plain"].splitlines()
    assert lines[:2] == ["Using default tag: latest", "latest: Pulling from library/hello-world"]
    assert lines[-1] == "hello-world:latest" and any(x.startswith("Status: Downloaded newer image") for x in lines)
    assert any(x.endswith(": Pull complete") for x in lines)


def test_cell_magic_runs_lines_and_stops_at_a_failure(ip: InteractiveShell) -> None:
    cell = ("# tag and list\ndocker tag busybox mybox:1\n\nimages --format {{.Repository}}:{{.Tag}} \\\n  mybox\n"
            "rmi nosuch\nimages\n")
    with capture_output() as cap:
        value = ip.run_cell_magic("docker", "", cell)
    assert cap.stdout == "mybox:1\n"
    assert cap.stderr == "Error: No such image: nosuch\n" and value is None
    assert not cap.outputs  # the last line (images) did not run


def test_dockerfile_magic_errors(ip: InteractiveShell, tmp_path: Path) -> None:
    with capture_output() as cap:
        value = ip.run_cell_magic("dockerfile", f"-t bad {tmp_path}", "FROM busybox\nFOO bar\n")
    assert value is None and ip.user_ns["_exit_code"] == 1
    assert "dockerfile parse error line 2: unknown instruction: FOO" in cap.stderr
    with pytest.raises(UsageError, match="-f/--file"):
        ip.run_cell_magic("dockerfile", f"-f x {tmp_path}", "FROM busybox\n")
    with pytest.raises(UsageError, match="unknown flag: --nope"):
        ip.run_cell_magic("dockerfile", "--nope", "FROM busybox\n")


def test_dockerfile_context_defaults_to_the_notebooks_directory(ip: InteractiveShell, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "greeting.txt").write_text("hello from the context\n")
    monkeypatch.chdir(tmp_path)
    with capture_output() as cap:
        value = ip.run_cell_magic("dockerfile", "-t ctxdefault:1", "FROM busybox\nCOPY greeting.txt /\n")
    assert ip.user_ns["_exit_code"] == 0, cap.stderr
    assert isinstance(value, Image) and "ctxdefault:1" in value.tags
    _, cap = run(ip, "run --rm ctxdefault:1 cat /greeting.txt")
    assert "hello from the context" in cap.stdout
    run(ip, "rmi ctxdefault:1")


def test_a_trailing_shell_comment_is_not_an_argument(ip: InteractiveShell) -> None:
    _, cap = run(ip, "images --format '{{.Repository}}#' busybox # only busybox, '#' in quotes kept")
    assert ip.user_ns["_exit_code"] == 0, cap.stderr
    assert cap.stdout == "busybox#\n"


def test_ps_value_is_not_shown_twice(ip: InteractiveShell) -> None:
    value, cap = run(ip, "ps -a")
    assert len(cap.outputs) == 1 and isinstance(value, list)  # the table
    # as the cell's last line, the value (the list of containers) renders nothing more under the table
    assert ip.display_formatter.format(value)[0] == {}
