"""COPY, ADD and WORKDIR on an image's root filesystem, with docker's rules (layer L5).

:func:`copy_into` and :func:`make_workdir` work on a directory holding the step's filesystem:
the mounted snapshot (in a child with a private mount namespace, inside the user namespace when
rootless: :mod:`dockernb.build.steps`), or a plain directory in unit tests. Every path of the
image is resolved inside that root (``openat2(RESOLVE_IN_ROOT)``): symlinks in the destination
are followed as they would be in a chroot, never out of it; entries are created with ``*at`` calls
on directory descriptors and ``O_NOFOLLOW``, so nothing is written through a symlink.

docker's rules (classic builder: builder/dockerfile/copy.go, internals.go):

* a directory source: its *contents* go into the destination (made 0755 when missing);
* a file source goes to ``dest/<name>`` when ``dest`` ends in ``/`` or is an existing directory
  (following symlinks), else to ``dest``; missing parents are made 0755;
* ADD of a local archive (tar, plain or gzip/bzip2/xz/zstd): unpacked into the destination by the
  safe layer extractor (:func:`dockernb.layers.apply.apply_layer`), owners from the archive;
* owners: ``--chown`` (names looked up in the image's /etc/passwd and /etc/group, numbers taken
  as they are, a lone user also names the group) for everything copied and every directory
  made; root otherwise; ``COPY --from`` without ``--chown`` keeps the source's owners;
* ``--chmod``: every file and directory copied;
* in a copied tree an existing entry is replaced unless both are directories (docker's untar:
  the directory then takes the source's mode and times); symlinks are copied, not followed;
  hardlinks inside one copied tree stay hardlinks.

Determinism (same inputs, same diff_id): copied entries keep their source's mtime; inline
documents and directories made here get mtime 0 (the epoch); directories that existed keep
their mtime (docker's would become "now").
"""

from __future__ import annotations

import bz2
import errno
import io
import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockernb.build.executor import CopySource, CopySpec
from dockernb.errors import BuildStepFailed, DockernbError, InvalidArgument, NoSpaceLeft
from dockernb.layers.apply import WhiteoutMode, apply_layer
from dockernb.linux.mount import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2
from dockernb.runtime.users import parse_group, parse_passwd

__all__ = ["CopyResult", "copy_into", "make_workdir", "resolve_chown"]

_RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
_O_PATHDIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_EPOCH = (0, 0)  # (atime, mtime) in ns of what is made here


@dataclass(slots=True)
class CopyResult:
    """What a copy did (for the log and tests): entries written, notes about what was skipped."""

    entries: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Owner:
    uid: int
    gid: int


