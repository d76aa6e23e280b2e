"""``docker cp`` both ways (HEAD/GET/PUT ``/containers/{id}/archive``), ``docker stats --no-stream``
(compared with ../shared/golden) and ``docker update`` through the real docker CLI, and docker-py's
``get_archive``/``put_archive``/``stats``/``update`` against `dockernb serve`."""

from __future__ import annotations

import base64
import gc
import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, NotFound

from dockernb.testing.apiserver import ServedApi
from tests import capabilities, golden
from tests.integration.api.conftest import DockerCli
from tests.integration.containers.conftest import ROOTLESS

pytestmark = [
    pytest.mark.kit,
    pytest.mark.rootless,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _golden(cli: DockerCli, case_id: str) -> None:
    want = golden.expected(case_id)
    r = cli(*want["argv"][1:])
    assert r.code == want["exit_code"], f"{case_id}: {r}"
    if "stdout_regex" in want:
        assert re.fullmatch(golden.rename(want["stdout_regex"]), r.out), f"{case_id}: {r}"
    else:
        assert r.out == want["stdout"], f"{case_id}: {r}"
    assert r.err == want["stderr"], f"{case_id}: {r}"


def test_docker_cli_cp_stats_update(docker_cli: DockerCli, tmp_path: Path) -> None:
    cid = docker_cli.ok("run", "-d", "--name", "lc-a", "busybox", "sh", "-c",
                        "mkdir -p /srv/d/sub && echo one > /srv/d/a.txt && echo two > /srv/d/sub/b.txt"
                        " && ln -s a.txt /srv/d/link && sleep 1000").strip()
    _golden(docker_cli, "stats-no-stream")
    _golden(docker_cli, "stats-no-stream-missing")
    _golden(docker_cli, "stats-no-stream-format")

    # container -> host: a directory (with its symlink kept as one), a file, a tar on stdout
    docker_cli.ok("cp", "lc-a:/srv/d", str(tmp_path / "d"))
    assert (tmp_path / "d" / "a.txt").read_text() == "one\n" and (tmp_path / "d/sub/b.txt").read_text() == "two\n"
    assert (tmp_path / "d" / "link").is_symlink() and str((tmp_path / "d" / "link").readlink()) == "a.txt"
    docker_cli.ok("cp", "lc-a:/srv/d/sub/b.txt", str(tmp_path))
    assert (tmp_path / "b.txt").read_text() == "two\n"
    r = docker_cli("cp", "lc-a:/nosuch", str(tmp_path))
    assert (r.code, r.err) == (1, "Error: No such container:path: lc-a:/nosuch\n"), r

    # host -> container: a file into a directory, a directory under a new name, into a missing parent
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "x.txt").write_text("ex\n")
    (tmp_path / "up" / "deep").mkdir()
    (tmp_path / "up" / "deep" / "y.txt").write_text("why\n")
    docker_cli.ok("cp", str(tmp_path / "up" / "x.txt"), "lc-a:/tmp/")
    docker_cli.ok("cp", str(tmp_path / "up"), "lc-a:/tmp/newname")
    assert docker_cli.ok("exec", "lc-a", "cat", "/tmp/x.txt", "/tmp/newname/x.txt", "/tmp/newname/deep/y.txt") == \
        "ex\nex\nwhy\n"
    r = docker_cli("cp", str(tmp_path / "up" / "x.txt"), "lc-a:/nosuch/dir/")
    assert (r.code, r.err) == (1, "no such directory\n"), r  # the docker client's own check
    r = docker_cli("cp", str(tmp_path / "up" / "x.txt"), "lc-a:/nosuch/x.txt")
    assert (r.code, r.err) == (1, "Error: No such container:path: lc-a:/nosuch\n"), r  # the PUT's 404
    assert "nosuch" not in docker_cli.ok("exec", "lc-a", "ls", "/")

    # update: the limits and the restart policy, as inspect shows them
    r = docker_cli("update", "-m", "64m", "--cpu-shares", "512", "--restart", "on-failure:3", "lc-a")
    limited = not ROOTLESS or capabilities.available("cgroup-delegation")
    if limited:
        assert r.code == 0 and r.out == "lc-a\n", r
    else:  # the engine's warnings, which the CLI prints after the name: limits recorded, not applied, and why
        assert r.code == 0 and r.out.startswith("lc-a\n") and "without cgroups" in r.out, r
    fmt = "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}" \
          " {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
    assert docker_cli.ok("inspect", "-f", fmt, "lc-a") == f"{64 << 20} 512 on-failure 3\n"
    if limited:
        found = list(Path("/sys/fs/cgroup/memory").rglob(f"dockernb/{cid}/memory.limit_in_bytes"))
        assert found and found[0].read_text().strip() == str(64 << 20)
    r = docker_cli("update", "-m", "1k", "lc-a")
    assert (r.code, r.err) == (1, "Error response from daemon: Minimum memory limit allowed is 6MB\n"), r
    r = docker_cli("update", "--blkio-weight", "300", "lc-a")
    assert r.code == 1 and "BlkioWeight" in r.err, r
    docker_cli.ok("rm", "-f", "lc-a")


