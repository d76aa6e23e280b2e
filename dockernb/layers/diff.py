"""Filesystem changes to a layer tar, deterministically (L2; for commit and build).

Two sources, docker's two diff drivers:

* :func:`diff_overlay` reads an overlay upper directory: overlay whiteouts (char 0/0) become
  ``.wh.NAME`` entries, opaque directories (``trusted.``/``user.overlay.opaque=y``) get a
  ``.wh..wh..opq`` entry;
* :func:`diff_trees` compares a before/after pair of plain trees (the native snapshotter):
  added and changed paths (type, mode, owner, size, mtime, link target, xattrs) are written,
  removed ones become ``.wh.NAME`` (only the topmost removed path).

Output is deterministic: names sorted bytewise, PAX format, mtimes truncated to seconds as docker
does, no user/group names, no atime/ctime, hardlinks within the layer as link entries. The same
trees give the same bytes, so the same diff_id.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Collection, Iterator
from typing import BinaryIO

from dockernb.layers.resolve import is_whiteout, opaque_xattrs
from dockernb.spec.digest import Digest

__all__ = ["DiffStats", "diff_overlay", "diff_trees"]

_SKIP_XATTRS = ("trusted.overlay.", "user.overlay.")


class DiffStats:
    """What a diff wrote, filled in when passed to :func:`diff_overlay`/:func:`diff_trees`:
    ``entries`` (0: the layer changes nothing, docker's empty layer) and ``content_size``
    (bytes of file content and symlink targets, docker's layer size)."""

    __slots__ = ("content_size", "entries")

    def __init__(self) -> None:
        self.entries = 0
        self.content_size = 0


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.out.write(data)
        return len(data)


def _walk(top: str, rel: str = "", exclude: Collection[str] = ()) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) for everything under ``top``, sorted bytewise, parents first
    (``exclude``: relative paths left out with everything below them)."""
    base = os.path.join(top, rel) if rel else top
    names = sorted(os.listdir(base), key=os.fsencode)
    for name in names:
        path = f"{rel}/{name}" if rel else name
        if path in exclude:
            continue
        st = os.lstat(os.path.join(top, path))
        yield path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(top, path, exclude)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for k in sorted(keys):
        if k.startswith(_SKIP_XATTRS):
            continue
        try:
            out[k] = os.getxattr(path, k, follow_symlinks=False)
        except OSError:
            continue
    return out


class _Writer:
    def __init__(self, out: BinaryIO, stats: DiffStats | None = None) -> None:
        self.stats = stats if stats is not None else DiffStats()
        self.sink = _HashingWriter(out)
        self.tar = tarfile.open(fileobj=self.sink, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        self.links: dict[tuple[int, int], str] = {}

    def add(self, top: str, name: str, st: os.stat_result) -> None:
        self.stats.entries += 1
        path = os.path.join(top, name)
        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)
        xattrs = _xattrs(path)
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()}
        mode = st.st_mode
        if stat.S_ISREG(mode) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in self.links:
            ti.type = tarfile.LNKTYPE
            ti.linkname = self.links[(st.st_dev, st.st_ino)]
            self.tar.addfile(ti)
            return
        if stat.S_ISREG(mode):
            if st.st_nlink > 1:
                self.links[(st.st_dev, st.st_ino)] = name
            ti.size = st.st_size
            self.stats.content_size += st.st_size
            with open(path, "rb") as f:
                self.tar.addfile(ti, f)
            return
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(path)
            self.stats.content_size += len(os.fsencode(ti.linkname))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            return  # sockets do not go into layers
        self.tar.addfile(ti)

    def whiteout(self, name: str) -> None:
        self.stats.entries += 1
        parent, _, base = name.rpartition("/")
        ti = tarfile.TarInfo(f"{parent}/.wh.{base}" if parent else f".wh.{base}")
        ti.uname = ti.gname = ""
        ti.mtime = 0
        self.tar.addfile(ti)

    def close(self) -> Digest:
        self.tar.close()
        return Digest("sha256", self.sink.hash.hexdigest())


def _is_opaque(path: str) -> bool:
    for key in opaque_xattrs():
        try:
            if os.getxattr(path, key, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def diff_overlay(
    upper: str, out: BinaryIO, *, exclude: Collection[str] = (), stats: DiffStats | None = None
) -> Digest:
    """Write the layer tar for an overlay upper directory to ``out``; returns its diff_id.

    ``exclude``: relative paths left out, with their subtrees (a container's mount points).
    """
    w = _Writer(out, stats)
    for name, st in _walk(upper, exclude=exclude):
        if is_whiteout(st):
            w.whiteout(name)
            continue
        w.add(upper, name, st)
        if stat.S_ISDIR(st.st_mode) and _is_opaque(os.path.join(upper, name)):
            w.whiteout(f"{name}/.wh..opq")
    return w.close()


def _changed(a: os.stat_result, b: os.stat_result, pa: str, pb: str) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode) or a.st_mode != b.st_mode:
        return True
    if (a.st_uid, a.st_gid, a.st_rdev) != (b.st_uid, b.st_gid, b.st_rdev):
        return True
    if stat.S_ISDIR(a.st_mode):
        return a.st_mtime_ns != b.st_mtime_ns or _xattrs(pa) != _xattrs(pb)
    if a.st_size != b.st_size or a.st_mtime_ns != b.st_mtime_ns:
        return True
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) != os.readlink(pb)
    return _xattrs(pa) != _xattrs(pb)


def diff_trees(
    before: str, after: str, out: BinaryIO, *, exclude: Collection[str] = (), stats: DiffStats | None = None
) -> Digest:
    """Write the layer tar that turns ``before`` into ``after`` to ``out``; returns its diff_id
    (``exclude``: paths of ``after`` left out, as for :func:`diff_overlay`)."""
    w = _Writer(out, stats)
    removed_dirs: list[str] = []
    after_names = {}
    for name, st in _walk(after, exclude=exclude):
        after_names[name] = st
        pa, pb = os.path.join(before, name), os.path.join(after, name)
        try:
            old = os.lstat(pa)
        except FileNotFoundError:
            old = None
        if old is None or _changed(old, st, pa, pb):
            w.add(after, name, st)
    # deletions, topmost only: sorted walk of `before`, skipping below a removed directory
    for name, _st in _walk(before, exclude=exclude):  # an excluded path is no deletion either
        if any(name.startswith(d + "/") for d in removed_dirs[-1:]):
            continue
        if name not in after_names:
            w.whiteout(name)
            removed_dirs.append(name)
        elif stat.S_IFMT(after_names[name].st_mode) != stat.S_IFMT(_st.st_mode):
            removed_dirs.append(name)  # replaced by another type: its old children went with it
    return w.close()