def _fd_path(fd: int, name: str = "") -> str:
    return f"/proc/self/fd/{fd}/{name}" if name else f"/proc/self/fd/{fd}"


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class _Root:
    """The destination tree: lookups and creation inside it, and every directory's final metadata.

    Writing into a directory changes its mtime, so directories get their metadata once, at the
    end (:meth:`finish`): those made here mtime 0, those copied the source's, those that existed
    and gained or lost an entry their own times from before.
    """

    def __init__(self, root: str, instruction: str) -> None:
        self.fd = os.open(root, _O_PATHDIR)
        self.instruction = instruction
        #: (dev, ino) -> [O_PATH fd, owner or None (keep), mode or None (keep), (atime, mtime) in ns]
        self._final: dict[tuple[int, int], tuple[int, _Owner | None, int | None, tuple[int, int]]] = {}
        self.result = CopyResult()

    def close(self) -> None:
        for fd, *_rest in self._final.values():
            os.close(fd)
        self._final.clear()
        os.close(self.fd)

    def fail(self, message: str) -> BuildStepFailed:
        return BuildStepFailed(f"{self.instruction} failed: {message}")

    # --- lookups -------------------------------------------------------------------------

    def open(self, path: str, *, follow: bool = True) -> int | None:
        """An O_PATH fd of ``path`` resolved in the root, or None when it does not exist."""
        rel = "/".join(_split(path)) or "."
        flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
        try:
            return openat2(self.fd, rel, flags, _RESOLVE)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def is_dir(self, path: str) -> bool:
        fd = self.open(path)
        if fd is None:
            return False
        try:
            return stat.S_ISDIR(os.fstat(fd).st_mode)
        finally:
            os.close(fd)

    def read_file(self, path: str) -> str | None:
        fd = self.open(path)
        if fd is None:
            return None
        try:
            with open(_fd_path(fd), errors="replace") as f:
                return f.read()
        except OSError:
            return None
        finally:
            os.close(fd)

    # --- final metadata --------------------------------------------------------------------

    def touch(self, dir_fd: int) -> None:
        """An entry is about to be added to or removed from ``dir_fd``: keep its times (unless set already)."""
        st = os.fstat(dir_fd)
        key = (st.st_dev, st.st_ino)
        if key not in self._final:
            self._final[key] = (os.dup(dir_fd), None, None, (st.st_atime_ns, st.st_mtime_ns))

    def settle(self, dir_fd: int, owner: _Owner | None, mode: int | None, times: tuple[int, int]) -> None:
        """``dir_fd`` ends with this metadata (the last call for a directory wins)."""
        st = os.fstat(dir_fd)
        key = (st.st_dev, st.st_ino)
        old = self._final.get(key)
        self._final[key] = (old[0] if old else os.dup(dir_fd), owner, mode, times)

    def finish(self) -> None:
        for fd, owner, mode, times in self._final.values():
            try:
                own(fd, owner, mode, times)
            except FileNotFoundError:
                pass  # replaced by a later entry

    # --- changes -------------------------------------------------------------------------

    def makedirs(self, path: str, owner: _Owner, _hops: int = 0) -> int:
        """An O_PATH fd of the directory ``path``, made (0755, ``owner``, mtime 0) with missing parents.

        A dangling symlink on the way is followed as docker's FollowSymlinkInScope does: its target
        (inside the root) is made instead.
        """
        parts = _split(path)
        cur = os.dup(self.fd)
        try:
            for i, name in enumerate(parts):
                sub = "/".join(parts[: i + 1])
                try:
                    nxt = openat2(self.fd, sub, _O_PATHDIR, _RESOLVE)
                except FileNotFoundError:
                    try:
                        st: os.stat_result | None = os.lstat(name, dir_fd=cur)
                    except FileNotFoundError:
                        st = None
                    if st is not None and stat.S_ISLNK(st.st_mode):
                        if _hops >= 40:
                            raise self.fail(f"mkdir {'/' + sub}: too many levels of symbolic links") from None
                        target = os.readlink(name, dir_fd=cur)
                        here = "" if target.startswith("/") else self.relative(cur)
                        again = posixpath.normpath("/" + "/".join([here, target, *parts[i + 1 :]]))
                        os.close(cur)
                        cur = -1
                        return self.makedirs(again, owner, _hops + 1)
                    self.touch(cur)
                    try:
                        os.mkdir(name, 0o755, dir_fd=cur)
                    except FileExistsError:
                        raise self.fail(f"mkdir {'/' + sub}: file exists") from None
                    nxt = openat2(cur, name, _O_PATHDIR | os.O_NOFOLLOW, 0)
                    own(nxt, owner, 0o755, None)
                    self.settle(nxt, None, None, _EPOCH)
                except NotADirectoryError:
                    raise self.fail(f"mkdir {'/' + sub}: not a directory") from None
                os.close(cur)
                cur = nxt
            return cur
        except BaseException:
            if cur >= 0:
                os.close(cur)
            raise

    def relative(self, fd: int) -> str:
        """The path of ``fd`` (a directory resolved in the root) from the root, without symlinks."""
        top = os.readlink(_fd_path(self.fd)).rstrip("/")
        real = os.readlink(_fd_path(fd))
        return real[len(top) :].lstrip("/") if real.startswith(top) else ""

    def clear(self, parent: int, name: str, *, keep_dir: bool) -> os.stat_result | None:
        """Make room for ``name`` in ``parent``: remove what is there unless it is a directory we keep."""
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return None
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return st
        self.touch(parent)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)
        return None


