"""Engine pieces that need no kernel: docker's image-config merge, signals, the hooks' config, inspect's shape."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from dockernb.config import load_config
from dockernb.engine.containers.create import merge_image_config
from dockernb.engine.containers.hooks import config_from_json, config_to_json
from dockernb.engine.containers.lifecycle import parse_signal
from dockernb.engine.containers.types import Container
from dockernb.engine.inspect import container_inspect
from dockernb.errors import InvalidArgument
from dockernb.spec.container import ContainerConfig, ContainerRecord, HostConfig, MountSpec
from dockernb.spec.oci import RunConfig
from dockernb.spec.status import ContainerState, ContainerStatus

IMAGE = RunConfig(env=("PATH=/bin", "A=image"), entrypoint=("/entry",), cmd=("default",), working_dir="/w",
                  user="nobody", labels={"img": "1", "both": "image"}, exposed_ports=("80/tcp",),
                  volumes=("/data",), stop_signal="SIGQUIT")


def test_merge_keeps_the_users_values() -> None:
    m = merge_image_config(ContainerConfig(image="x", env=("A=user", "B=2"), labels={"both": "user"}), IMAGE)
    assert m.env == ("PATH=/bin", "A=user", "B=2")
    assert (m.entrypoint, m.cmd, m.working_dir, m.user, m.stop_signal) == (("/entry",), ("default",), "/w", "nobody",
                                                                           "SIGQUIT")
    assert m.labels == {"img": "1", "both": "user"} and m.exposed_ports == ("80/tcp",) and m.volumes == ("/data",)
    m = merge_image_config(ContainerConfig(image="x", cmd=("sh",)), IMAGE)
    assert (m.entrypoint, m.cmd) == (("/entry",), ("sh",))
    # --entrypoint drops the image's cmd; --entrypoint "" clears the entrypoint too
    m = merge_image_config(ContainerConfig(image="x", entrypoint=("/other",)), IMAGE)
    assert (m.entrypoint, m.cmd) == (("/other",), ())
    m = merge_image_config(ContainerConfig(image="x", entrypoint=(), cmd=("ls",)), IMAGE)
    assert (m.entrypoint, m.cmd) == (None, ("ls",))


def test_signals() -> None:
    assert {parse_signal(x) for x in ("KILL", "SIGKILL", "kill", "9")} == {signal.SIGKILL}
    assert parse_signal("sigterm") == signal.SIGTERM
    with pytest.raises(InvalidArgument, match="^Invalid signal: BOGUS$"):
        parse_signal("BOGUS")
    with pytest.raises(InvalidArgument):
        parse_signal("999")


def test_engine_config_survives_the_trip_to_the_post_exit_handler(tmp_path: Path) -> None:
    config = load_config({"DOCKERNB_ROOT": str(tmp_path), "DOCKERNB_REGISTRY_MIRRORS": "http://127.0.0.1:5000",
                          "DOCKERNB_IMAGE_STORES": "/a /b", "DOCKERNB_ADDRESS_POOLS": "10.210.0.0/16:24",
                          "DOCKERNB_USERLAND_PROXY": "1", "HOME": str(tmp_path)})
    assert config_from_json(config_to_json(config)) == config


def _spec_keys(name: str) -> set[str]:
    spec = yaml.safe_load((Path(__file__).parents[4] / "shared/specs/docker-engine-api-v1.41.yaml").read_text())
    op = spec["paths"]["/containers/{id}/json"]["get"]
    schema = op["responses"][200]["schema"]
    return set(schema["properties"]) if name == "top" else set(spec["definitions"][name]["properties"])


def test_inspect_has_the_api_shape() -> None:
    record = ContainerRecord(
        id="ab" * 32, name="web", created=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        config=ContainerConfig(image="busybox", cmd=("sleep", "1"), exposed_ports=("80/tcp",), hostname="abab"),
        host_config=HostConfig(mounts=(MountSpec(type="bind", source="/h", target="/c", legacy="/h:/c"),)),
        image_id="sha256:" + "c" * 64, path="sleep", args=("1",))
    state = ContainerState(status=ContainerStatus.EXITED, exit_code=3, started_at=record.created,
                           finished_at=record.created)
    data = container_inspect(Container(record=record, state=state), layout_dir=Path("/r/containers/x"))
    assert set(data) <= _spec_keys("top") | {"SizeRw", "SizeRootFs"}
    assert set(data) >= _spec_keys("top") - {"SizeRw", "SizeRootFs"}
    assert set(data["State"]) <= _spec_keys("ContainerState")
    assert data["Name"] == "/web" and data["Created"] == "2026-01-02T03:04:05.123456Z"
    assert (data["State"]["Status"], data["State"]["ExitCode"], data["State"]["Running"]) == ("exited", 3, False)
    assert data["HostConfig"]["Binds"] == ["/h:/c"] and data["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert data["Mounts"] == [{"Type": "bind", "Source": "/h", "Destination": "/c", "Mode": "", "RW": True,
                               "Propagation": "rprivate"}]
    assert data["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
