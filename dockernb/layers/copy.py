"""``docker cp``'s tar semantics over directory fds: stat, archive and extract a path of a tree (layer L2).

Every access to a tree goes through a directory fd standing for its root (a running container's
``/proc/<pid>/root``, a private mount of a stopped one's snapshot, a host directory): paths are
resolved component by component with ``openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)``, so a
symlink, absolute or full of ``..``, never leads out of the tree, even if the tree changes while we
walk it. Nothing here uses a path string outside the tree.

The rules are moby's (pkg/archive/copy.go, daemon/archive.go, docker 20.10):

* :func:`resolve_path` is the daemon's ``ResolvePath``: the parent of the last element is
  resolved in the tree, the last element is kept as given (a symlink is archived as a link unless
  the path ends with ``/`` or ``/.``); :func:`stat_path` is ``StatPath`` (the link target fully
  evaluated in the tree, as an absolute path);
* :func:`write_archive` is ``TarResourceRebase``: a file is archived under its base name, a
  directory as ``name/`` and its entries, ``dir/.`` as ``./`` and ``./entries``, each first
  element renamed to the name the user asked for;
* :func:`prepare_copy` is ``PrepareArchiveCopy``: which directory to extract into and how to
  rename the archive's first element so the copy lands where ``cp`` semantics say;
* :func:`extract_archive` is ``Untar`` into a directory that acts as the root of the extraction
  (docker's chrootarchive): parents are created inside it, leaves are made with ``O_EXCL`` and
  ``O_NOFOLLOW`` by ``*at`` calls, an existing directory is never replaced by a non-directory
  (or the reverse) without an error, and ownership is kept, set, or left to the caller.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Literal

from dockernb.errors import InvalidArgument, InvalidCopyPath, InvalidLayer, NoSuchPath
from dockernb.layers import tarstream as ts
from dockernb.linux.mount import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

__all__ = [
    "CopyInfo",
    "PathStat",
    "asserts_directory",
    "extract_archive",
    "follow_in_root",
    "go_base",
    "go_clean",
    "go_dir",
    "open_in_tree",
    "prepare_copy",
    "preserve_trailing",
    "rebase_name",
    "renamer",
    "resolve_path",
    "split_path_dir_entry",
    "stat_path",
    "write_archive",
    "write_tree",
]

_IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
_O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_HOPS = 255  # docker's FollowSymlinkInScope
_CHUNK = 1 << 20

#: ``Owner``: None leaves files to the extracting user (the CLI's NoLchown), "keep" applies the
#: archive's ids, (uid, gid) gives everything to them (docker's copy into a container: its root)
Owner = None | Literal["keep"] | tuple[int, int]


# --- Go's path functions (filepath.Clean, Base, Dir) and docker's helpers on them ----------------


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    text = "/".join(out)
    if rooted:
        return "/" + text
    return text or "."


def go_base(path: str) -> str:
    """Go's ``filepath.Base``."""
    if path == "":
        return "."
    path = path.rstrip("/")
    return "/" if path == "" else path.rsplit("/", 1)[-1]


def go_dir(path: str) -> str:
    """Go's ``filepath.Dir``."""
    return go_clean(path[: path.rfind("/") + 1])


def _current_dir(path: str) -> bool:
    return go_base(path) == "."


def asserts_directory(path: str) -> bool:
    """The path says it is a directory: it ends with ``/`` or ``/.``."""
    return path.endswith("/") or _current_dir(path)


def preserve_trailing(cleaned: str, original: str) -> str:
    """docker's ``PreserveTrailingDotOrSeparator``: ``cleaned`` keeps the ``/.`` or ``/`` that ``original`` had."""
    if not _current_dir(cleaned) and _current_dir(original):
        if not cleaned.endswith("/"):
            cleaned += "/"
        cleaned += "."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """docker's ``SplitPathDirEntry``: (directory, base) of the cleaned path, keeping a final ``.``."""
    cleaned = go_clean(path)
    if _current_dir(path):
        cleaned += "/."
    return go_dir(cleaned), go_base(cleaned)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """docker's ``GetRebaseName``: ``resolved`` with ``path``'s ``/.`` or ``/`` kept, and the name the
    archive's first element must take (``path``'s base) when the two bases differ."""
    if _current_dir(path) and not _current_dir(resolved):
        resolved += "/."
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if go_base(path) != go_base(resolved):
        return resolved, go_base(path)
    return resolved, ""