@pytest.fixture
def client(served: ServedApi) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=served.docker_host, version="1.41", timeout=120)
    yield c
    c.close()
    gc.collect()


def test_docker_py_archive_stats_update(client: docker.DockerClient, served: ServedApi) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], name="arc", detach=True)
    def tar_of(*entries: tuple[str, bytes, int]) -> bytes:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for name, body, mode in entries:
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(body), mode
                tar.addfile(info, io.BytesIO(body))
        return data.getvalue()

    good = tar_of(("dropped/hello.txt", b"put by docker-py\n", 0o640))
    with pytest.raises(APIError) as bad:  # an entry climbing out of the target: refused, as dockerd does
        c.put_archive("/tmp", tar_of(("../../escape.txt", b"x", 0o644)))
    assert bad.value.status_code == 400 and "outside of the root" in str(bad.value)
    assert not Path("/escape.txt").exists() and c.exec_run(["ls", "/escape.txt"]).exit_code != 0
    assert c.put_archive("/tmp", good) is True  # docker-py: True on a 200
    assert c.exec_run(["cat", "/tmp/dropped/hello.txt"]).output == b"put by docker-py\n"
    assert c.exec_run(["stat", "-c", "%a", "/tmp/dropped/hello.txt"]).output == b"640\n"

    chunks, st = c.get_archive("/tmp/dropped")
    assert st["name"] == "dropped" and st["mode"] & (1 << 31) and st["mode"] & 0o777 == 0o755, st
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile("dropped/hello.txt")
        assert member is not None and member.read() == b"put by docker-py\n"
    _, st = c.get_archive("/tmp/dropped/hello.txt")
    assert st["size"] == 17 and not st["mode"] & (1 << 31) and st["mode"] & 0o777 == 0o640, st
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", st["mtime"]), st
    with pytest.raises(NotFound):
        c.get_archive("/no/such")
    with pytest.raises(NotFound):
        c.put_archive("/no/such", good)
    head = served.request("HEAD", "/v1.41/containers/arc/archive?path=/etc/hostname")
    stat_hdr = json.loads(base64.b64decode(head.headers["x-docker-container-path-stat"]))
    assert head.status == 200 and stat_hdr["name"] == "hostname" and stat_hdr["linkTarget"] == "", stat_hdr
    assert served.request("HEAD", "/v1.41/containers/arc/archive").status == 400  # no path

    s = c.stats(stream=False)
    assert s["id"] == c.id and s["name"] == "/arc" and s["pids_stats"]["current"] >= 1
    assert s["memory_stats"]["usage"] > 0 and s["memory_stats"]["limit"] > 0
    assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"] > 0  # two readings
    stream = c.stats(stream=True, decode=True)
    first, second = next(stream), next(stream)
    stream.close()
    assert first["read"] < second["read"] and second["precpu_stats"] == first["cpu_stats"]
    assert c.stats(stream=False, one_shot=True)["precpu_stats"]["system_cpu_usage"] == 0

    assert client.api.update_container(c.id, restart_policy={"Name": "always"}, cpu_shares=256)["Warnings"] \
        is not None
    c.reload()
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always" and c.attrs["HostConfig"]["CpuShares"] == 256
    with pytest.raises(APIError) as bad:
        client.api.update_container(c.id, mem_limit="1k")
    assert bad.value.status_code == 400 and "Minimum memory limit" in str(bad.value)
    c.remove(force=True)
    stopped = client.containers.create("busybox", ["true"], name="arc-stopped")
    empty = stopped.stats(stream=False)
    assert empty["read"] == "0001-01-01T00:00:00Z" and empty["memory_stats"] == {}
    stopped.remove()
