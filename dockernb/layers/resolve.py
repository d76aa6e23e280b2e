"""Resolve layer paths inside the extraction root, never outside it, seeing the lower layers too (L2).

A layer is written either into a plain directory (the copy snapshotter: the tree already holds
the lower layers) or into an overlay *upper* directory whose lower layers are separate read-only
directories. In both cases a member's parent directories are resolved the way the kernel would
inside a chroot of the merged tree: symlinks are followed, but an absolute target or a ``..``
never climbs above the root (the semantics of ``openat2(RESOLVE_IN_ROOT)``). A parent that exists
only in a lower layer is "copied up" (created in the upper with the lower's owner and mode), as
overlayfs itself would; whiteouts and opaque directories in the lower layers hide what they hide.

Two strategies, priced in ``bench/fig_unpack.py``:

* ``python``: walk component by component with ``O_NOFOLLOW`` opens, reading symlinks ourselves
  (needed whenever there are lower layers);
* ``openat2``: let the kernel resolve with ``RESOLVE_IN_ROOT`` (only without lower layers),
  falling back to ``python`` for the rare case it cannot create (a dangling symlink parent).
  ``auto`` (the default) picks it whenever it applies: as fast or up to ~20% faster here.

Both cache resolved directories as ``O_PATH`` fds; the cache is dropped whenever the extractor
replaces or removes a directory or symlink, so a later entry always sees the tree as it is.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
import stat
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from dockernb.errors import InvalidLayer
from dockernb.linux.mount import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

__all__ = ["DirRef", "Root", "is_whiteout", "opaque_xattrs"]

_O_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_HOPS = 40  # as the kernel's MAXSYMLINKS
# cached directory fds: a quarter of the soft fd limit (1024 for many users), at most 512
_MAX_CACHED = max(16, min(512, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))


@functools.cache
def _openat2_works() -> bool:
    """openat2(2) exists (Linux >= 5.6) and is not filtered by a seccomp profile."""
    try:
        os.close(openat2(-100, "/", os.O_PATH | os.O_DIRECTORY, RESOLVE_IN_ROOT))  # AT_FDCWD
    except OSError:
        return False
    return True


def opaque_xattrs() -> tuple[str, ...]:
    """The xattrs that mark an opaque directory, for reading lower layers written by either mode."""
    return ("trusted.overlay.opaque", "user.overlay.opaque")


def is_whiteout(st: os.stat_result) -> bool:
    """An overlay whiteout: a character device 0/0."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque_path(path: str) -> bool:
    for name in opaque_xattrs():
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


@dataclass(slots=True)
class DirRef:
    """A directory in the upper layer: its O_PATH fd, real path (relative, no symlinks), lowers."""

    fd: int
    real: str
    #: lower layer roots whose copy of this directory merges into it (top first)
    lowers: tuple[str, ...] = ()
    #: lower stat to copy when this directory was created by a copy-up (for its final metadata)
    copied_from: os.stat_result | None = field(default=None)


