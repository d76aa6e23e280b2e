"""Fixtures for the container tests: the CLI on a test's own root, and a check that nothing is left.

``cli`` runs ``python -m dockernb ...`` with the test's root (which sees the session's shared
busybox and debian images) and, at teardown, removes every container of that root through the
engine and asserts what docker promises after ``rm``: no monitor or container process, no mount
mentioning the root, no cgroup of its containers, no network leftovers.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOTLESS = os.geteuid() != 0


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out!r}\nstderr: {self.err!r}"


class Cli:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.root = root

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dockernb", *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120) -> Result:
        p = subprocess.run(self.argv(*args), env=self.env, input=None if input is None else input.encode(),
                           capture_output=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        # bytes decoded as they are: a tty's "\r\n" stays visible
        return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))

    def ok(self, *args: str, **kw: object) -> str:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.code == 0, f"dockernb {' '.join(args)}: {r}"
        return r.out


def cli_env(images_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKERNB_") or k == "DOCKERNB_KIT_DIR"}
    env.update(images_env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def live_processes(pattern: str) -> list[str]:
    """Live (not zombie) processes whose command line matches ``pattern``."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        pid = stat.split("/")[2]
        try:
            state = Path(stat).read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state not in ("Z", "X") and re.search(pattern, cmd):
            out.append(f"{pid} {cmd.strip()}")
    return out


def leftovers(root: Path, ids: list[str]) -> list[str]:
    """What a removed container must not leave: monitors, mounts, cgroups (by id), files."""
    found = []
    for cid in ids:
        found += live_processes(f"dockernb-(monitor|init|exec) {cid[:12]}")
        found += [f"cgroup {p}" for p in glob.glob(f"/sys/fs/cgroup/*/**/dockernb/{cid}", recursive=True)]
        if (root / "containers" / cid).exists():
            found.append(f"container dir {cid[:12]}")
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines() if str(root) in line]
    return found


def engine_for(env: dict[str, str]):  # noqa: ANN201 - an Engine
    from dockernb.engine import Engine

    return Engine.from_env(env)


def clean_root(env: dict[str, str], root: Path) -> list[str]:
    """Remove every container of the root, then the root's networks; return what was left behind."""
    eng = engine_for(env)
    ids = eng.containers.store.ids()
    for cid in ids:
        try:
            eng.containers.remove(cid, force=True, volumes=True)
        except Exception as err:  # noqa: BLE001 - reported below as a leftover
            print(f"cleanup: rm -f {cid[:12]}: {err}")
    deadline = time.monotonic() + 10
    left = leftovers(root, ids)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = leftovers(root, ids)
    if (root / "networks").exists():
        eng.containers.networks.destroy()
    eng.close()
    return left


@pytest.fixture
def cli(images_env: dict[str, str], root_dir: Path) -> Iterator[Cli]:
    env = cli_env(images_env)
    c = Cli(env, root_dir)
    try:
        yield c
    finally:
        left = clean_root(env, root_dir)
        assert not left, f"left behind: {left}"
