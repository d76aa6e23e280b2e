"""The pure parts of the phase-3 routes: Go's FileMode in the path-stat header, the build stream's
records, UpdateConfig to the engine's keywords, and dockerd's empty stats for a stopped container."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from dockernb.apiserver.routes.archive import go_file_mode, path_stat_header
from dockernb.apiserver.routes.build import build_records
from dockernb.apiserver.routes.resources import _update_kwargs, stats_json
from dockernb.engine.containers.stats import StatsSample
from dockernb.errors import InvalidRequest
from dockernb.layers.copy import PathStat
from dockernb.spec.events import BuildContextSent, BuildDone, BuildOutput, BuildStep, Stream


def test_go_file_mode_sets_gos_type_bits() -> None:
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFREG | 0o644) == 0o644
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755
    name, value = path_stat_header(PathStat("x", 3, stat.S_IFDIR | 0o700, 1_700_000_000_123_456_789, ""))
    assert name == "X-Docker-Container-Path-Stat"
    assert json.loads(base64.b64decode(value)) == {"name": "x", "size": 3, "mode": (1 << 31) | 0o700,
                                                   "mtime": "2023-11-14T22:13:20.123456Z", "linkTarget": ""}


def test_build_records_are_dockerds_classic_stream() -> None:
    assert build_records(BuildContextSent(size=2048)) == []  # the client prints that line itself
    assert build_records(BuildStep(index=1, total=2, text="FROM busybox")) == [{"stream": "Step 1/2 : FROM busybox\n"}]
    assert build_records(BuildOutput(text="oops\n", stream=Stream.STDERR)) == [{"stream": "\x1b[91moops\n\x1b[0m"}]
    image = "sha256:" + "ab" * 32
    assert build_records(BuildDone(image_id=image)) == [{"aux": {"ID": image}},
                                                        {"stream": "Successfully built abababababab\n"}]


def test_update_config_to_engine_keywords() -> None:
    body = {"Memory": 64 << 20, "CpuShares": 0, "NanoCpus": None, "CpusetCpus": "0", "PidsLimit": 10,
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "BlkioWeight": 0}
    assert _update_kwargs(body) == {"memory": 64 << 20, "cpuset_cpus": "0", "pids_limit": 10,
                                    "restart_policy": "on-failure:3"}
    assert _update_kwargs({"RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}) == {}
    for bad in ([], {"Memory": "1g"}, {"BlkioWeight": 300}, {"RestartPolicy": "always"}, {"PidsLimit": True}):
        with pytest.raises(InvalidRequest):
            _update_kwargs(bad)


def test_stats_of_a_stopped_container_are_dockerds_empty_stats() -> None:
    out = stats_json(StatsSample(id="c" * 64, name="x", read_ns=1, running=False))
    assert out["read"] == out["preread"] == "0001-01-01T00:00:00Z" and out["name"] == "/x"
    assert out["memory_stats"] == {} and "networks" not in out
