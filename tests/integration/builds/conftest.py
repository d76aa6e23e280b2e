"""Fixtures for the build tests: the CLI on a test's own root, build contexts, and what a build may not leave.

``cli`` runs ``python -m dockernb ...`` (the containers tests' runner) with the test's root, which
sees the session's shared busybox and debian images; at teardown it checks, beyond what the
container fixture checks, that no build step left anything behind: a ``build-*`` snapshot, a
scratch directory, a mount, a cgroup or a process of a RUN container, a network sandbox.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from dockernb.testing.wheelhouse import WheelIndex, ensure
from tests.integration.containers.conftest import Cli, clean_root, cli_env, live_processes

#: what the seed's FastAPI lab installs in its RUN (the wheelhouse holds them and all they need)
LAB_REQUIREMENTS = ("fastapi[all]",)


@pytest.fixture(scope="session")
def wheelhouse() -> Iterator[WheelIndex]:
    """The FastAPI lab's wheels, downloaded once into the user's cache (later runs work offline), served
    as a pip index on the host for the whole session; see :mod:`dockernb.testing.wheelhouse`."""
    wheels = ensure(LAB_REQUIREMENTS)
    with WheelIndex(wheels) as index:
        yield index


def host_from_containers(cli: Cli, root: Path) -> str:
    """The host's address as a RUN container sees it: the default bridge's gateway as root; rootless,
    the uplink's address of the host's loopback (the CLI's env must have DOCKERNB_ROOTLESS_HOST_LOOPBACK=1
    before the root's hub starts; a container run starts it)."""
    if os.geteuid() == 0:
        bridge = json.loads(cli.ok("network", "inspect", "bridge"))[0]
        return str(bridge["IPAM"]["Config"][0]["Gateway"])
    assert cli.env.get("DOCKERNB_ROOTLESS_HOST_LOOPBACK") == "1"
    cli.ok("run", "--rm", "busybox", "true")
    address = str(json.loads((root / "networks" / "hub.json").read_text()).get("host_loopback", ""))
    assert address, "the rootless hub maps no address to the host's loopback"
    return address


def build_leftovers(root: Path, step_ids: Iterable[str] = ()) -> list[str]:
    """What the build steps of ``root`` left: snapshots, scratch directories, sandboxes, mounts, and for
    the RUN containers ``step_ids`` (short ids, as printed) their processes and cgroups."""
    found: list[str] = []
    for meta in glob.glob(str(root / "snapshots" / "*" / "metadata.json")):
        snaps = json.loads(Path(meta).read_text())["snapshots"]
        found += [f"snapshot {key}" for key in snaps if key.startswith(("build-", "extract-"))]
    found += [f"scratch {p}" for p in glob.glob(str(root / "tmp" / "build-*"))]
    found += [f"sandbox {p}" for p in glob.glob(str(root / "networks" / "sandboxes" / "*"))]
    found += [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if str(root) in line]  # fmt: skip
    for sid in sorted(step_ids):
        found += live_processes(f"dockernb-(init|exec) {sid}")
        found += [f"cgroup {p}" for p in glob.glob(f"/sys/fs/cgroup/*/**/dockernb/{sid}*", recursive=True)]
    return found


def write_context(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o644)
    return path


class BuildCli(Cli):
    """The CLI, plus builds run from a context directory (``cwd``) as docker's transcripts were; the
    intermediate containers' ids it prints are kept (``steps``) for the leak check."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        super().__init__(env, root)
        self.steps: set[str] = set()

    def in_dir(self, cwd: Path, *args: str, timeout: float = 600, input: bytes | None = None,
               env: dict[str, str] | None = None) -> tuple[int, str, str]:
        import subprocess

        stdin = None if input is not None else subprocess.DEVNULL
        p = subprocess.run(self.argv(*args), env={**self.env, **(env or {})}, cwd=cwd, capture_output=True,
                           timeout=timeout, input=input, stdin=stdin)  # fmt: skip
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        self.steps |= set(re.findall(r"Running in ([0-9a-f]{12})", out + err))
        return p.returncode, out, err


@pytest.fixture
def engine_env(images_env: dict[str, str], root_dir: Path) -> Iterator[dict[str, str]]:
    """For engines made in the test process: at teardown, the root's networks go (its bridge, nftables
    table, rootless hub) and nothing a build made may be left."""
    try:
        yield images_env
    finally:
        left = build_leftovers(root_dir)
        left += clean_root(cli_env(images_env), root_dir)
        assert not left, f"left behind: {left}"


@pytest.fixture
def bcli(images_env: dict[str, str], root_dir: Path) -> Iterator[BuildCli]:
    env = cli_env(images_env)
    c = BuildCli(env, root_dir)
    try:
        yield c
    finally:
        left = build_leftovers(root_dir, c.steps)
        left += clean_root(env, root_dir)
        assert not left, f"left behind: {left}"
