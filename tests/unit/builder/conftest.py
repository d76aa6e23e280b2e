"""Helpers for build-flow tests: a FakeExecutor-backed builder and docker's rendering of it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.build.builder import Builder, BuildOptions
from dockernb.build.cache import BuildCache
from dockernb.build.context import context_from_dir
from dockernb.build.image import ImageDoc, RunConfig
from dockernb.errors import BuildError
from dockernb.present.output import BuildPrinter
from dockernb.spec.events import BuildEvent
from dockernb.testing.fake_executor import FakeExecutor


class Harness:
    """Build directories with one FakeExecutor and one cache, the way `dockernb build` prints."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.executor = FakeExecutor()
        self.executor.add_base("busybox", ImageDoc(config=RunConfig(cmd=["sh"])))
        self.cache = BuildCache(tmp / "cache")
        self.builder = Builder(self.executor, cache=self.cache, tmp_dir=tmp)
        self.events: list[BuildEvent] = []

    def write(self, files: dict[str, str], name: str = "ctx") -> Path:
        root = self.tmp / name
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            path.chmod(0o644)
        return root

    def build(
        self, root: Path, *, dockerfile: str | None = None, quiet: bool = False, **opts: object
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        printer = BuildPrinter(out, err, quiet=quiet)
        self.events = []
        with context_from_dir(root, dockerfile=dockerfile, cwd=root) as ctx:
            try:
                for event in self.builder.build(ctx, BuildOptions(**opts)):  # type: ignore[arg-type]
                    self.events.append(event)
                    printer.write(event)
            except BuildError as e:
                printer.fail(str(e))
                return e.exit_code, out.getvalue(), err.getvalue()
        printer.finish()
        return 0, out.getvalue(), err.getvalue()

    def image(self, name: str = "t") -> str:
        return self.executor.tags[f"docker.io/library/{name}:latest"]

    def doc(self, name: str = "t") -> ImageDoc:
        return self.executor.doc(self.image(name))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield Harness(tmp_path)
