"""Two processes sharing one root: unique names, one NameInUse per contested name, no corruption."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockernb.spec.status import ContainerStatus
from dockernb.store.containers import ContainerStore
from dockernb.store.layout import Layout

pytestmark = pytest.mark.rootless

WORKER = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from dockernb.errors import NameInUse
    from dockernb.spec.container import ContainerConfig, ContainerRecord
    from dockernb.spec.status import Event
    from dockernb.store.containers import ContainerStore
    from dockernb.store.layout import Layout

    store = ContainerStore(Layout(__import__("pathlib").Path(sys.argv[1])))
    tag = sys.argv[2]
    out = {"names": [], "conflicts": 0, "won": []}
    sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()   # start together
    def rec(name):
        return ContainerRecord(id=store.new_id(), name=name, created=datetime.now(UTC),
                               config=ContainerConfig(image="busybox", cmd=("true",)))
    for i in range(20):
        # a run/rm cycle: create with a generated name, start, exit, remove
        r = store.create(rec(""))
        out["names"].append(r.name)
        store.transition(r.id, Event.START)
        store.transition(r.id, Event.EXIT)
        store.transition(r.id, Event.REMOVE)
        store.delete(r.id)
        # both processes ask for the same name at about the same time
        try:
            r = store.create(rec(f"contested-{i}"))
            out["won"].append(r.id)
        except NameInUse:
            out["conflicts"] += 1
        # a container each keeps
        store.create(rec(f"keep-{tag}-{i}"))
    print(json.dumps(out))
    """
)


def test_two_processes_share_a_root(root_dir: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root_dir), tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for tag in ("a", "b")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))

    # every contested name was won exactly once, and lost exactly once
    assert sum(len(r["won"]) for r in results) == 20
    assert sum(r["conflicts"] for r in results) == 20
    store = ContainerStore(Layout(root_dir))
    names = {}
    for rec, state in store.list():
        assert rec.name not in names, f"duplicate name {rec.name}"
        names[rec.name] = rec.id
        assert state.status is ContainerStatus.CREATED
        assert store.resolve(rec.name) == rec.id
    assert len(names) == 20 + 40  # contested winners + each process's keepers; the cycles left nothing
    # the name index holds exactly the live names
    assert sorted(os.listdir(store.names_dir)) == sorted(names)
    assert os.listdir(store.layout.tmp) == []