def own(fd: int, owner: _Owner | None, mode: int | None, times: tuple[int, int] | None) -> None:
    """chown, then chmod (chown clears set-id bits), then times, of a non-symlink entry by its fd."""
    p = _fd_path(fd)
    if owner is not None:
        os.chown(p, owner.uid, owner.gid)
    if mode is not None:
        os.chmod(p, mode)
    if times is not None:
        os.utime(p, ns=times)


# --- sources ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """One thing to write: its kind and metadata, and how to read it."""

    rel: str  # below the copy's destination ("" for the destination itself)
    st: os.stat_result | None  # None: an inline document
    read: str = ""  # a path to open for its content (file) or link target (symlink)
    data: bytes | None = None


class _Tree:
    """A directory source walked depth first, names sorted (docker's order), symlinks not followed."""

    def __init__(self, top: str, members: tuple[str, ...] | None) -> None:
        self.top = top
        self.members = members

    def __iter__(self) -> Iterator[_Entry]:
        if self.members is not None:
            for rel in self.members:
                path = os.path.join(self.top, rel)
                yield _Entry(rel, os.lstat(path), path)
            return
        yield from self._walk("")

    def _walk(self, rel: str) -> Iterator[_Entry]:
        base = os.path.join(self.top, rel) if rel else self.top
        for name in sorted(os.listdir(base), key=os.fsencode):
            sub = f"{rel}/{name}" if rel else name
            path = os.path.join(self.top, sub)
            st = os.lstat(path)
            yield _Entry(sub, st, path)
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk(sub)


# --- owners ----------------------------------------------------------------------------------