# --- resolution inside a tree -------------------------------------------------------------------


def _open(root_fd: int, rel: str, flags: int = _O_PATH_DIR) -> int:
    return openat2(root_fd, rel or ".", flags, _IN_ROOT)


def open_in_tree(root_fd: int, path: str, flags: int = _O_PATH_DIR) -> int:
    """``path`` opened under the tree ``root_fd`` (symlinks followed, never out of it). Raises OSError."""
    return _open(root_fd, path.strip("/"), flags)


def follow_in_root(root_fd: int, path: str) -> str:
    """docker's ``FollowSymlinkInScope``: ``path`` with every symlink evaluated inside the tree.

    Returns an absolute, clean path; components after a missing one are kept as given. Raises
    InvalidArgument after too many links.
    """
    todo = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        try:
            parent = _open(root_fd, "/".join(done))
        except OSError:
            done += [part, *todo]
            break
        try:
            st = os.lstat(part, dir_fd=parent)
        except OSError:
            os.close(parent)
            done += [part, *todo]
            break
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > _MAX_HOPS:
                os.close(parent)
                raise InvalidArgument(f"too many links in {path}")
            try:
                target = os.readlink(part, dir_fd=parent)
            except OSError:  # a link that cannot be read (procfs's self of another pid namespace) leads nowhere
                os.close(parent)
                done += [part, *todo]
                break
            os.close(parent)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        os.close(parent)
        done.append(part)
    return go_clean("/" + "/".join(done))


@dataclass(frozen=True, slots=True)
class PathStat:
    """docker's ``ContainerPathStat``: name, size, mode (st_mode bits), mtime (ns), link target."""

    name: str
    size: int
    mode: int
    mtime_ns: int
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)


def resolve_path(root_fd: int, path: str) -> tuple[str, str, str]:
    """docker's ``ResolvePath``: (absolute path as asked, resolved parent directory, last element).

    The last element is ``""`` or ``"."`` when the path names its directory (``/etc/``, ``/etc/.``).
    """
    abs_path = preserve_trailing(go_clean("/" + path), path)
    head, _, base = abs_path.rpartition("/")
    return abs_path, follow_in_root(root_fd, head or "/"), base


def _lstat(root_fd: int, parent: str, base: str, what: str) -> os.stat_result:
    try:
        fd = _open(root_fd, parent)
    except OSError as err:
        raise NoSuchPath(what) from err
    try:
        return os.stat(fd) if base in ("", ".") else os.lstat(base, dir_fd=fd)
    except OSError as err:
        raise NoSuchPath(what) from err
    finally:
        os.close(fd)


def stat_path(root_fd: int, path: str) -> PathStat:
    """docker's ``StatPath`` of ``path`` in the tree. Raises NoSuchPath (with ``path`` as given)."""
    abs_path, parent, base = resolve_path(root_fd, path)
    st = _lstat(root_fd, parent, base, path)
    target = follow_in_root(root_fd, abs_path) if stat.S_ISLNK(st.st_mode) else ""
    return PathStat(name=go_base(abs_path), size=st.st_size, mode=st.st_mode, mtime_ns=st.st_mtime_ns,
                    link_target=target)  # fmt: skip


# --- writing an archive -------------------------------------------------------------------------


