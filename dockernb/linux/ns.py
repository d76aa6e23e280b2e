"""Namespaces and user-namespace id maps (layer L1).

Owns the table from OCI namespace names to clone flags and /proc/<pid>/ns names, the rootless id
mapping (the caller's uid as root, plus its /etc/subuid and /etc/subgid ranges through the setuid
helpers newuidmap/newgidmap; a single mapping when there are no ranges or helpers), and writing
those maps for a child process from outside its user namespace.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockernb.linux.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)
from dockernb.spec.runtime import IDMapping

__all__ = [
    "CLONE_FLAGS",
    "PROC_NAMES",
    "SubIdRange",
    "host_id_for",
    "rootless_mappings",
    "subid_ranges",
    "write_id_maps",
]

#: OCI namespace type -> clone(2) flag
CLONE_FLAGS: dict[str, int] = {
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
}

#: OCI namespace type -> name under /proc/<pid>/ns
PROC_NAMES: dict[str, str] = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
}

#: the order to join namespaces of a running container: user first (it grants the rights for the
#: others), mount last (after it the host paths under /proc are gone)
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "mount")


@dataclass(frozen=True, slots=True)
class SubIdRange:
    start: int
    count: int


def subid_ranges(user: str, uid: int, file: str) -> tuple[SubIdRange, ...]:
    """The ranges ``user`` (or its uid) owns in /etc/subuid or /etc/subgid (shadow's format)."""
    try:
        lines = Path(file).read_text().splitlines()
    except OSError:
        return ()
    found = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            found.append(SubIdRange(int(parts[1]), int(parts[2])))
        except ValueError:
            continue
    return tuple(found)


def rootless_mappings(
    uid: int | None = None, gid: int | None = None, *, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid"
) -> tuple[tuple[IDMapping, ...], tuple[IDMapping, ...]]:
    """(uid maps, gid maps) for a rootless container: the caller is root, subordinate ids follow.

    Without newuidmap/newgidmap or without ranges for the user, only the caller's own ids are
    mapped (to 0), the one mapping an unprivileged process may write itself.
    """
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    uids: list[IDMapping] = [IDMapping(container_id=0, host_id=uid, size=1)]
    gids: list[IDMapping] = [IDMapping(container_id=0, host_id=gid, size=1)]
    helpers = shutil.which("newuidmap") and shutil.which("newgidmap")
    if helpers:
        for out, ranges in ((uids, subid_ranges(user, uid, subuid)), (gids, subid_ranges(user, uid, subgid))):
            next_id = 1
            for r in ranges:
                out.append(IDMapping(container_id=next_id, host_id=r.start, size=r.count))
                next_id += r.count
    # both or neither: a map with ranges for uids but not gids would make chown fail oddly
    if len(uids) == 1 or len(gids) == 1:
        uids, gids = uids[:1], gids[:1]
    return tuple(uids), tuple(gids)


def host_id_for(container_id: int, maps: Sequence[IDMapping]) -> int | None:
    """The host id ``container_id`` maps to, or None when it is not mapped."""
    for m in maps:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + container_id - m.container_id
    return None


def _write(path: str, text: str) -> None:
    # one write(2), no O_CREAT/O_TRUNC: the map files accept exactly one write
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _lines(maps: Sequence[IDMapping]) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)


def _helper(tool: str, pid: int, maps: Sequence[IDMapping]) -> None:
    argv = [tool, str(pid)]
    for m in maps:
        argv += [str(m.container_id), str(m.host_id), str(m.size)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OSError(1, f"{tool} {pid}: {proc.stderr.strip() or f'exit status {proc.returncode}'}")


def write_id_maps(pid: int, uid_maps: Sequence[IDMapping], gid_maps: Sequence[IDMapping]) -> None:
    """Write the id maps of ``pid``'s new user namespace, from the parent user namespace.

    Root writes any map directly. An unprivileged caller writes a single self-mapping directly
    (denying setgroups first, as the kernel requires) and anything wider through the setuid
    helpers, which check /etc/subuid and /etc/subgid.
    """
    proc = f"/proc/{pid}"
    if os.geteuid() == 0:
        _write(f"{proc}/uid_map", _lines(uid_maps))
        _write(f"{proc}/gid_map", _lines(gid_maps))
        return
    single = (
        len(uid_maps) == 1
        and len(gid_maps) == 1
        and uid_maps[0].host_id == os.geteuid()
        and gid_maps[0].host_id == os.getegid()
        and uid_maps[0].size == gid_maps[0].size == 1
    )
    if single:
        _write(f"{proc}/uid_map", _lines(uid_maps))
        _write(f"{proc}/setgroups", "deny")
        _write(f"{proc}/gid_map", _lines(gid_maps))
        return
    _helper("newuidmap", pid, uid_maps)
    _helper("newgidmap", pid, gid_maps)
