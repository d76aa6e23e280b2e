"""What a container changed in its filesystem: ``docker diff``'s A/C/D list, and what a commit leaves out (L2).

docker keeps the files the runtime mounts over (``/etc/hosts``, ``/etc/resolv.conf``,
``/etc/hostname``, ``/proc``, ``/sys``, ``/dev/pts``, ``/dev/shm``, ``/dev/console``,
``/.dockerenv``, ``/etc/mtab``) in an "init" layer between the image and the container's writable
layer, so they never show in ``diff`` nor go into a commit. dockernb's runtime makes the missing
ones as mount points in the writable layer itself; :func:`hidden_paths` finds them, and the
directories that exist there only to hold them, so that :func:`overlay_changes`,
:func:`tree_changes` and the layer writers (``layers.diff``'s ``exclude``) leave them out.

The change rules are moby's (pkg/archive/changes.go): for an overlay upper directory, a whiteout
or an opaque directory is ``D``, an entry the lower layers lack is ``A``, one they have is ``C``
unless it is a directory of the same size, mode and mtime; the parent of an ``A``/``D`` entry is
``C`` if not listed yet. For two plain trees (the native snapshotter), ``ChangesDirs``: stat
differences (mode, owner, device; size and mtime for non-directories), deletions at their top,
and a directory listed ``C`` when something inside it changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from dockernb.layers.resolve import is_whiteout, opaque_xattrs

__all__ = ["INIT_PATHS", "Change", "hidden_paths", "overlay_changes", "tree_changes"]

#: docker's init layer (daemon/initlayer): what the runtime mounts over, relative to the root
INIT_PATHS = (".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/hostname", "etc/hosts", "etc/mtab",
              "etc/resolv.conf", "proc", "sys")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """One line of ``docker diff``: ``kind`` is ``A`` (added), ``C`` (changed) or ``D`` (deleted)."""

    kind: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _lower_stat(lowers: Sequence[str], rel: str) -> os.stat_result | None:
    for lower in lowers:
        st = _lstat(os.path.join(lower, rel))
        if st is not None:
            return st
    return None


def _same_owner_mode(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_mode, a.st_uid, a.st_gid) == (b.st_mode, b.st_uid, b.st_gid)


def hidden_paths(top: str, before: Callable[[str], os.stat_result | None]) -> tuple[set[str], set[str]]:
    """(hidden, relaxed) relative paths of the writable tree ``top``.

    ``hidden``: init-layer paths the runtime made in ``top`` (absent ``before``, the image's
    filesystem), and the directories made only to hold them. ``relaxed``: directories that hold
    hidden entries and others; making a mount point changed their mtime, which must not count.
    """
    hidden = {p for p in INIT_PATHS if _lstat(os.path.join(top, p)) is not None and before(p) is None}
    relaxed: set[str] = set()
    # the directories docker's init layer makes to hold those (/etc, /dev), even when the runtime's
    # mount on them leaves them empty here (/dev is a tmpfs: its nodes are not in the layer)
    ancestors = sorted({"/".join(p.split("/")[:i]) for p in INIT_PATHS for i in range(1, p.count("/") + 1)},
                       key=lambda a: -a.count("/"))  # fmt: skip
    for anc in ancestors:
        here = _lstat(os.path.join(top, anc))
        if here is None or not stat.S_ISDIR(here.st_mode):
            continue
        try:
            children = os.listdir(os.path.join(top, anc))
        except OSError:
            continue
        old = before(anc)
        only_ours = all(f"{anc}/{c}" in hidden for c in children)
        if only_ours and (old is None or _same_owner_mode(old, here)):
            hidden.add(anc)
        elif any(f"{anc}/{c}" in hidden for c in children):
            relaxed.add(anc)
    return hidden, relaxed


def _walk(top: str, skip: set[str], rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) under ``top``, sorted bytewise, parents first, ``skip``ped subtrees left out."""
    try:
        names = sorted(os.listdir(os.path.join(top, rel) if rel else top), key=os.fsencode)
    except OSError:
        return
    for name in names:
        path = f"{rel}/{name}" if rel else name
        if path in skip:
            continue
        st = os.lstat(os.path.join(top, path))
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(top, skip, path)