def resolve_chown(spec: str, passwd: str | None, group: str | None) -> tuple[int, int]:
    """docker's ``parseChownFlag``: ``user[:group]``; numbers as they are, names from the image's files."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidArgument(f"invalid chown string format: {spec}")
    user, grp = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    prefix = "unable to convert uid/gid chown string to host mapping: "
    if re.fullmatch(r"\d+", user):
        uid = int(user)
    else:
        found = [u for u in parse_passwd(passwd or "") if u.name == user]
        if not found:
            reason = f"no such user: {user}" if passwd is not None else "open /etc/passwd: no such file or directory"
            raise InvalidArgument(f"{prefix}can't find uid for user {user}: {reason}")
        uid = found[0].uid
    if re.fullmatch(r"\d+", grp):
        gid = int(grp)
    else:
        groups = [g for g in parse_group(group or "") if g.name == grp]
        if not groups:
            reason = f"no such group: {grp}" if group is not None else "open /etc/group: no such file or directory"
            raise InvalidArgument(f"{prefix}can't find gid for group {grp}: {reason}")
        gid = groups[0].gid
    return uid, gid


# --- the copy ------------------------------------------------------------------------------------


def _archive_reader(path: str) -> io.BufferedIOBase | None:
    """A reader of ``path`` for the extractor when it is a tar archive (docker's IsArchivePath), else None.

    bzip2 and xz are inflated here; plain, gzip and zstd archives are read as they are (the
    extractor inflates those itself).
    """
    with open(path, "rb") as f:
        head = f.read(6)

    def opener() -> io.BufferedIOBase:
        if head.startswith(b"BZh"):
            return bz2.open(path, "rb")
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.open(path, "rb")
        return open(path, "rb")  # noqa: SIM115 - the caller closes it

    from dockernb.layers.compression import open_decompressed

    block = b""
    try:
        with opener() as probe:
            dec = open_decompressed(probe)
            while len(block) < 512:
                more = dec.read(512 - len(block))
                if not more:
                    break
                block += more
    except (OSError, EOFError, lzma.LZMAError, DockernbError):
        return None  # not a valid compressed stream: ADD copies it as a file
    return opener() if _is_tar_header(block) else None


def _is_tar_header(block: bytes) -> bool:
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


class _Copier:
    def __init__(self, root: _Root, spec: CopySpec, from_root: str | None) -> None:
        self.root = root
        self.spec = spec
        self.from_root = from_root
        self.owner: _Owner | None = None  # None: keep the source's (COPY --from without --chown)
        if spec.chown:
            uid, gid = resolve_chown(spec.chown, root.read_file("/etc/passwd"), root.read_file("/etc/group"))
            self.owner = _Owner(uid, gid)
        elif not spec.preserve_ownership:
            self.owner = _Owner(0, 0)
        self.dir_owner = self.owner or _Owner(0, 0)
        self.links: dict[tuple[int, int], tuple[int, str]] = {}

    def close(self) -> None:
        for fd, _name in self.links.values():
            os.close(fd)
        self.links.clear()

    # --- sources -> entries --------------------------------------------------------------

    def _image_sources(self, src: CopySource) -> list[tuple[str, os.stat_result]]:
        """``src.image_path`` (globs allowed) resolved in the source image: (path in the host view, stat)."""
        assert self.from_root is not None
        pattern = src.image_path.lstrip("/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        parts = _split(pattern)
        from dockernb.build.context import has_wildcards, match_path

        found: list[str] = [""]
        for part in parts:
            nxt: list[str] = []
            for base in found:
                if has_wildcards(part):
                    real = self._resolve_source(base)
                    if real is None or not os.path.isdir(real):
                        continue
                    for name in sorted(os.listdir(real), key=os.fsencode):
                        if match_path(part, name):
                            nxt.append(f"{base}/{name}" if base else name)
                else:
                    nxt.append(f"{base}/{part}" if base else part)
            found = nxt
        out = []
        for rel in found:
            real = self._resolve_source(rel)
            if real is None:
                if has_wildcards(pattern):
                    continue
                raise InvalidArgument(f"{self.root.instruction} failed: stat {pattern}: file does not exist")
            out.append((real, os.stat(real)))
        if not out:
            raise InvalidArgument(f"{self.root.instruction} failed: no source files were specified")
        return out

    def _resolve_source(self, rel: str) -> str | None:
        """A host path for ``rel`` in the source image, symlinks followed inside it (like the destination)."""
        assert self.from_root is not None
        top = os.open(self.from_root, _O_PATHDIR)
        try:
            try:
                fd = openat2(top, rel or ".", os.O_PATH | os.O_CLOEXEC, _RESOLVE)
            except (FileNotFoundError, NotADirectoryError):
                return None
            try:
                real = os.readlink(_fd_path(fd))
            finally:
                os.close(fd)
        finally:
            os.close(top)
        return real

    # --- writing -------------------------------------------------------------------------

    def run(self) -> None:
        spec = self.spec
        for src in spec.sources:
            if src.content is not None:
                self._file_to(spec.dest, src.name, _Entry("", None, data=src.content))
                continue
            if src.image_path:
                for real, st in self._image_sources(src):
                    if stat.S_ISDIR(st.st_mode):
                        self._tree(spec.dest, _Tree(real, None))
                    else:
                        name = os.path.basename(src.image_path.rstrip("/")) if not _has_glob(src.image_path) \
                            else os.path.basename(real)
                        self._file_to(spec.dest, name, _Entry("", st, real))
                continue
            assert src.path is not None
            path = str(src.path)
            if src.is_dir:
                self._tree(spec.dest, _Tree(path, src.members))
                continue
            if src.extract:
                reader = _archive_reader(path)
                if reader is not None:
                    with reader:
                        self._extract(spec.dest, reader)
                    continue
            self._file_to(spec.dest, src.name, _Entry("", os.stat(path), path))

    def _file_to(self, dest: str, name: str, entry: _Entry) -> None:
        """docker's file rule: into ``dest/`` when it ends in / or is a directory, else as ``dest``."""
        if dest.endswith("/") or self.root.is_dir(dest):
            parent_path, leaf = dest, name
        else:
            parent_path, _, leaf = dest.rstrip("/").rpartition("/")
            # the final component may be a symlink to a file: docker writes through it, to its target
            fd = self.root.open(dest)
            if fd is not None:
                try:
                    real = os.readlink(_fd_path(fd))
                    top = os.readlink(_fd_path(self.root.fd))
                    if real.startswith(top.rstrip("/") + "/"):
                        parent_path, _, leaf = real[len(top.rstrip("/")) :].rpartition("/")
                finally:
                    os.close(fd)
        if not leaf:
            raise self.root.fail(f"cannot copy to {dest!r}: not a file name")
        parent = self.root.makedirs(parent_path, self.dir_owner)
        try:
            self._write(parent, leaf, entry, top=True)
        finally:
            os.close(parent)

    def _tree(self, dest: str, tree: _Tree) -> None:
        """A directory's contents into ``dest`` (made when missing), entries replaced as docker's untar does."""
        fd = self.root.open(dest)
        if fd is not None:
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    raise self.root.fail(f"cannot copy to non-directory: {dest.rstrip('/') or '/'}")
            finally:
                os.close(fd)
        top = self.root.makedirs(dest, self.dir_owner)
        dirs: dict[str, int] = {"": top}
        try:
            for entry in tree:
                parent_rel, _, leaf = entry.rel.rpartition("/")
                parent = dirs.get(parent_rel)
                if parent is None:
                    continue  # below something that was not a directory (a symlink in the source)
                made = self._write(parent, leaf, entry, top=False)
                if made is not None:
                    dirs[entry.rel] = made
                    assert entry.st is not None
                    mode = self.spec.chmod if self.spec.chmod is not None else stat.S_IMODE(entry.st.st_mode)
                    self.root.settle(made, self._owner_of(entry.st), mode, (entry.st.st_atime_ns,
                                                                            entry.st.st_mtime_ns))
        finally:
            for fd_ in dirs.values():
                os.close(fd_)

    def _owner_of(self, st: os.stat_result | None) -> _Owner:
        if self.owner is not None:
            return self.owner
        return _Owner(st.st_uid, st.st_gid) if st is not None else _Owner(0, 0)

    def _write(self, parent: int, name: str, entry: _Entry, *, top: bool) -> int | None:
        """Write one entry into the directory ``parent``; returns an O_PATH fd for a directory."""
        st = entry.st
        self.root.result.entries += 1
        if st is not None and stat.S_ISDIR(st.st_mode):
            existing = self.root.clear(parent, name, keep_dir=True)
            if existing is None:
                self.root.touch(parent)
                os.mkdir(name, 0o700, dir_fd=parent)
            return openat2(parent, name, _O_PATHDIR | os.O_NOFOLLOW, 0)
        self.root.clear(parent, name, keep_dir=False)
        self.root.touch(parent)
        owner = self._owner_of(st)
        chmod = self.spec.chmod
        if st is None:  # an inline document (COPY <<EOF)
            data = entry.data or b""
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=parent)  # fmt: skip
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchown(fd, owner.uid, owner.gid)
                os.fchmod(fd, chmod if chmod is not None else 0o644)
                os.utime(fd, ns=_EPOCH)
            finally:
                os.close(fd)
            return None
        mode = st.st_mode
        times = (st.st_atime_ns, st.st_mtime_ns)
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if not top and st.st_nlink > 1 and key in self.links:
                lfd, lname = self.links[key]
                os.link(lname, name, src_dir_fd=lfd, dst_dir_fd=parent, follow_symlinks=False)
                return None
            self._copy_file(entry.read, parent, name, owner, chmod if chmod is not None else stat.S_IMODE(mode), times)
            if not top and st.st_nlink > 1:
                self.links[key] = (os.dup(parent), name)
            return None
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(entry.read), name, dir_fd=parent)
            os.chown(name, owner.uid, owner.gid, dir_fd=parent, follow_symlinks=False)
            os.utime(name, ns=times, dir_fd=parent, follow_symlinks=False)
            return None
        if stat.S_ISFIFO(mode):
            os.mkfifo(name, 0o600, dir_fd=parent)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            try:
                os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=parent)
            except PermissionError:
                self.root.result.notes.append(f"skipped device {name}: not permitted here")
                return None
        else:
            self.root.result.notes.append(f"skipped socket {name}")
            return None
        fd = openat2(parent, name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, 0)
        try:
            own(fd, owner, chmod if chmod is not None else stat.S_IMODE(mode), times)
        finally:
            os.close(fd)
        return None

    @staticmethod
    def _copy_file(src: str, parent: int, name: str, owner: _Owner, mode: int, times: tuple[int, int]) -> None:
        sfd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=parent)  # fmt: skip
            try:
                _copy_data(sfd, dfd)
                os.fchown(dfd, owner.uid, owner.gid)
                os.fchmod(dfd, mode)
                os.utime(dfd, ns=times)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)

    def _extract(self, dest: str, reader: io.BufferedIOBase) -> None:
        """ADD of an archive: unpacked into ``dest`` by the safe extractor (owners from the archive; a
        destination made for it is root's, or --chown's)."""
        fd = self.root.makedirs(dest, self.dir_owner)
        try:
            self.root.touch(fd)
            target = os.readlink(_fd_path(fd))
        finally:
            os.close(fd)
        res = apply_layer(reader, target, whiteouts=WhiteoutMode.DELETE, chown=os.geteuid() == 0)
        self.root.result.entries += res.entries
        self.root.result.notes += res.notes


