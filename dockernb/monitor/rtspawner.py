"""The real spawner: a container's init made by dockernb's runtime, inside the monitor (layer L4).

:class:`RuntimeSpawner` is what the engine hands the :class:`~dockernb.monitor.launcher.Launcher`:
``create`` is ``runtime.create`` with the container's OCI spec, its snapshot mounts (mounted in
the container's own mount namespace: the host never sees them) and the stdio the monitor made;
``start`` is ``runtime.start``; ``abort`` is a forced ``runtime.delete``. It runs in the monitor
process M (a subreaper out of the caller's session), so the init is M's child.

The runtime's warnings (limits this host cannot apply, e.g. rootless without cgroup delegation)
are written to ``warnings.json`` beside the runtime's state directory, for the engine to print.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from dockernb import runtime as rt
from dockernb.errors import DockernbError
from dockernb.monitor.spawner import Stdio, Task
from dockernb.runtime import record
from dockernb.spec.mount import Mount
from dockernb.spec.runtime import Spec

__all__ = ["RuntimeSpawner", "WARNINGS_FILE", "oom_file_of"]

#: written next to the runtime's state directory when create produced warnings
WARNINGS_FILE = "warnings.json"


def oom_file_of(state_dir: Path) -> str:
    """The cgroup file whose ``oom_kill N`` line counts the container's OOM kills ("" without one)."""
    try:
        s = record.load(state_dir)
    except DockernbError:  # no state, no cgroups: nothing to watch
        return ""
    mem = s.cgroup_paths.get("memory")
    if s.cgroup_kind == "v1" and mem:
        return os.path.join(mem, "memory.oom_control")
    unified = s.cgroup_paths.get("")
    if s.cgroup_kind == "v2" and unified:
        return os.path.join(unified, "memory.events")
    return ""


class RuntimeSpawner:
    """Spawner over :mod:`dockernb.runtime` for one container run."""

    def __init__(self, container_id: str, state_dir: Path, spec: Spec, root_mounts: Sequence[Mount] = ()) -> None:
        self.container_id = container_id
        self.state_dir = Path(state_dir)
        self.spec = spec
        self.root_mounts = tuple(root_mounts)

    def create(self, stdio: Stdio) -> Task:
        # the monitor runs with umask 077 (its attach socket is born private); the container's
        # processes get docker's 022, and so do its cgroup directories (inherited at the clone)
        saved = os.umask(0o022)
        try:
            created = rt.create(
                self.container_id,
                state_dir=self.state_dir,
                spec=self.spec,
                stdio=rt.Stdio(stdio.stdin, stdio.stdout, stdio.stderr),
                root_mounts=self.root_mounts,
            )
        finally:
            os.umask(saved)
        warnings = self.state_dir.parent / WARNINGS_FILE
        if created.warnings:
            warnings.write_text(json.dumps(created.warnings))
        else:
            try:
                warnings.unlink()
            except FileNotFoundError:
                pass
        return Task(pid=created.pid, pty_master=created.pty_master, oom_file=oom_file_of(self.state_dir))

    def start(self, task: Task) -> None:
        rt.start(self.state_dir)

    def abort(self, task: Task) -> None:
        rt.delete(self.state_dir, force=True)