class _Exact:
    """A file's data as exactly ``size`` bytes: a file that grew is cut, one that shrank is padded
    with zeros (a live container's files change while we read them; the tar must stay whole)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        data = os.read(self.fd, n)
        if not data:
            data = bytes(n)  # shrank: zeros, as tar would need anyway
        self.left -= len(data)
        return data


class _ArchiveWriter:
    def __init__(self, out: BinaryIO, descend: Callable[[os.stat_result], bool], only_dev: int | None = None) -> None:
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.links: dict[tuple[int, int], str] = {}
        self.descend = descend
        #: entries on another device are mount points: archived empty (export's view of a live rootfs)
        self.only_dev = only_dev

    def add(self, dir_fd: int, base: str, name: str, st: os.stat_result, *, top: bool = False) -> None:
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return  # sockets do not go into archives (docker skips them too)
        if self.only_dev is not None and st.st_dev != self.only_dev and not top:
            self._placeholder(name, st)
            return
        ti = tarfile.TarInfo(name + "/" if stat.S_ISDIR(mode) and not name.endswith("/") else name)
        ti.mode = stat.S_IMODE(mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)
        caps = self._capability(dir_fd, base, mode)
        if caps is not None:
            ti.pax_headers = {"SCHILY.xattr.security.capability": caps.decode("utf-8", "surrogateescape")}
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
                self.tar.addfile(ti)
                return
            if st.st_nlink > 1:
                self.links[key] = name
            ti.size = st.st_size
            fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                self.tar.addfile(ti, _Exact(fd, st.st_size))
            finally:
                os.close(fd)
            return
        if stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(base, dir_fd=dir_fd)
        elif stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        self.tar.addfile(ti)
        if stat.S_ISDIR(mode) and (top or self.descend(st)):
            sub = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                self.walk(sub, name.rstrip("/"))
            finally:
                os.close(sub)

    def _placeholder(self, name: str, st: os.stat_result) -> None:
        """A mount point as the rootfs holds it below the mount: an empty directory or file."""
        is_dir = stat.S_ISDIR(st.st_mode)
        ti = tarfile.TarInfo(name + "/" if is_dir else name)
        ti.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
        ti.mode, ti.uid, ti.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)
        self.tar.addfile(ti)

    @staticmethod
    def _capability(dir_fd: int, base: str, mode: int) -> bytes | None:
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return None
        try:
            path = f"/proc/self/fd/{dir_fd}/{base}" if base else f"/proc/self/fd/{dir_fd}"
            return os.getxattr(path, "security.capability", follow_symlinks=False)
        except OSError:
            return None

    def walk(self, dir_fd: int, prefix: str) -> None:
        for entry in sorted(os.listdir(dir_fd)):
            try:
                st = os.lstat(entry, dir_fd=dir_fd)
            except FileNotFoundError:
                continue  # removed while we walk
            name = prefix + entry if prefix.endswith("/") else f"{prefix}/{entry}" if prefix else entry
            self.add(dir_fd, entry, name, st)

    def close(self) -> None:
        self.tar.close()


def write_archive(
    root_fd: int,
    path: str,
    out: BinaryIO,
    *,
    rebase: str | None = None,
    descend: Callable[[os.stat_result], bool] | None = None,
) -> PathStat:
    """The daemon's archive of ``path`` (``GET /containers/{id}/archive``): a tar written to ``out``.

    Entries are named as docker names them (see the module docstring); ``rebase`` renames the first
    element (default: the requested path's base). ``descend(stat)`` decides whether to go into a
    directory below the top one (a live container's /proc or /sys: no). Returns the path's stat.
    Raises NoSuchPath before anything is written.
    """
    abs_path, parent, base = resolve_path(root_fd, path)
    info = stat_path(root_fd, path)
    resolved = parent.rstrip("/") + "/" + base if base else parent
    if base == ".":
        resolved = parent.rstrip("/") + "/."
    source_dir, source_base = split_path_dir_entry(resolved)
    new_base = go_base(abs_path) if rebase is None else rebase
    try:
        dir_fd = _open(root_fd, source_dir)
    except OSError as err:
        raise NoSuchPath(path) from err
    writer = _ArchiveWriter(out, descend or (lambda st: True))
    try:
        if source_base in (".", "/"):
            # the directory itself: "./" and "./entries", or the root's "/" and "/entries"
            top = "/" if new_base == "/" else new_base
            _add_top(writer, dir_fd, top, os.stat(dir_fd))
        else:
            try:
                st = os.lstat(source_base, dir_fd=dir_fd)
            except OSError as err:
                raise NoSuchPath(path) from err
            writer.add(dir_fd, source_base, new_base, st, top=True)
    finally:
        os.close(dir_fd)
        writer.close()
    return info


def write_tree(root_fd: int, out: BinaryIO, *, only_dev: int | None = None) -> None:
    """The whole tree as ``docker export`` writes it: relative names, no entry for the root itself.

    With ``only_dev``, what lies on another device (a live container's /proc, /sys, /dev, volumes,
    bind-mounted files) is archived as the empty mount point it covers, as the rootfs alone holds it.
    """
    writer = _ArchiveWriter(out, lambda st: True, only_dev)
    sub = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root_fd)
    try:
        writer.walk(sub, "")
    finally:
        os.close(sub)
        writer.close()


def _add_top(writer: _ArchiveWriter, dir_fd: int, name: str, st: os.stat_result) -> None:
    """A directory archived as its own contents (``./``, ``/``, or a rebased name) and its entries."""
    ti = tarfile.TarInfo(name if name.endswith("/") else name + "/")
    ti.type, ti.mode, ti.uid, ti.gid = tarfile.DIRTYPE, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    writer.tar.addfile(ti)
    sub = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        writer.walk(sub, name)
    finally:
        os.close(sub)


# --- copying: docker's PrepareArchiveCopy ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyInfo:
    """docker's ``CopyInfo``: a copy's source or destination path, whether it exists, is a directory,
    and the name its archive's first element must take (``rebase``)."""

    path: str
    exists: bool = False
    is_dir: bool = False
    rebase: str = ""


def prepare_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, tuple[str, str] | None]:
    """docker's ``PrepareArchiveCopy``: the directory to extract into, and (old, new) first-element
    names to rename in the archive (None: extract as it is).

    Raises InvalidCopyPath with docker's words: ``cannot copy directory``, ``no such directory``.
    """
    dst_dir, dst_base = split_path_dir_entry(dst.path)
    _, src_base = split_path_dir_entry(src.path)
    if dst.exists and dst.is_dir:
        return dst.path, None
    if dst.exists and src.is_dir:
        raise InvalidCopyPath("cannot copy directory")
    if dst.exists or src.is_dir:
        return dst_dir, (src.rebase or src_base, dst_base)
    if asserts_directory(dst.path):
        raise InvalidCopyPath("no such directory")
    return dst_dir, (src.rebase or src_base, dst_base)


def renamer(rename: tuple[str, str] | None) -> Callable[[str], str]:
    """docker's ``RebaseArchiveEntries`` as a name function: the first occurrence of ``old`` becomes ``new``."""
    if rename is None:
        return lambda name: name
    old, new = rename
    if old == "/":
        old = ""  # the root's entries all start with the separator: keep it

    def rebased(name: str) -> str:
        return name.replace(old, new, 1) if old else new + name

    return rebased


# --- extracting an archive into a directory ---------------------------------------------------


class _Extractor:
    def __init__(self, dest_fd: int, owner: Owner, no_overwrite: bool, shown: str) -> None:
        self.dest_fd = dest_fd
        self.owner = owner
        self.no_overwrite = no_overwrite
        self.shown = shown.rstrip("/") or "/"
        self.dirs: dict[str, int] = {}
        self.late: list[tuple[str, int, int]] = []  # directories: (path, mode, mtime_ns), set last

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs = {}

    def _where(self, rel: str) -> str:
        return f"{self.shown}/{rel}" if self.shown != "/" else f"/{rel}"

    def parent(self, rel: str) -> int:
        """An fd of the directory ``rel`` inside the destination, made (mode 0755) where missing."""
        fd = self.dirs.get(rel)
        if fd is not None:
            return fd
        try:
            fd = _open(self.dest_fd, rel)
        except FileNotFoundError:
            up, _, name = rel.rpartition("/")
            pfd = self.parent(up)
            try:
                os.mkdir(name, 0o755, dir_fd=pfd)
                self._own(pfd, name, 0, 0, default=True)
            except FileExistsError:
                pass  # a symlink: resolved inside the destination, or nowhere
            try:
                fd = _open(self.dest_fd, rel)
            except FileNotFoundError:
                raise InvalidArgument(f"cannot extract into {self._where(rel)}: a symlink there points nowhere inside "
                                      f"{self.shown}") from None  # fmt: skip
        except NotADirectoryError as err:
            raise InvalidArgument(f"cannot extract into {self._where(rel)}: not a directory") from err
        self.dirs[rel] = fd
        return fd

    def forget(self) -> None:
        """A directory or symlink was replaced: cached parents may point elsewhere now."""
        self.close()

    def _own(self, pfd: int, name: str, uid: int, gid: int, *, default: bool = False) -> None:
        if self.owner is None:
            return
        if self.owner == "keep":
            if default:
                return
            ids = (uid, gid)
        else:
            ids = self.owner
        try:
            os.chown(name, ids[0], ids[1], dir_fd=pfd, follow_symlinks=False)
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.EPERM):  # an id this namespace does not map
                raise

    def entry(self, e: ts.Entry, stream: ts.TarStream, name: str) -> None:
        up, _, base = name.rpartition("/")
        pfd = self.parent(up)
        try:
            old: os.stat_result | None = os.lstat(base, dir_fd=pfd)
        except FileNotFoundError:
            old = None
        is_dir = e.type == ts.DIR
        if old is not None:
            if self.no_overwrite and stat.S_ISDIR(old.st_mode) and not is_dir:
                raise InvalidArgument(
                    f'cannot overwrite directory "{self._where(name)}" with non-directory "{self.shown}"')
            if self.no_overwrite and not stat.S_ISDIR(old.st_mode) and is_dir:
                raise InvalidArgument(
                    f'cannot overwrite non-directory "{self._where(name)}" with directory "{self.shown}"')
            if not (stat.S_ISDIR(old.st_mode) and is_dir):
                if stat.S_ISDIR(old.st_mode):
                    shutil.rmtree(base, dir_fd=pfd)
                else:
                    os.unlink(base, dir_fd=pfd)
                if stat.S_ISDIR(old.st_mode) or stat.S_ISLNK(old.st_mode):
                    self.forget()
                    pfd = self.parent(up)
        kind = e.type
        if kind in (ts.REG, ts.AREG, ts.CONT):
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
            try:
                stream.copy_to(fd, e.size)
                self._own(pfd, base, e.uid, e.gid)
                os.fchmod(fd, e.mode)  # after chown, which clears set-id bits
                for key, value in e.xattrs.items():
                    if key == "security.capability":
                        try:
                            os.setxattr(fd, key, value)
                        except OSError:
                            pass  # docker's Untar ignores what the filesystem refuses too
                os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
            finally:
                os.close(fd)
        elif is_dir:
            if old is None:
                os.mkdir(base, 0o700, dir_fd=pfd)
            self._own(pfd, base, e.uid, e.gid)
            self.late.append((name, e.mode, e.mtime_ns))
        elif kind == ts.SYM:
            os.symlink(e.linkname, base, dir_fd=pfd)
            self._own(pfd, base, e.uid, e.gid)
            os.utime(base, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)
        elif kind == ts.LNK:
            target = ts.clean_name(e.linkname)
            tup, _, tbase = target.rpartition("/")
            tfd = self.parent(tup)
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        elif kind in (ts.CHR, ts.BLK, ts.FIFO):
            flag = {ts.CHR: stat.S_IFCHR, ts.BLK: stat.S_IFBLK, ts.FIFO: stat.S_IFIFO}[kind]
            os.mknod(base, flag | e.mode, os.makedev(e.devmajor, e.devminor), dir_fd=pfd)
            self._own(pfd, base, e.uid, e.gid)
        else:
            raise InvalidArgument(f"unhandled tar header type {kind!r} for {name!r}")

    def finish(self) -> None:
        for name, mode, mtime_ns in reversed(self.late):
            fd = _open(self.dest_fd, name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)