def _opaque(path: str) -> bool:
    for key in opaque_xattrs():
        try:
            if os.getxattr(path, key, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _same_fs_time(a: int, b: int) -> bool:
    # moby's sameFsTime: equal, or equal seconds when one side has no sub-second part
    return a == b or (a // 10**9 == b // 10**9 and (a % 10**9 == 0 or b % 10**9 == 0))


def overlay_changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """``docker diff`` of an overlay upper directory over its ``lowers`` (top first)."""
    hidden, relaxed = hidden_paths(upper, lambda rel: _lower_stat(lowers, rel))
    changes: list[Change] = []
    changed_dirs: set[str] = set()
    for rel, st in _walk(upper, hidden):
        path = "/" + rel
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_whiteout(st) or (is_dir and _opaque(os.path.join(upper, rel))):
            kind = "D"
        else:
            kind = "A"
            old = _lower_stat(lowers, rel)
            if old is not None:
                if is_dir and stat.S_ISDIR(old.st_mode):
                    if rel in relaxed:
                        same = _same_owner_mode(old, st)
                    else:
                        same = (old.st_size == st.st_size and old.st_mode == st.st_mode
                                and _same_fs_time(old.st_mtime_ns, st.st_mtime_ns))  # fmt: skip
                    if same:
                        continue
                kind = "C"
        if is_dir:
            changed_dirs.add(path)
        if kind in ("A", "D"):
            parent = os.path.dirname(path)
            if parent != "/" and parent not in changed_dirs:
                changes.append(Change("C", parent))
                changed_dirs.add(parent)
        changes.append(Change(kind, path))
    return changes


def _stat_different(a: os.stat_result, b: os.stat_result) -> bool:
    if (a.st_mode, a.st_uid, a.st_gid, a.st_rdev) != (b.st_mode, b.st_uid, b.st_gid, b.st_rdev):
        return True
    if stat.S_ISDIR(a.st_mode):
        return False  # size and mtime say nothing about a directory's content
    return not _same_fs_time(a.st_mtime_ns, b.st_mtime_ns) or a.st_size != b.st_size


def tree_changes(before: str, after: str) -> list[Change]:
    """``docker diff`` of a plain tree ``after`` against the image's tree ``before`` (moby's ChangesDirs)."""
    hidden, _ = hidden_paths(after, lambda rel: _lstat(os.path.join(before, rel)))

    def visit(rel: str, out: list[Change]) -> None:
        here = os.path.join(after, rel) if rel else after
        try:
            names = sorted(os.listdir(here), key=os.fsencode)
        except OSError:
            names = []
        for name in names:
            path = f"{rel}/{name}" if rel else name
            if path in hidden:
                continue
            new = os.lstat(os.path.join(after, path))
            old = _lstat(os.path.join(before, path))
            if old is None:
                out.append(Change("A", "/" + path))
                if stat.S_ISDIR(new.st_mode):
                    _added(path, out)
                continue
            marked = _stat_different(old, new)
            if marked:
                out.append(Change("C", "/" + path))
            if stat.S_ISDIR(new.st_mode) and stat.S_ISDIR(old.st_mode):
                sub: list[Change] = []
                visit(path, sub)
                if sub and not marked:
                    out.append(Change("C", "/" + path))
                out.extend(sub)
        try:
            gone = sorted(set(os.listdir(os.path.join(before, rel) if rel else before)) - set(names), key=os.fsencode)
        except OSError:
            gone = []
        for name in gone:
            path = f"{rel}/{name}" if rel else name
            out.append(Change("D", "/" + path))

    def _added(rel: str, out: list[Change]) -> None:
        for name in sorted(os.listdir(os.path.join(after, rel)), key=os.fsencode):
            path = f"{rel}/{name}"
            out.append(Change("A", "/" + path))
            if stat.S_ISDIR(os.lstat(os.path.join(after, path)).st_mode):
                _added(path, out)

    result: list[Change] = []
    visit("", result)
    return result
