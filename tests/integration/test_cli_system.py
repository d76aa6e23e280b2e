"""`dockernb version` and `dockernb info` as a user runs them (root and rootless)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import capabilities


def dockernb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockernb", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.rootless
def test_version_format_like_docker() -> None:
    r = dockernb("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert (r.returncode, r.stdout, r.stderr) == (0, "1.41 1.41\n", "")
    r = dockernb("version")
    assert r.returncode == 0 and "Server:" in r.stdout and "API version:      1.41" in r.stdout


@pytest.mark.rootless
def test_info_reports_root_driver_and_probes(tmp_path: object) -> None:
    r = dockernb("info", env={"DOCKERNB_ROOT": "/var/tmp/dockernb-info-probe"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert " Docker Root Dir: /var/tmp/dockernb-info-probe\n" in out
    assert f" Rootless: {'false' if os.geteuid() == 0 else 'true'}\n" in out
    for name in ("user namespaces", "overlay in user namespaces", "cgroups", "slirp4netns", "seccomp"):
        assert f"  {name}: " in out
    assert "    probe: " in out
    # this machine: user namespaces and overlay inside them work (kernel 6.18); the driver follows
    assert "  user namespaces: yes" in out
    assert " Storage Driver: overlay2\n" in out


@pytest.mark.rootless
def test_info_tells_the_truth_about_missing_capabilities() -> None:
    """For each capability on the written missing-list, `info` must say what the probe says."""
    r = dockernb("info", "--format", "{{json .Features}}")
    assert r.returncode == 0, r.stderr
    import json

    features = json.loads(r.stdout)
    assert features["/proc/kcore"]["Available"] is capabilities.available("proc-kcore")
    assert features["/proc/sysrq-trigger"]["Available"] is capabilities.available("proc-sysrq-trigger")
    cg = features["cgroups"]["Detail"]
    if not capabilities.available("cgroup-v2-controllers"):
        assert "v2 controllers: " in cg and "memory" not in cg.split("v2 controllers: ")[1].split(";")[0]
    if os.geteuid() != 0 and not capabilities.available("cgroup-delegation"):
        assert "not writable by this user" in cg


@pytest.mark.rootless
def test_info_format_error_is_gos_wording() -> None:
    r = dockernb("info", "--format", "{{.Nope}}")
    assert r.returncode == 1
    assert r.stderr == 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type types.Info\n'


@pytest.mark.rootless
def test_bad_daemon_json_is_one_clear_line(tmp_path: object) -> None:
    import pathlib

    bad = pathlib.Path(str(tmp_path)) / "daemon.json"
    bad.write_text("{oops")
    r = dockernb("info", env={"DOCKERNB_CONFIG": str(bad)})
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and str(bad) in r.stderr
