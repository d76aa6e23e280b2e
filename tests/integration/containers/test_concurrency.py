"""Two processes share one root: 20 run/rm cycles each at once, and both asking for one name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from tests.integration.containers.conftest import Cli, leftovers

pytestmark = pytest.mark.rootless

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from dockernb.engine import Engine
    from dockernb.errors import NameInUse
    barrier, me, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
    eng = Engine.from_env()
    ids, names, codes = [], [], []
    open(f"{barrier}.{me}", "w").close()
    while len([f for f in os.listdir(os.path.dirname(barrier)) if f.startswith(os.path.basename(barrier) + ".")]) < 2:
        time.sleep(0.01)
    for i in range(cycles):
        r = eng.containers.run("busybox", ["sh", "-c", f"exit {i % 3}"], name="" if i % 2 else f"{me}-{i}")
        ids.append(r.id); names.append(r.name); codes.append(r.exit_code)
        if i % 2:  # half removed at once, half kept to the end: all 40 coexist with the other worker's
            eng.containers.remove(r.id)
    for cid, name in zip(ids, names):
        if not name.startswith(me + "-"):
            continue
        eng.containers.remove(cid)
    contested = ""
    try:
        from dockernb.spec.container import ContainerConfig
        contested = eng.containers.create(ContainerConfig(image="busybox", cmd=("true",)), name="contested").id
    except NameInUse as err:
        contested = "NameInUse: " + str(err)
    print(json.dumps({"ids": ids, "names": names, "codes": codes, "contested": contested}))
""")


def test_two_processes_twenty_cycles(cli: Cli) -> None:
    barrier = str(cli.root / "barrier")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, barrier, me, "20"], env=cli.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for me in ("a", "b")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    ids = [i for r in results for i in r["ids"]]
    names = [n for r in results for n in r["names"]]
    assert len(set(ids)) == 40
    # names given are kept; generated ones are docker's adjective_surname (a removed one may come back)
    given = sorted(f"{w}-{i}" for w in "ab" for i in range(0, 20, 2))
    assert sorted(n for n in names if n[:2] in ("a-", "b-")) == given
    assert all(re.fullmatch(r"[a-z]+_[a-z]+\d?", n) for n in names if n[:2] not in ("a-", "b-"))
    for r in results:
        assert r["codes"] == [i % 3 for i in range(20)]
    contested = sorted(r["contested"] for r in results)
    winners = [c for c in contested if not c.startswith("NameInUse")]
    losers = [c for c in contested if c.startswith("NameInUse")]
    assert len(winners) == 1 and len(losers) == 1, contested
    assert f'The container name "/contested" is already in use by container "{winners[0]}"' in losers[0]
    # the store is whole: only the contested container is left, and every verb reads it
    assert cli.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}") == "contested Created\n"
    assert cli.ok("rm", "contested") == "contested\n"
    assert not list((cli.root / "containers").glob("[0-9a-f]*"))
    assert leftovers(cli.root, [*ids, *winners]) == []  # no monitor, cgroup or directory of the 41
