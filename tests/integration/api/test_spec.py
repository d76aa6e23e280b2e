"""schemathesis against the read-only container, exec, network and volume operations of `dockernb serve`:
no 5xx for any generated input, and responses inside the v1.41 schemas (root pass only: the spec file
lives beside the project, which the rootless copy does not carry)."""

from __future__ import annotations

import re

import pytest

from dockernb.testing.apiserver import ServedApi
from tests.integration.api.conftest import DockerCli

pytestmark = [pytest.mark.kit]

OPERATIONS = ("ContainerList", "ContainerInspect", "ContainerLogs", "ExecInspect", "NetworkList", "NetworkInspect",
              "VolumeList", "VolumeInspect")

#: findings that are dockerd 20.10's behaviour as much as ours (the spec does not document the 400s
#: dockerd answers for bad filters and names, and types its booleans loosely)
DOCKERD_TOO = re.compile(
    r"Undocumented status code: Received: 400|Schema-valid request rejected|Schema-violating request accepted"
    # dockerd 20.10 prints null for an empty map here (``docker volume inspect`` shows "Labels": null,
    # ``docker network inspect bridge`` "IPAM": {"Options": null}); the CLI's golden output keeps it so
    r'|Response violates schema: (/Volumes/\d+)?/(Labels|Options): null is not of type "object"'
    r'|Response violates schema: (/\d+)?/IPAM/Options: null is not of type "object"'
)


def test_read_only_operations_answer_in_the_specs_shapes(served: ServedApi, docker_cli: DockerCli) -> None:
    from tests.integration.spec_check import check

    # something to list: a running and an exited container with a label, a network, a volume
    docker_cli.ok("run", "-d", "--name", "spec-a", "-l", "a=b", "-p", "127.0.0.1::80", "-v", "spec-v:/v", "busybox",
                  "sleep", "1000")
    docker_cli.ok("run", "--name", "spec-b", "busybox", "echo", "hi")
    docker_cli.ok("network", "create", "spec-net")
    found = check(f"{served.base_url}/v1.41", OPERATIONS, max_examples=10)
    left = {op: sorted(f for f in fs if not DOCKERD_TOO.match(f)) for op, fs in found.items()}
    assert {op: fs for op, fs in left.items() if fs} == {}
    assert not any(f.startswith("Server error") for fs in found.values() for f in fs)
    # what schemathesis found in the writing operations once: a NUL in a name reached the stores (500)
    for method, path in (("GET", "/containers/a%00b/json"), ("POST", "/commit?container=a%00b"),
                         ("DELETE", "/volumes/x%00")):
        r = served.request(method, path)
        assert (r.status, r.json()["message"]) == (400, "invalid request: a NUL byte in the path or the query")
    r = served.request("POST", "/volumes/create", body=b'{"Name": "v", "Driver": "nfs-plugin"}',
                       headers={"Content-Type": "application/json"})
    assert r.status == 404 and "plugin" in r.json()["message"]
    docker_cli.ok("rm", "-f", "spec-a", "spec-b")
    docker_cli.ok("network", "rm", "spec-net")
    docker_cli.ok("volume", "rm", "spec-v")
