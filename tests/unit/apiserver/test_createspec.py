"""The create body of ``POST /containers/create`` -> the engine's spec, and the list row's JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockernb.apiserver.createspec import create_spec, summary_json
from dockernb.errors import InvalidArgument, InvalidMountSpec
from dockernb.spec.container import ContainerConfig, ContainerRecord, ContainerSummary, HostConfig, MountSpec
from dockernb.spec.ports import PortBinding
from dockernb.spec.status import ContainerState, ContainerStatus

#: what the docker 20.10 CLI sends for
#: ``run -it --name x -e A=1 -p 127.0.0.1:8080:80 -v /data -v /h:/c:ro --mount type=tmpfs,dst=/t,tmpfs-size=1024
#:  --restart on-failure:3 --network net1 --network-alias web --entrypoint "" -u 1:2 -w /w -l k=v busybox sh``
DOCKER_CLI_BODY = {
    "Hostname": "", "Domainname": "", "User": "1:2", "AttachStdin": True, "AttachStdout": True,
    "AttachStderr": True, "ExposedPorts": {"80/tcp": {}}, "Tty": True, "OpenStdin": True, "StdinOnce": True,
    "Env": ["A=1"], "Cmd": ["sh"], "Image": "busybox", "Volumes": {"/data": {}}, "WorkingDir": "/w",
    "Entrypoint": [""], "OnBuild": None, "Labels": {"k": "v"},
    "HostConfig": {
        "Binds": ["/h:/c:ro"], "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
        "NetworkMode": "net1", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": False,
        "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "CgroupnsMode": "",
        "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "",
        "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
        "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": 0, "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
        "CgroupParent": "", "BlkioWeight": 0, "Devices": [], "KernelMemory": 0, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": -1, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None,
        "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}}],
        "MaskedPaths": None, "ReadonlyPaths": None,
    },
    "NetworkingConfig": {"EndpointsConfig": {"net1": {"Aliases": ["web"]}}},
}  # fmt: skip


def test_the_docker_clis_create_body() -> None:
    config, host = create_spec(DOCKER_CLI_BODY)
    assert config == ContainerConfig(
        image="busybox", cmd=("sh",), entrypoint=("",), env=("A=1",), working_dir="/w", user="1:2",
        labels={"k": "v"}, tty=True, open_stdin=True, stdin_once=True, attach_stdin=True, attach_stdout=True,
        attach_stderr=True, exposed_ports=("80/tcp",), volumes=("/data",),
    )  # fmt: skip
    assert host.network_mode == "net1" and host.network_aliases == ("web",)
    assert str(host.restart_policy) == "on-failure:3" and host.log_config.type == "json-file"
    assert [(b.container_port, b.protocol, b.host_ip, b.host_port) for b in host.port_bindings] == [
        (80, "tcp", "127.0.0.1", "8080")]
    assert host.mounts == (
        MountSpec(type="bind", target="/c", source="/h", read_only=True, legacy="/h:/c:ro"),
        MountSpec(type="tmpfs", target="/t", options=("size=1024",)),
    )
    assert host.resources.pids_limit == 0 and host.oom_score_adj is None


def test_docker_pys_minimal_body() -> None:
    config, host = create_spec({"Image": "busybox", "Cmd": "echo hi", "HostConfig": None})
    assert (config.image, config.cmd, config.entrypoint) == ("busybox", ("echo hi",), None)
    assert host == HostConfig(network_mode="default")


@pytest.mark.parametrize(("body", "message"), [
    ({}, "No image specified"),
    ([], "cannot unmarshal list"),
    ({"Image": 3}, "cannot unmarshal int"),
    ({"Image": "busybox", "Cmd": [1]}, "want a list of strings"),
    ({"Image": "busybox", "Tty": "yes"}, "of type bool"),
    ({"Image": "busybox", "Labels": {"a": 1}}, "want an object of strings"),
    ({"Image": "busybox", "HostConfig": {"Memory": "1g"}}, "of type int64"),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"http": []}}}, "invalid port specification"),
    ({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}},
     "invalid port specification"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "invalid restart policy"),
    ({"Image": "busybox", "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}},
     "can't create 'AutoRemove' container with restart policy"),
    ({"Image": "busybox", "StopTimeout": "10"}, "StopTimeout"),
])  # fmt: skip
def test_bad_bodies_are_400s(body: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        create_spec(body)
    assert err.value.http_status == 400


@pytest.mark.parametrize("mount", [
    {"Type": "bind", "Target": "/c"}, {"Type": "bind", "Source": "rel", "Target": "/c"},
    {"Type": "volume", "Target": "rel"}, {"Type": "nfs", "Target": "/c"}, {"Type": "tmpfs", "Source": "/x",
                                                                          "Target": "/t"},
])  # fmt: skip
def test_bad_mounts(mount: dict[str, str]) -> None:
    with pytest.raises(InvalidMountSpec):
        create_spec({"Image": "busybox", "HostConfig": {"Mounts": [mount]}})


def test_summary_json() -> None:
    record = ContainerRecord(id="a" * 64, name="web", created=datetime(2026, 1, 2, tzinfo=UTC),
                             config=ContainerConfig(image="nginx", labels={"k": "v"}, exposed_ports=("80/tcp",)),
                             host_config=HostConfig(mounts=(MountSpec(type="volume", target="/v", source="vol"),)),
                             image_id="sha256:" + "b" * 64, path="nginx", args=("-g", "daemon off;"))  # fmt: skip
    state = ContainerState(status=ContainerStatus.RUNNING, started_at=datetime.now(UTC))
    item = ContainerSummary(record=record, state=state, bindings=(PortBinding(80, "tcp", "0.0.0.0", 8080),),
                            exposed=((80, "tcp"), (443, "tcp")), networks=("bridge",), size_rw=5, size_root_fs=10)
    data = summary_json(item)
    assert data["Names"] == ["/web"] and data["Command"] == "nginx -g 'daemon off;'"
    assert data["Created"] == int(datetime(2026, 1, 2, tzinfo=UTC).timestamp())
    assert data["Ports"] == [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                             {"PrivatePort": 443, "Type": "tcp"}]
    assert data["State"] == "running" and data["Status"].startswith("Up ")
    assert data["HostConfig"] == {"NetworkMode": "default"} and list(data["NetworkSettings"]["Networks"]) == ["bridge"]
    assert data["Mounts"] == [{"Type": "volume", "Name": "vol", "Source": "", "Destination": "/v", "Mode": "",
                               "RW": True, "Propagation": ""}]
    assert (data["SizeRw"], data["SizeRootFs"]) == (5, 10)