def _has_glob(path: str) -> bool:
    from dockernb.build.context import has_wildcards

    return has_wildcards(path)


def _copy_data(src: int, dst: int) -> None:
    """The bytes of ``src`` into ``dst`` (copy_file_range: reflinks or in-kernel copies where it can)."""
    try:
        while os.copy_file_range(src, dst, 1 << 30):
            pass
        return
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
            raise
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


def _translate(instruction: str, err: OSError) -> DockernbError:
    if err.errno == errno.ENOSPC:
        return NoSpaceLeft(err.filename or "")
    where = f" {err.filename}" if err.filename else ""
    return BuildStepFailed(f"{instruction} failed:{where} {(err.strerror or str(err)).lower()}")


def copy_into(root: str, spec: CopySpec, *, from_root: str | None = None) -> CopyResult:
    """Do ``spec`` on the tree at ``root`` (``from_root``: the COPY --from image's tree, read-only).

    Raises InvalidArgument (a missing source, an unknown --chown user), BuildStepFailed (docker's
    ``COPY failed: ...``), NoSpaceLeft. A failure leaves a partial tree: the caller drops the snapshot.
    """
    instruction = spec.instruction
    r = _Root(root, instruction)
    copier: _Copier | None = None
    try:
        copier = _Copier(r, spec, from_root)
        copier.run()
        r.finish()
        return r.result
    except OSError as err:
        raise _translate(instruction, err) from err
    finally:
        if copier is not None:
            copier.close()
        r.close()


def make_workdir(root: str, path: str, *, owner: tuple[int, int] = (0, 0)) -> bool:
    """WORKDIR: make ``path`` (0755, ``owner``'s: root's as in docker's classic builder, with missing
    parents) unless it exists; True when made.

    Raises BuildStepFailed when a component is not a directory (docker's ``Cannot mkdir``).
    """
    r = _Root(root, "WORKDIR")
    try:
        fd = r.open(path)
        if fd is not None:
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    return False
            finally:
                os.close(fd)
            raise BuildStepFailed(f"Cannot mkdir: {path} is not a directory")
        try:
            os.close(r.makedirs(path, _Owner(*owner)))
        except BuildStepFailed as err:
            raise BuildStepFailed(f"Cannot mkdir: {path} is not a directory") from err
        r.finish()
        return True
    except OSError as err:
        raise _translate("WORKDIR", err) from err
    finally:
        r.close()


def host_path(root: str, path: str) -> Path | None:
    """Where ``path`` of the image is in the tree at ``root`` (symlinks followed inside), or None."""
    r = _Root(root, "")
    try:
        fd = r.open(path)
        if fd is None:
            return None
        try:
            return Path(os.readlink(_fd_path(fd)))
        finally:
            os.close(fd)
    finally:
        r.close()
