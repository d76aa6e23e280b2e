"""Creating from a multi-threaded caller (a Jupyter kernel has threads) and joining namespaces by path."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.spec.runtime import Namespace
from tests.integration.runtime.conftest import ROOTLESS, Box

pytestmark = pytest.mark.rootless


def test_create_from_a_threaded_caller(box: Box) -> None:
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)
    busy.start()
    try:
        assert threading.active_count() > 1  # the helper path (fork, then clone with CLONE_PARENT)
        res = box.run("sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
        assert res.code == 0 and res.out.splitlines()[0] == "1"
    finally:
        stop.set()
        busy.join()


def test_join_another_containers_network_namespace(box: Box) -> None:
    """The engine's way: a netns made elsewhere, given by path (with its user namespace when rootless)."""
    state_a, created_a = box.start("sleep", "30", hostname="first")
    pid = created_a.pid
    cid, bundle, spec = box.spec(cmd=("sh", "-c", "cat /proc/net/dev | wc -l; readlink /proc/self/ns/net"))
    namespaces = [n for n in spec.linux.namespaces if n.type not in ("network", "user")]
    namespaces.append(Namespace(type="network", path=f"/proc/{pid}/ns/net"))
    linux = spec.linux
    if ROOTLESS:
        # the netns belongs to A's user namespace: join that too (first), and need no maps of our own
        namespaces.append(Namespace(type="user", path=f"/proc/{pid}/ns/user"))
        linux = dataclasses.replace(linux, uid_mappings=(), gid_mappings=())
    spec = dataclasses.replace(spec, linux=dataclasses.replace(linux, namespaces=tuple(namespaces)))
    res = box.run_spec(cid, bundle, spec)
    assert res.code == 0, res.err
    lines = res.out.split()
    assert lines[1] == Path(f"/proc/{pid}/ns/net").readlink().name
    assert rt.state(state_a).status == "running"

