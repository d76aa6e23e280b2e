"""Fixtures for the Engine API suites: `dockernb serve` on a test's own root (seeing the session's
shared images), the real docker CLI pointed at it, and a check that nothing is left behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockernb.testing.apiserver import ServedApi
from tests.integration.containers.conftest import Result, clean_root, cli_env

#: Debian's docker.io 20.10 client (API 1.41), the client the golden transcripts come from
DOCKER = "/usr/bin/docker"


class DockerCli:
    """The real docker CLI with ``DOCKER_HOST`` on the served socket (same interface as containers' Cli)."""

    def __init__(self, api: ServedApi, config_dir: Path) -> None:
        assert os.access(DOCKER, os.X_OK), f"{DOCKER} is missing (Debian's docker.io)"
        self.api = api
        self.env = {**os.environ, "DOCKER_HOST": api.docker_host, "DOCKER_CONFIG": str(config_dir)}
        self.env.pop("DOCKER_CONTEXT", None)

    def argv(self, *args: str) -> list[str]:
        return [DOCKER, *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120) -> Result:
        p = subprocess.run(self.argv(*args), env=self.env, input=None if input is None else input.encode(),
                           capture_output=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))

    def ok(self, *args: str, **kw: object) -> str:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.code == 0, f"docker {' '.join(args)}: {r}\n--- server log ---\n{self.api.log()[-3000:]}"
        return r.out


@pytest.fixture
def served(images_env: dict[str, str], root_dir: Path) -> Iterator[ServedApi]:
    env = cli_env(images_env)
    with ServedApi(root=root_dir, env=env, tcp=True) as api:
        try:
            yield api
        finally:
            left = clean_root(env, root_dir)
            log = api.log()
        assert not left, f"left behind: {left}"
        assert "Traceback" not in log, log  # a 500 or a failed stream is logged with its traceback


@pytest.fixture
def docker_cli(served: ServedApi, tmp_path: Path) -> DockerCli:
    return DockerCli(served, tmp_path / "docker-config")
