"""A container's runtime state on disk and its live status (L4).

Each container has a *state directory* chosen by the caller (the engine keeps it under the
container's directory; the runtime CLI under ``--root``)::

    <state_dir>/state.json    this record (atomic JSON)
    <state_dir>/config.json   the spec the container was created from (exec reads it)
    <state_dir>/init.sock     where a created init waits for START (gone once started)

The recorded status is only "created" or "running"; :func:`status` refines it from the kernel:
"stopped" once the init is gone (or its pid was reused, caught by the process start time),
"paused" when the freezer holds it. These are the OCI runtime spec's status words.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockernb.errors import InternalError, NoSuchContainer

__all__ = ["State", "load", "process_start_time", "save", "status"]

SCHEMA_VERSION = 1


@dataclass(slots=True)
class State:
    id: str
    pid: int
    pid_start: int
    bundle: str
    config: str  # the config.json the container was created from
    status: str  # "created" | "running" (as recorded)
    created: str  # RFC 3339, UTC
    rootless: bool
    cgroup_kind: str
    cgroup_paths: dict[str, str] = field(default_factory=dict)
    cgroup_controllers: list[str] = field(default_factory=list)
    #: namespace type -> True when the container made its own (exec joins those)
    own_namespaces: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION


def save(state_dir: Path, state: State) -> None:
    from dockernb.store.atomic import write_json

    write_json(state_dir / "state.json", asdict(state), sync=False)


def load(state_dir: Path, container_id: str = "") -> State:
    """Raises NoSuchContainer when there is no state (never created, or deleted)."""
    try:
        raw: Any = json.loads((state_dir / "state.json").read_bytes())
    except FileNotFoundError:
        raise NoSuchContainer(container_id or state_dir.name) from None
    except (OSError, ValueError) as err:
        raise InternalError(f"corrupt runtime state {state_dir / 'state.json'}: {err}") from err
    try:
        known = {k: raw[k] for k in State.__dataclass_fields__ if k in raw}
        return State(**known)
    except TypeError as err:
        raise InternalError(f"corrupt runtime state {state_dir / 'state.json'}: {err}") from err


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None when the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = data[data.rfind(b")") + 2 :].split()
    if fields and fields[0] == b"Z":
        return None  # a zombie has exited already
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(state: State) -> bool:
    return state.pid > 0 and process_start_time(state.pid) == state.pid_start


def status(state: State) -> str:
    """The OCI status word: created, running, paused or stopped."""
    if not alive(state):
        return "stopped"
    if state.status == "created":
        return "created"
    freezer = state.cgroup_paths.get("freezer")
    if freezer:
        try:
            if Path(freezer, "freezer.state").read_text().strip() in ("FROZEN", "FREEZING"):
                return "paused"
        except OSError:
            pass
    elif state.cgroup_kind == "v2":
        try:
            if "frozen 1" in Path(state.cgroup_paths[""], "cgroup.events").read_text():
                return "paused"
        except (OSError, KeyError):
            pass
    return "running"


def exists(state_dir: Path) -> bool:
    return os.path.exists(state_dir / "state.json")
