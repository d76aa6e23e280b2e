"""The engine's build entry point in process (``%%dockerfile``'s), interruptions, and builds killed outright.

A build stopped while a RUN runs (a notebook interrupt closes the event iterator; ``kill -9`` of
the process) must leave no container, cgroup, mount, network sandbox or snapshot behind: the
first at once, the second by the next build on the same root (which sweeps what dead builds left).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dockernb.engine import Engine
from dockernb.errors import BuildError
from dockernb.spec.events import BuildContainer, BuildDone, BuildOutput, BuildTagged
from tests.integration.builds.conftest import BuildCli, build_leftovers, write_context
from tests.integration.containers.conftest import live_processes

pytestmark = pytest.mark.rootless


def test_dockerfile_text_with_and_without_context(engine_env: dict[str, str], root_dir: Path, tmp_path: Path) -> None:
    with Engine.from_env(engine_env) as eng:
        events = list(eng.builds.build(dockerfile_text="FROM busybox\nRUN echo cell > /cell\n", tags=["cell"]))
        assert isinstance(events[-1], BuildTagged) and events[-1].name == "cell:latest"
        done = [e for e in events if isinstance(e, BuildDone)]
        assert done and eng.images.get("cell").id == done[0].image_id
        ctx = write_context(tmp_path / "nb", {"data.txt": "from the notebook's directory\n"})
        text = "FROM cell\nCOPY data.txt /\nRUN cat /cell /data.txt\n"
        out = "".join(e.text for e in eng.builds.build(ctx, dockerfile_text=text, tags=["cell2"])
                      if isinstance(e, BuildOutput))  # fmt: skip
        assert out == "cell\nfrom the notebook's directory\n"
        with pytest.raises(BuildError) as err:
            list(eng.builds.build(dockerfile_text="FROM busybox\nRUN exit 7\n"))
        assert err.value.exit_code == 7
        assert str(err.value) == "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
    assert build_leftovers(root_dir) == []


def test_interrupted_run_leaves_nothing(engine_env: dict[str, str], root_dir: Path) -> None:
    with Engine.from_env(engine_env) as eng:
        events = eng.builds.build(dockerfile_text="FROM busybox\nRUN echo started; sleep 2417 & sleep 2418\n")
        step = ""
        try:
            for event in events:
                if isinstance(event, BuildContainer) and not event.removed:
                    step = event.container_id[:12]
                if isinstance(event, BuildOutput) and "started" in event.text:
                    break
            assert step and live_processes("sleep 241[78]")
        finally:
            events.close()  # what a notebook interrupt does to the iterator
        assert build_leftovers(root_dir, [step]) == [] and live_processes("sleep 241[78]") == []
        assert eng.images.list(all=True) == [] or all(i.tags for i in eng.images.list(all=True))


ABANDON = """
import sys
from dockernb.engine import Engine
from dockernb.spec.events import BuildOutput
eng = Engine.from_env()
events = eng.builds.build(dockerfile_text="FROM busybox\\nRUN echo started; sleep 2420\\n")
for event in events:
    if isinstance(event, BuildOutput) and "started" in event.text:
        print("started", flush=True)
        break
sys.exit(0)  # the generator is never closed: only the interpreter's exit can clean up
"""


def test_abandoned_build_is_cleaned_at_exit(engine_env: dict[str, str], root_dir: Path) -> None:
    import sys

    env = {**os.environ, **engine_env}
    out = subprocess.run([sys.executable, "-c", ABANDON], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout == "started\n" and "Traceback" not in out.stderr, out.stderr
    assert live_processes("sleep 2420") == [] and build_leftovers(root_dir) == []


def test_killed_build_is_swept_by_the_next(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "k", {"Dockerfile": "FROM busybox\nRUN echo started; sleep 2419\n"})
    proc = subprocess.Popen(bcli.argv("build", "."), env=bcli.env, cwd=ctx, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    step = ""
    for line in iter(proc.stdout.readline, b""):
        text = line.decode()
        if text.startswith(" ---> Running in "):
            step = text.split()[-1]
        if text.strip() == "started":
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    bcli.steps.add(step)
    assert build_leftovers(bcli.root, [step]) and live_processes("sleep 2419")  # the dead build's container...
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    code, out, err = bcli.in_dir(ctx, "build", ".")
    assert code == 0, out + err
    deadline = time.monotonic() + 10
    while build_leftovers(bcli.root, [step]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert build_leftovers(bcli.root, [step]) == [] and live_processes("sleep 2419") == []  # swept by the next build
