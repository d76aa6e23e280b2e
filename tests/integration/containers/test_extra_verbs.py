"""cp, export, update, events, system prune, stats streaming and commit through the CLI, root and rootless.

What each verb leaves behind is checked by the ``cli`` fixture (no monitors, mounts, cgroups, files);
here, that no path of a container ever reaches the host (cp through hostile symlinks, both ways).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests import capabilities
from tests.integration.containers.conftest import ROOTLESS, Cli

pytestmark = pytest.mark.rootless


def _tar_names(data: bytes) -> list[str]:
    return [m.name for m in tarfile.open(fileobj=io.BytesIO(data))]


def _cli_bytes(cli: Cli, *args: str, stdin: bytes | None = None) -> tuple[int, bytes, str]:
    p = subprocess.run(cli.argv(*args), env=cli.env, input=stdin, capture_output=True, timeout=120,
                       stdin=None if stdin is not None else subprocess.DEVNULL)  # fmt: skip
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def test_cp_both_ways_never_leaves_the_container(cli: Cli, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    canary = tmp_path / "canary"
    canary.write_text("host's own\n")
    # hostile symlinks inside the container: to the host's paths, and climbing out
    cli.ok("run", "-d", "--name", "cp-a", "-v", "/data", "busybox", "sh", "-c",
           f"mkdir -p {tmp_path}; ln -s {tmp_path} /evil-abs; ln -s ../../../../../.. /evil-up; "
           "ln -s /etc/passwd /pwlink; "
           "echo in-volume > /data/v.txt; mkdir -p /srv/d/sub; echo deep > /srv/d/sub/f; sleep 1000")
    time.sleep(0.3)
    # out of the container
    cli.ok("cp", "cp-a:/srv/d", str(host / "d-copy"))
    assert (host / "d-copy" / "sub" / "f").read_text() == "deep\n"
    cli.ok("cp", "cp-a:/srv/d/.", str(host))
    assert (host / "sub" / "f").read_text() == "deep\n"
    cli.ok("cp", "cp-a:/data/v.txt", str(host))  # a volume's file
    assert (host / "v.txt").read_text() == "in-volume\n"
    code, out, err = _cli_bytes(cli, "cp", "cp-a:/evil-abs/canary", "-")
    assert code == 1 and "No such container:path: cp-a:/evil-abs/canary" in err  # the container's own /tmp/...
    code, out, err = _cli_bytes(cli, "cp", "cp-a:/evil-up/etc/passwd", "-")
    assert code == 0 and _tar_names(out) == ["passwd"]
    member = tarfile.open(fileobj=io.BytesIO(out)).extractfile("passwd")
    assert member is not None and member.read() == cli_read(cli, "cp-a", "/etc/passwd")
    cli.ok("cp", "-L", "cp-a:/pwlink", str(host))
    assert (host / "pwlink").read_bytes() == cli_read(cli, "cp-a", "/etc/passwd")  # -L: the target, named as asked
    cli.ok("cp", "cp-a:/pwlink", str(host / "asis"))
    assert os.readlink(host / "asis") == "/etc/passwd"  # without -L: the link itself
    # into the container, through the same links: it all lands inside it
    (host / "in.txt").write_text("from the host\n")
    cli.ok("cp", str(host / "in.txt"), "cp-a:/evil-abs/canary")
    cli.ok("cp", str(host / "in.txt"), "cp-a:/evil-up/tmp/")
    assert canary.read_text() == "host's own\n"
    assert cli.ok("exec", "cp-a", "cat", f"{tmp_path}/canary", "/tmp/in.txt") == "from the host\n" * 2
    assert cli.ok("exec", "cp-a", "stat", "-c", "%u:%g", "/tmp/in.txt") == "0:0\n"  # the container's root
    # a tar on stdin, and docker's errors
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ti = tarfile.TarInfo("from-stdin.txt")
        ti.size, ti.uid, ti.gid = 3, 1234, 5678
        tar.addfile(ti, io.BytesIO(b"abc"))
    code, _, err = _cli_bytes(cli, "cp", "-a", "-", "cp-a:/tmp", stdin=buf.getvalue())
    assert code == 0, err
    assert cli.ok("exec", "cp-a", "stat", "-c", "%s %u:%g", "/tmp/from-stdin.txt") == "3 1234:5678\n"  # -a keeps ids
    r = cli("cp", str(host / "in.txt"), "cp-a:/nosuchdir/x")
    assert (r.code, r.err) == (1, "Error: No such container:path: cp-a:/nosuchdir\n")
    r = cli("cp", "cp-a:/srv/d", str(host / "in.txt"))
    assert (r.code, r.err) == (1, "cannot copy directory\n")
    r = cli("cp", str(host / "in.txt") + "/", "cp-a:/tmp")
    assert (r.code, r.err) == (1, f"lstat {host}/in.txt: not a directory\n")
    # procfs's self names no process of ours there: a path like any missing one, not a traceback
    r = cli("cp", "cp-a:/proc/self/status", str(host))
    assert (r.code, r.err) == (1, "Error: No such container:path: cp-a:/proc/self/status\n")
    r = cli("cp", "nosuch:/x", str(host))
    assert (r.code, r.err) == (1, "Error: No such container:path: nosuch:/x\n")
    # a stopped container: its snapshot and volume, mounted privately for the copy
    cli.ok("stop", "-t", "1", "cp-a")
    cli.ok("cp", str(host / "in.txt"), "cp-a:/data/")
    cli.ok("cp", "cp-a:/data", str(host / "data-copy"))
    assert sorted(os.listdir(host / "data-copy")) == ["in.txt", "v.txt"]
    cli.ok("start", "cp-a")
    assert cli.ok("exec", "cp-a", "cat", "/data/in.txt") == "from the host\n"
    # a read-only rootfs refuses, as docker's
    cli.ok("run", "-d", "--name", "cp-ro", "--read-only", "busybox", "sleep", "1000")
    r = cli("cp", str(host / "in.txt"), "cp-ro:/")
    assert (r.code, r.err) == (1, "Error response from daemon: container rootfs is marked read-only\n")


def cli_read(cli: Cli, container: str, path: str) -> bytes:
    return cli.ok("exec", container, "cat", path).encode()


def test_export_diff_commit(cli: Cli, tmp_path: Path) -> None:
    cli.ok("run", "-d", "--name", "ex-a", "-v", "/vol", "busybox", "sh", "-c",
           "echo secret > /vol/in-volume; echo x > /made-here; sleep 1000")
    time.sleep(0.3)
    code, out, err = _cli_bytes(cli, "export", "ex-a")
    assert code == 0, err
    names = _tar_names(out)
    assert "made-here" in names and "bin/busybox" in names and "proc" in names
    assert not any(n.startswith(("vol/", "proc/", "sys/")) for n in names)  # no volume, no kernel trees
    target = tmp_path / "ex.tar"
    cli.ok("export", "-o", str(target), "ex-a")
    assert _tar_names(target.read_bytes()) == names
    r = cli("export", "-o", str(tmp_path / "missing" / "ex.tar"), "ex-a")  # docker's CopyToFile error, no traceback
    assert r.code == 1 and r.err.startswith(f"open {tmp_path}/missing/.docker_temp_"), r
    assert r.err.endswith(": no such file or directory\n") and r.out == "", r
    assert cli.ok("diff", "ex-a").splitlines() == ["A /made-here", "A /vol"]
    # commit pauses a running container (where it can) and names the image
    image_id = cli.ok("commit", "-a", "Ann <a@x>", "-m", "snap", "-c", "ENV MODE=x", "ex-a", "snap:1").strip()
    data = json.loads(cli.ok("image", "inspect", "snap:1"))[0]
    assert data["Id"] == image_id and data["Author"] == "Ann <a@x>" and "MODE=x" in data["Config"]["Env"]
    assert cli.ok("run", "--rm", "snap:1", "cat", "/made-here") == "x\n"
    assert cli.ok("inspect", "-f", "{{.State.Status}}", "ex-a") == "running\n"
    cli.ok("commit", "--pause=false", "ex-a", "snap:2")
    r = cli("commit", "ex-a", "Bad:Ref")
    assert (r.code, r.err) == (1, "invalid reference format: repository name must be lowercase\n")
    cli.ok("rm", "-f", "ex-a")
    cli.ok("rmi", "snap:1", "snap:2")


def test_update_and_restart_policy(cli: Cli, root_dir: Path) -> None:
    cid = cli.ok("run", "-d", "--name", "up-a", "busybox", "sleep", "1000").strip()
    r = cli("update", "-m", "64m", "--cpu-shares", "512", "--restart", "on-failure:3", "up-a")
    assert r.code == 0 and r.out.startswith("up-a\n"), r
    fmt = "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}"
    assert cli.ok("inspect", "-f", fmt, "up-a") == f"{64 << 20} 512 on-failure\n"
    if ROOTLESS and not capabilities.available("cgroup-delegation"):
        assert "WARNING" not in r.out and "cgroups" in r.out  # limits recorded, and the reason they are not applied
    else:
        found = [p for p in Path("/sys/fs/cgroup/memory").rglob(f"dockernb/{cid}/memory.limit_in_bytes")]
        assert found and found[0].read_text().strip() == str(64 << 20)
    r = cli("update", "-m", "1k", "up-a")
    assert (r.code, r.err) == (1, "Error response from daemon: Minimum memory limit allowed is 6MB\n")
    r = cli("update", "--cpuset-mems", "0", "up-a")
    assert r.code == 1 and "--cpuset-mems" in r.err
    cli.ok("run", "-d", "--rm", "--name", "up-rm", "busybox", "sleep", "1000")
    r = cli("update", "--restart", "always", "up-rm")
    assert r.err == ("Error response from daemon: Restart policy cannot be updated because AutoRemove is enabled "
                     "for the container\n")  # fmt: skip


def test_events_record_every_state_change(cli: Cli) -> None:
    start = str(time.time() - 1)
    follower = subprocess.Popen(cli.argv("events", "--filter", "container=ev-a", "--format", "{{.Action}}"),
                                env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(1.0)
        cli.ok("run", "--name", "ev-a", "-l", "team=blue", "busybox", "true")
        cli.ok("rename", "ev-a", "ev-b")
        cli.ok("rm", "ev-b")
        cli.ok("volume", "create", "ev-vol")
        cli.ok("volume", "rm", "ev-vol")
        time.sleep(0.8)
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=20)
    # the live follower saw what happened to ev-a while it was named so (its rename carries the new name)
    assert out.decode().split() == ["create", "attach", "start", "die"], err
    until = str(time.time())
    fmt = ('{{.Type}} {{.Action}} {{if eq .Type "volume"}}{{.Actor.ID}}{{else}}{{.Actor.Attributes.name}}{{end}}')
    lines = cli.ok("events", "--since", start, "--until", until, "--format", fmt).splitlines()
    assert lines == ["container create ev-a", "container attach ev-a", "container start ev-a", "container die ev-a",
                     "container rename ev-b", "container destroy ev-b", "volume create ev-vol",
                     "volume destroy ev-vol"], lines  # fmt: skip
    labelled = cli.ok("events", "--since", start, "--until", until, "--filter", "label=team=blue",
                      "--filter", "event=die", "--format", "{{json .}}")  # fmt: skip
    msg = json.loads(labelled)
    assert msg["status"] == "die" and msg["Actor"]["Attributes"]["exitCode"] == "0" and msg["from"] == "busybox"
    plain = cli.ok("events", "--since", start, "--until", until, "--filter", "type=volume")
    assert plain.splitlines()[0].endswith(" volume create ev-vol (driver=local)")


def test_system_prune_and_stats_stream(cli: Cli) -> None:
    cli.ok("run", "--name", "sp-a", "busybox", "true")
    cli.ok("volume", "create", "sp-vol")
    cli.ok("network", "create", "sp-net")
    cli.ok("run", "-d", "--name", "sp-run", "busybox", "sleep", "1000")
    r = cli("container", "prune", input="n\n")  # declined: docker's client still reports what it reclaimed
    assert (r.code, r.out) == (0, "WARNING! This will remove all stopped containers.\n"
                                  "Are you sure you want to continue? [y/N] Total reclaimed space: 0B\n"), r
    r = cli("system", "prune", input="n\n")
    assert r.code == 0 and r.out.startswith("WARNING! This will remove:\n  - all stopped containers\n") and \
        r.out.endswith("Are you sure you want to continue? [y/N] "), r
    assert "sp-a" in cli.ok("ps", "-a", "--format", "{{.Names}}")
    r = cli("system", "prune", "-f", "--volumes")
    assert r.code == 0 and "Deleted Containers:\n" in r.out and "Deleted Networks:\nsp-net\n" in r.out, r
    assert "Deleted Volumes:\nsp-vol\n" in r.out and r.out.rstrip().splitlines()[-1].startswith("Total reclaimed")
    assert cli.ok("ps", "-a", "--format", "{{.Names}}") == "sp-run\n"
    r = cli("stats", "--no-stream", "--format", "{{.Bad}}", "sp-run")  # a bad field before anything is read
    assert r.code == 1 and r.out == "" and r.err.startswith("Template parsing error: template: "), r
    # stats without --no-stream redraws the table every second until interrupted
    p = subprocess.Popen(cli.argv("stats", "sp-run"), env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)  # fmt: skip
    time.sleep(3.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    frames = out.decode().split("\x1b[2J\x1b[H")[1:]
    assert len(frames) >= 2 and all(f.startswith("CONTAINER ID   NAME") and "sp-run" in f for f in frames), (out, err)