def extract_archive(
    read: Callable[[], bytes],
    dest_fd: int,
    *,
    owner: Owner = None,
    no_overwrite_dir_nondir: bool = True,
    rename: Callable[[str], str] | None = None,
    shown: str = "",
) -> int:
    """docker's ``Untar`` of the tar that ``read()`` yields (``b""`` at its end) into ``dest_fd``.

    The destination is the extraction's root: names are cleaned (``..`` may not climb out),
    parents resolve inside it, nothing is written through a symlink. ``rename`` maps each entry's
    name first (the rebase of a copy). ``shown`` is the destination as the user knows it, for
    messages. Returns the bytes of file content written. Raises InvalidArgument (bad archive,
    ``cannot overwrite directory ... with non-directory ...``), OSError from the filesystem.
    """
    stream = ts.TarStream(read)
    ex = _Extractor(dest_fd, owner, no_overwrite_dir_nondir, shown or "/")
    written = 0
    try:
        while (e := stream.next()) is not None:
            raw = rename(e.name) if rename is not None else e.name
            name = ts.clean_name(raw)
            if not name or name.split("/")[-1].startswith(".wh..wh.") or name.startswith(".wh..wh."):
                stream.skip()
                continue  # the destination itself ("./"), and aufs metadata, as docker's Untar
            if e.type == ts.LNK:
                e.linkname = ts.clean_name(rename(e.linkname) if rename is not None else e.linkname)
            if e.type in (ts.REG, ts.AREG, ts.CONT):
                written += e.size
            ex.entry(e, stream, name)
        ex.finish()
    except InvalidLayer as err:
        raise InvalidArgument(str(err).replace("layer data", "tar data").replace("layer entry", "entry")) from err
    finally:
        ex.close()
    while read():  # whatever follows the end of the archive
        pass
    return written
