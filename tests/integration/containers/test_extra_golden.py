"""The extra container verbs against ../shared/golden (groups lifecycle, commit, system), root and rootless.

Scenes are built like the recordings' (containers named as there). Rootless, no cgroup freezer is
writable on this machine (cgroup v1, no delegation), so ``pause`` must say so instead of the
recorded success; every other case is the recording's.
"""

from __future__ import annotations

import os
import re

import pytest

from tests import capabilities, golden
from tests.integration.containers.conftest import ROOTLESS, Cli
from tests.integration.containers.test_golden import check

pytestmark = pytest.mark.rootless


def _regex(cli: Cli, case_id: str, argv: list[str] | None = None) -> None:
    want = golden.expected(case_id)
    r = cli(*(argv or want["argv"][1:]))
    assert r.code == want["exit_code"], f"{case_id}: {r}"
    assert re.fullmatch(golden.rename(want["stdout_regex"]), r.out), f"{case_id}: {r}"
    assert r.err == want["stderr"], f"{case_id}: {r}"


def _can_freeze() -> bool:
    return not ROOTLESS or capabilities.available("cgroup-delegation")


def test_golden_pause_top_stats_prune(cli: Cli) -> None:
    cli.ok("run", "-d", "--name", "lc-a", "busybox", "sleep", "1000")
    cli.ok("run", "--name", "lc-stopped", "busybox", "true")
    _regex(cli, "top")
    check(cli, "top-stopped", argv=["top", "lc-stopped"])
    _regex(cli, "stats-no-stream")
    check(cli, "stats-no-stream-missing")
    check(cli, "stats-no-stream-format")
    check(cli, "pause-stopped")
    if _can_freeze():
        check(cli, "pause")
        _regex(cli, "ps-paused")
        _regex(cli, "ps-paused-status")
        check(cli, "inspect-paused")
        check(cli, "pause-paused")
        check(cli, "exec-paused")
        _regex(cli, "top")  # a paused container's processes are still listed
        check(cli, "unpause")
        check(cli, "unpause-not-paused")
    else:
        r = cli("pause", "lc-a")
        cid = cli.ok("inspect", "-f", "{{.Id}}", "lc-a").strip()
        assert r.code == 1 and r.err.startswith(f"Error response from daemon: Cannot pause container {cid}: ")
        assert "freezer" in r.err and "delegat" in r.err, r.err  # it says why
        assert cli.ok("inspect", "-f", "{{.State.Status}}", "lc-a") == "running\n"
        check(cli, "unpause-not-paused")
    cli.ok("kill", "lc-a")
    # docker's recording pruned two stopped containers; the scene here has two as well
    _regex(cli, "container-prune")
    assert cli.ok("ps", "-aq") == ""


def test_golden_commit_group(cli: Cli) -> None:
    cli.ok("run", "--name", "cm-x", "busybox", "sh", "-c",
           "echo hi > /tmp/new.txt; rm /etc/group; echo extra >> /etc/passwd; mkdir -p /newdir/sub")
    cli.ok("run", "--name", "cm-clean", "busybox", "true")
    want = golden.expected("diff")
    r = cli("diff", "cm-x")
    # docker's order is its map's (random between subtrees): the same lines, a directory before its entries
    assert r.code == 0 and sorted(r.out.splitlines()) == sorted(want["stdout"].splitlines()), r
    lines = [line.split(" ", 1)[1] for line in r.out.splitlines()]
    assert all(lines.index(os.path.dirname(p)) < lines.index(p) for p in lines if os.path.dirname(p) in lines)
    check(cli, "diff-no-changes")
    check(cli, "diff-missing")
    check(cli, "commit-missing")
    _regex(cli, "commit")
    _regex(cli, "commit-with-change")
    check(cli, "run-committed")
    want = golden.expected("history-committed")
    r = cli("history", "golden-newimg:2")
    # the first row is the commit; the rows below are the kit's busybox, not docker's
    row = golden.rename(want["stdout_regex"]).split("\\n")[1]
    assert r.code == 0 and re.fullmatch(row, r.out.split("\n")[1]), r
    _regex(cli, "rmi-committed")


def test_golden_system_group(cli: Cli) -> None:
    check(cli, "unknown-command")
    check(cli, "unknown-subcommand")
    r = cli("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert r.code == 0 and re.fullmatch(r"\S+ 1\.41 1\.41\n", r.out), r
    r = cli("info", "--format", "{{.ServerVersion}} {{.Driver}} {{.CgroupDriver}} {{.CgroupVersion}}")
    want = golden.expected("info-format")["stdout"].split()
    got = r.out.split()
    assert r.code == 0 and len(got) == 4 and got[0], r
    assert got[1] in ("overlay2", "fuse-overlayfs", "vfs") and got[2:] == want[2:], r  # this VM: cgroupfs, v1
    r = cli("--version")
    assert r.code == 0 and r.out.startswith("dockernb version "), r
