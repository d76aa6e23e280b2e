"""`dockernb build` end to end through the CLI, with the engine's executor replaced by the fake."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from dockernb.config import Config
from dockernb.engine import Engine
from dockernb.present.args import parse
from dockernb.present.context import Context
from dockernb.present.dispatch import dispatch
from dockernb.testing.fake_executor import FakeExecutor
from tests import golden

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless


class CLI:
    def __init__(self, root: Path, executor: FakeExecutor | None) -> None:
        self.engine = Engine(Config(root=root))
        if executor is not None:
            self.engine.builds.executor = executor

    def __call__(self, argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        ctx = Context(prog="dockernb", out=out, err=err, stdin=io.BytesIO(stdin), _engine=self.engine)
        code = dispatch(argv, ctx)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def fake() -> FakeExecutor:
    ex = FakeExecutor()
    ex.add_base("busybox")
    return ex


@pytest.fixture
def cli(root_dir: Path, fake: FakeExecutor) -> CLI:
    return CLI(root_dir, fake)


def files(tmp: Path, case_id: str) -> Path:
    case = golden.expected(case_id)
    for name, content in case.get("files", {}).items():
        (tmp / name).write_text(content)
        (tmp / name).chmod(0o644)
    return tmp


def test_context_errors_like_golden(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    case = golden.expected("build-no-context")
    assert cli(case["argv"][1:]) == (case["exit_code"], case["stdout"], case["stderr"])
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    case = golden.expected("build-no-dockerfile")
    code, out, err = cli(case["argv"][1:])
    assert (code, out, err) == (case["exit_code"], "", case["stderr"].replace("/tmp/golden/build/empty", str(empty)))


def test_bad_tag_is_a_usage_error(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files(tmp_path, "build-bad-tag"))
    case = golden.expected("build-bad-tag")
    assert cli(case["argv"][1:]) == (case["exit_code"], case["stdout"], case["stderr"])


def test_parse_error_after_the_context_line(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files(tmp_path, "build-classic-unknown-instruction"))
    case = golden.expected("build-classic-unknown-instruction")
    assert cli(case["argv"][1:]) == (case["exit_code"], case["stdout"], case["stderr"])


def test_golden_build_through_the_cli(
    cli: CLI, fake: FakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files(tmp_path, "build-classic-ok"))
    for case_id in ("build-classic-ok", "build-classic-cached", "build-classic-q"):
        case = golden.expected(case_id)
        code, out, err = cli(case["argv"][1:])
        assert code == case["exit_code"] and err == case["stderr"]
        assert re.fullmatch(case["stdout_regex"], out), out
    assert "docker.io/library/golden-ok:latest" in fake.tags
    # the cache is on disk under the state root
    assert list((cli.engine.builds.layout.build_cache).iterdir())


def test_failed_run_exit_code_and_quiet(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files(tmp_path, "build-classic-run-fails"))
    case = golden.expected("build-classic-run-fails")
    code, out, err = cli(case["argv"][1:])
    assert (code, err) == (3, case["stderr"]) and re.fullmatch(case["stdout_regex"], out)
    code, out, err = cli(["build", "-q", "."])
    assert code == 3 and out == ""
    assert re.fullmatch(case["stdout_regex"] + re.escape(case["stderr"]), err)  # docker shows what -q held back


def test_iidfile(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files(tmp_path, "build-classic-ok"))
    iid = tmp_path / "iid"
    code, out, _ = cli(["build", "--iidfile", str(iid), "-t", "x", "."])
    assert code == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}", iid.read_text())
    assert f"Successfully built {iid.read_text()[7:19]}" in out
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 1\n")
    assert cli(["build", "--iidfile", str(iid), "."])[0] == 1
    assert not iid.exists()  # no stale id after a failed build


def test_context_on_stdin(cli: CLI, fake: FakeExecutor, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY f /f\n"), ("f", b"content")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    code, out, err = cli(["build", "-t", "fromtar", "-"], stdin=buf.getvalue())
    assert (code, err) == (0, ""), err
    (copy,) = fake.copies()
    assert copy.sources[0].name == "f"
    assert not copy.sources[0].path.exists()  # type: ignore[union-attr]  # the unpacked context is gone
    code, out, err = cli(["build", "-"], stdin=b"FROM busybox\nENV X=1\n")
    assert code == 0 and out.startswith("Sending build context to Docker daemon  2.048kB\r\r\nStep 1/2 : FROM busybox")


def test_dockerfile_on_stdin(cli: CLI, fake: FakeExecutor, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = cli(["build", "-f", "-", str(tmp_path)], stdin=b"FROM busybox\nCOPY f /\n")
    assert (code, err) == (0, "")
    assert cli(["build", "-f", "-", "-"]) == (
        1,
        "",
        "invalid argument: can't use stdin for both build context and dockerfile\n",
    )


def test_the_engines_executor_is_the_default(root_dir: Path) -> None:
    from dockernb.engine.build_executor import EngineExecutor
    from dockernb.engine.builds import BuildService

    engine = Engine(Config(root=root_dir))
    executor = engine.builds.executor
    assert isinstance(executor, EngineExecutor) and executor.images is engine.images  # one image service
    alone = BuildService(Config(root=root_dir)).executor  # a service made on its own wires its own
    assert isinstance(alone, EngineExecutor) and alone.images is not engine.images


def test_grammar() -> None:
    ns = parse(
        "build",
        [
            "-t",
            "a",
            "--tag",
            "b:1",
            "-f",
            "D",
            "--build-arg",
            "A=1",
            "--build-arg",
            "HOME",
            "--label",
            "l=v",
            "--no-cache",
            "--pull",
            "--target",
            "t",
            "-q",
            "--iidfile",
            "i",
            "--network",
            "none",
            "ctx",
        ],
    )
    assert ns.tags == ["a", "b:1"] and ns.file == "D" and ns.args == ["ctx"]
    assert ns.build_args[0] == ("A", "1") and ns.build_args[1][0] == "HOME" and ns.labels == [("l", "v")]
    assert ns.no_cache and ns.pull and ns.quiet and (ns.target, ns.iidfile, ns.network) == ("t", "i", "none")
    assert parse("build", ["--build-arg", "NOT_IN_ENV_X", "."]).build_args == [("NOT_IN_ENV_X", None)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["build", "--label", "nolabel", "."],
            'invalid argument "nolabel" for "--label" flag: bad attribute format: nolabel',
        ),
        (
            ["build", "--build-arg", "=x", "."],
            'invalid argument "=x" for "--build-arg" flag: invalid environment variable: =x',
        ),
        (
            ["image", "build", "-t", "a::b", "."],
            'invalid argument "a::b" for "-t, --tag" flag: invalid reference format',
        ),
        (["build", "--bogus", "."], "unknown flag: --bogus"),
    ],
)
def test_flag_errors(cli: CLI, argv: list[str], message: str) -> None:
    code, out, err = cli(argv)
    verb = "image build" if argv[0] == "image" else "build"
    assert (code, out, err) == (125, "", f"{message}\nSee 'dockernb {verb} --help'.\n")


def test_engine_builds_a_dockerfile_given_as_text(root_dir: Path, fake: FakeExecutor, tmp_path: Path) -> None:
    """What %%dockerfile does: the cell's text plus a context directory (or none)."""
    engine = CLI(root_dir, fake).engine
    (tmp_path / "app.py").write_text("print('hi')\n")
    events = list(engine.builds.build(tmp_path, dockerfile_text="FROM busybox\nCOPY app.py /\n", tags=["cell"]))
    assert type(events[-1]).__name__ == "BuildTagged" and fake.copies()[0].sources[0].name == "app.py"
    events = list(engine.builds.build(None, dockerfile_text="FROM busybox\nENV X=1\n"))
    assert type(events[-1]).__name__ == "BuildDone"


def test_closing_a_build_early_leaves_no_temporary_files(root_dir: Path, fake: FakeExecutor) -> None:
    engine = CLI(root_dir, fake).engine
    tmp = engine.builds.layout.tmp
    events = engine.builds.build("-", stdin=io.BytesIO(b"FROM busybox\nRUN x\n"))
    next(events)  # the context is unpacked and the build has begun
    assert any(tmp.iterdir())
    events.close()  # type: ignore[attr-defined]
    assert not any(tmp.iterdir())