class Root:
    """The target of one layer application: an upper directory over optional lower directories."""

    def __init__(
        self, upper: str, lowers: Sequence[str] = (), *, strategy: str = "auto", overlay: bool = False
    ) -> None:
        self.upper = os.path.realpath(upper)
        self.lowers = tuple(lowers)
        self.overlay = overlay
        if strategy == "auto":
            # bench/fig_unpack.py: openat2 is as fast or up to ~20% faster where it can be used
            strategy = "openat2" if _openat2_works() else "python"
        if strategy not in ("python", "openat2"):
            raise ValueError(f"unknown resolution strategy {strategy!r}")
        self.strategy = "python" if self.lowers else strategy
        self.root = DirRef(os.open(self.upper, _O_DIR), "", self.lowers)
        self._by_real: dict[str, DirRef] = {"": self.root}
        self._by_path: dict[str, DirRef] = {"": self.root}
        #: copy-ups made while resolving: (real path, lower stat), for the final metadata pass
        self.copied_up: list[tuple[str, os.stat_result]] = []
        self.opaque: set[str] = set()
        #: directories that existed before this layer, with their stat (their times are restored)
        self.existing: dict[str, os.stat_result] = {"": os.fstat(self.root.fd)}

    def close(self) -> None:
        self.invalidate()
        os.close(self.root.fd)

    def invalidate(self) -> None:
        """Forget every resolved directory (after a directory or symlink was replaced or removed)."""
        for ref in self._by_real.values():
            if ref is not self.root:
                os.close(ref.fd)
        self._by_real = {"": self.root}
        self._by_path = {"": self.root}

    def proc_path(self, ref: DirRef, name: str = "") -> str:
        """A path to ``name`` in ``ref`` for calls that take no dir fd (xattrs, chmod of O_PATH fds)."""
        return f"/proc/self/fd/{ref.fd}/{name}" if name else f"/proc/self/fd/{ref.fd}"

    # --- resolution ---------------------------------------------------------------------

    def dir(self, path: str, *, create: bool = True) -> DirRef | None:
        """The directory at ``path`` (a cleaned relative path), created if missing and ``create``."""
        ref = self._by_path.get(path)
        if ref is not None:
            return ref
        if len(self._by_real) > _MAX_CACHED:
            self.invalidate()
        if self.strategy == "openat2":
            ref = self._openat2(path, create)
        else:
            ref = self._walk(path, create)
        if ref is not None:
            self._by_path[path] = ref
        return ref

    def _remember(self, ref: DirRef) -> DirRef:
        old = self._by_real.get(ref.real)
        if old is not None:
            os.close(ref.fd)
            return old
        self._by_real[ref.real] = ref
        return ref

    def _openat2(self, path: str, create: bool) -> DirRef | None:
        try:
            # the last component may be a symlink too: the kernel follows it, inside the root
            fd = openat2(self.root.fd, path, _O_DIR & ~os.O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        except OSError as err:
            if err.errno == errno.ENOENT:
                if not create:
                    return None
                parent, _, base = path.rpartition("/")
                pref = self.dir(parent, create=True)
                assert pref is not None
                try:
                    os.mkdir(base, 0o755, dir_fd=pref.fd)
                except FileExistsError:
                    return self._walk(path, create)  # a dangling symlink or a whiteout: the slow path knows
                return self._openat2(path, create)
            if err.errno in (errno.ENOTDIR, errno.ELOOP):
                raise InvalidLayer(f"cannot create {path!r}: {os.strerror(err.errno).lower()}") from None
            raise
        real = os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), self.upper)
        real = "" if real == "." else real
        if real not in self._by_real:
            self.existing.setdefault(real, os.fstat(fd))
        return self._remember(DirRef(fd, real))

    def _child_lowers(self, parent: DirRef, name: str, start: int = 0) -> tuple[str, ...]:
        """Lower roots (from ``parent.lowers[start]`` down) whose ``name`` is a directory that merges."""
        out = []
        for lower in parent.lowers[start:]:
            p = os.path.join(lower, parent.real, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break  # a file or a whiteout ends the merge
            out.append(lower)
            if _is_opaque_path(p):
                break
        return tuple(out)

    def _walk(self, path: str, create: bool) -> DirRef | None:
        parts = deque(path.split("/")) if path else deque()
        cur = self.root
        hops = 0
        while parts:
            c = parts.popleft()
            if c in ("", "."):
                continue
            if c == "..":
                if cur.real:
                    up = cur.real.rpartition("/")[0]
                    found = self._by_real.get(up) or self._walk(up, False)
                    assert found is not None  # a real path's parents exist: we came through them
                    cur = found
                continue
            real = f"{cur.real}/{c}" if cur.real else c
            cached = self._by_real.get(real)
            if cached is not None:
                cur = cached
                continue
            try:
                st: os.stat_result | None = os.lstat(c, dir_fd=cur.fd)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                self.existing.setdefault(real, st)
                fd = os.open(c, _O_DIR, dir_fd=cur.fd)
                lowers = () if real in self.opaque or not cur.lowers else self._child_lowers(cur, c)
                cur = self._remember(DirRef(fd, real, lowers))
                continue
            if st is not None and stat.S_ISLNK(st.st_mode):
                target = os.readlink(c, dir_fd=cur.fd)
                hops = self._follow(target, parts, hops, path)
                cur = self.root if target.startswith("/") else cur
                continue
            if st is not None and not (self.overlay and is_whiteout(st)):
                raise InvalidLayer(f"cannot create {path!r}: {real!r} is not a directory")
            if st is None and cur.lowers:
                kind, lst, index = self._lookup_lowers(cur, c)
                if kind == "link":
                    target = os.readlink(os.path.join(cur.lowers[index], cur.real, c))
                    hops = self._follow(target, parts, hops, path)
                    cur = self.root if target.startswith("/") else cur
                    continue
                if kind == "other":
                    raise InvalidLayer(f"cannot create {path!r}: {real!r} is not a directory")
                if kind == "dir":
                    # present only below: copy it up (even for a lookup; overlayfs would too)
                    assert lst is not None
                    os.mkdir(c, 0o700, dir_fd=cur.fd)
                    fd = os.open(c, _O_DIR, dir_fd=cur.fd)
                    try:
                        os.chown(c, lst.st_uid, lst.st_gid, dir_fd=cur.fd, follow_symlinks=False)
                    except OSError:
                        pass  # unmapped owner in a one-id namespace: keep ours
                    self.copied_up.append((real, lst))
                    cur = self._remember(DirRef(fd, real, self._child_lowers(cur, c, index), lst))
                    continue
            if not create:
                return None
            if st is not None:  # a whiteout in this very layer: the directory comes back, opaque
                os.unlink(c, dir_fd=cur.fd)
                self.opaque.add(real)
            os.mkdir(c, 0o755, dir_fd=cur.fd)
            fd = os.open(c, _O_DIR, dir_fd=cur.fd)
            cur = self._remember(DirRef(fd, real, ()))
        return cur

    def _follow(self, target: str, parts: deque[str], hops: int, path: str) -> int:
        hops += 1
        if hops > _MAX_HOPS:
            raise InvalidLayer(f"cannot create {path!r}: too many levels of symbolic links")
        parts.extendleft(reversed(target.split("/")))
        return hops

    def _lookup_lowers(self, cur: DirRef, name: str) -> tuple[str, os.stat_result | None, int]:
        """What ``name`` is in the merged lower layers: ("dir"|"link"|"other"|"none", stat, index)."""
        for i, lower in enumerate(cur.lowers):
            p = os.path.join(lower, cur.real, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if is_whiteout(st):
                return "none", None, i
            if stat.S_ISDIR(st.st_mode):
                return "dir", st, i
            if stat.S_ISLNK(st.st_mode):
                return "link", st, i
            return "other", st, i
        return "none", None, -1

    def lower_entry(self, parent: DirRef, name: str) -> tuple[str, os.stat_result] | None:
        """The lower-layer path and stat of ``name`` in ``parent`` when it is visible there (not hidden)."""
        if parent.real in self.opaque:
            return None
        for lower in parent.lowers:
            p = os.path.join(lower, parent.real, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            return (None if is_whiteout(st) else (p, st))
        return None
