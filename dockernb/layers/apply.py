"""Apply a layer tar stream to a directory, safely and in one pass (L2).

``apply_layer(stream, target, ...)`` decompresses (gzip/zstd/none) in a pump thread that also
computes the diff_id, while the calling thread parses the tar and writes the entries, so that
inflate and the filesystem work overlap on two cores; the stream is read exactly once, to its end.

What an entry may do is docker's: names are cleaned (absolute names become relative, a name that
climbs out with ``..`` is refused, so are hardlinks whose target climbs out and symlinks whose
target climbs out relative to their directory, as docker's breakout checks do); parents are
resolved *inside* the root by :mod:`dockernb.layers.resolve`, through symlinks created by earlier
entries or earlier layers, never above the root. Leaves are created with ``O_EXCL|O_NOFOLLOW``
and ``*at`` calls on directory fds, so nothing is ever written through a symlink.

Whiteouts (``.wh.NAME``, ``.wh..wh..opq``) come in the two forms snapshotters need:
``WhiteoutMode.DELETE`` removes the path (a plain directory already holding the lower layers);
``WhiteoutMode.OVERLAY`` writes overlayfs whiteouts into an upper directory (char device 0/0, which
the kernel lets unprivileged users create since 5.8, and ``<prefix>overlay.opaque=y`` with
``trusted.`` as root or ``user.`` for ``userxattr`` mounts in a user namespace).

Ownership is applied when we may chown (root, or root of a user namespace: see
``dockernb.layers.unpack``); ids the namespace does not map are noted and left as they are.
Device nodes that cannot be created are skipped with a note. The caller owns cleanup: a failed
apply leaves a partial tree that the snapshot is removed with.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import logging
import os
import queue
import shutil
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dockernb.errors import DockernbError, InvalidLayer, NoSpaceLeft
from dockernb.layers import tarstream as ts
from dockernb.layers.compression import DecompressReader, RawReader, open_decompressed
from dockernb.layers.resolve import DirRef, Root
from dockernb.linux.mount import RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, openat2
from dockernb.spec.digest import Digest

__all__ = ["ApplyResult", "Progress", "WhiteoutMode", "apply_layer"]

log = logging.getLogger(__name__)

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20
_MAX_NOTES = 20

#: progress(compressed bytes read, uncompressed bytes extracted)
Progress = Callable[[int, int], None]


class WhiteoutMode(enum.StrEnum):
    DELETE = "delete"
    OVERLAY = "overlay"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one application did: the uncompressed digest (diff_id) and sizes, plus notes."""

    diff_id: Digest
    compressed_size: int
    size: int
    entries: int
    notes: tuple[str, ...] = ()
    #: bytes of file content the layer holds (regular files, symlink targets; hardlinks once):
    #: docker's layer size (its graph drivers' DiffSize)
    content_size: int = 0


class _Pump(threading.Thread):
    """Reads and decompresses the stream ahead of the extractor (bounded: 8 chunks of 1 MiB)."""

    def __init__(self, dec: DecompressReader) -> None:
        super().__init__(name="dockernb-layer-pump", daemon=True)
        self.dec = dec
        self.hash = hashlib.sha256()
        self.q: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=8)
        self.stop = threading.Event()
        self.failed: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                chunk = self.dec.read(_CHUNK)
                if chunk:
                    self.hash.update(chunk)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the extracting thread
            self._put(err)

    def _put(self, item: bytes | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> bytes:
        if self.failed is not None:
            raise self.failed  # the pump is gone: never wait on it again
        item = self.q.get()
        if isinstance(item, BaseException):
            self.failed = item
            raise item
        return item

    def halt(self) -> None:
        self.stop.set()
        self.join(timeout=10)


class _Applier:
    def __init__(
        self, root: Root, *, whiteouts: WhiteoutMode, xattr_prefix: str, chown: bool,
    ) -> None:
        self.root = root
        self.whiteouts = whiteouts
        self.opaque_xattr = f"{xattr_prefix}overlay.opaque"
        self.chown = chown
        self.notes: list[str] = []
        self.note_count = 0
        self.unpacked: set[str] = set()
        #: directories whose mode and mtime are set at the end (children change the mtime)
        self.dirs: list[tuple[str, int, int]] = []
        self.root_meta: tuple[int, int] | None = None
        self.euid_root = os.geteuid() == 0
        self.unmapped = False
        self.openat2_ok = True
        self.content_size = 0

    def note(self, text: str) -> None:
        self.note_count += 1
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(text)
        log.debug("%s", text)

    # --- entries ----------------------------------------------------------------------------

    def entry(self, e: ts.Entry, stream: ts.TarStream) -> None:
        name = ts.clean_name(e.name)
        parent, _, base = name.rpartition("/")
        if base.startswith(WH_PREFIX):
            if base == WH_OPAQUE:
                self.opaque(parent)
            elif not base.startswith(".wh..wh."):  # other .wh..wh. names are aufs metadata: ignored
                self.whiteout(parent, base[len(WH_PREFIX) :])
            return
        if not name:  # the root itself ("./"): only its metadata
            if e.type == ts.DIR:
                self.own(self.root.root, "", e)
                self.root_meta = (e.mode, e.mtime_ns)
            return
        self.unpacked.add(name)
        pd = self.root.dir(parent)
        assert pd is not None
        kind = e.type
        if kind in (ts.REG, ts.AREG, ts.CONT):
            self.content_size += e.size
            fd = self.create(pd, base, lambda: os.open(
                base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pd.fd))
            try:
                stream.copy_to(fd, e.size)
                if self.chown:
                    self._chown(lambda: os.fchown(fd, e.uid, e.gid), name)
                os.fchmod(fd, e.mode)  # after chown, which clears setuid bits
                self.xattrs_fd(fd, e, name)
                os.utime(fd, ns=(e.mtime_ns, e.mtime_ns))
            finally:
                os.close(fd)
        elif kind == ts.DIR:
            try:
                os.mkdir(base, 0o700, dir_fd=pd.fd)
            except FileExistsError:
                st = os.lstat(base, dir_fd=pd.fd)
                if not stat.S_ISDIR(st.st_mode):
                    self.remove(pd, base, st)
                    os.mkdir(base, 0o700, dir_fd=pd.fd)
            self.own(pd, base, e)
            if e.xattrs:
                self.xattrs_path(self.root.proc_path(pd, base), e, name)
            self.dirs.append((f"{pd.real}/{base}" if pd.real else base, e.mode, e.mtime_ns))
        elif kind == ts.SYM:
            where = f"{parent}/{e.linkname}" if not e.linkname.startswith("/") else e.linkname
            try:
                ts.clean_name(where)
            except InvalidLayer:
                raise InvalidLayer(f"invalid symlink {name!r} -> {e.linkname!r}") from None
            self.content_size += len(os.fsencode(e.linkname))
            self.create(pd, base, lambda: os.symlink(e.linkname, base, dir_fd=pd.fd))
            self.own(pd, base, e)
            if e.xattrs:
                self.xattrs_path(self.root.proc_path(pd, base), e, name)
            os.utime(base, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pd.fd, follow_symlinks=False)
        elif kind == ts.LNK:
            self.hardlink(pd, base, name, e)
        elif kind in (ts.CHR, ts.BLK, ts.FIFO):
            self.special(pd, base, name, e)
        else:
            raise InvalidLayer(f"unhandled tar header type {kind!r} for {name!r}")

    def create(self, pd: DirRef, base: str, make: Callable[[], int | None]) -> int:
        try:
            return make() or 0
        except FileExistsError:
            self.remove(pd, base, os.lstat(base, dir_fd=pd.fd))
            return make() or 0

    def remove(self, pd: DirRef, base: str, st: os.stat_result) -> None:
        """Remove an existing entry that a new one replaces (never following a symlink)."""
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(base, dir_fd=pd.fd)
            self.root.invalidate()
        else:
            os.unlink(base, dir_fd=pd.fd)
            if stat.S_ISLNK(st.st_mode):
                self.root.invalidate()

    def _chown(self, do: Callable[[], None], name: str) -> None:
        try:
            do()
        except OSError as err:
            # EINVAL: the id has no mapping in this user namespace (a one-id fallback map)
            if err.errno not in (errno.EINVAL, errno.EPERM):
                raise
            if not self.unmapped:
                self.unmapped = True
                self.note(f"ownership not applied ({name} and others): ids are not mapped here")

    def own(self, pd: DirRef, base: str, e: ts.Entry) -> None:
        if self.chown:
            if base:
                self._chown(lambda: os.chown(base, e.uid, e.gid, dir_fd=pd.fd, follow_symlinks=False), base)
            else:
                self._chown(lambda: os.chown(self.root.proc_path(pd), e.uid, e.gid), "/")

    def _xattr_allowed(self, key: str) -> bool:
        # overlay's own xattrs from a tar would forge whiteouts, opacity or redirects: never
        return not (key.startswith(("trusted.overlay.", "user.overlay.")) or
                    (key.startswith("trusted.") and not self.euid_root))

    def xattrs_fd(self, fd: int, e: ts.Entry, name: str) -> None:
        for key, value in e.xattrs.items():
            if self._xattr_allowed(key):
                try:
                    os.setxattr(fd, key, value)
                except OSError as err:
                    self.note(f"xattr {key} not set on {name}: {err.strerror}")

    def xattrs_path(self, path: str, e: ts.Entry, name: str) -> None:
        for key, value in e.xattrs.items():
            if self._xattr_allowed(key):
                try:
                    os.setxattr(path, key, value, follow_symlinks=False)
                except OSError as err:
                    self.note(f"xattr {key} not set on {name}: {err.strerror}")

    def hardlink(self, pd: DirRef, base: str, name: str, e: ts.Entry) -> None:
        try:
            target = ts.clean_name(e.linkname)
        except InvalidLayer:
            raise InvalidLayer(f"invalid hardlink {name!r} -> {e.linkname!r}") from None
        if not target or target == name:
            raise InvalidLayer(f"invalid hardlink {name!r} -> {e.linkname!r}")
        tparent, _, tbase = target.rpartition("/")
        tpd = self.root.dir(tparent, create=False)
        if tpd is None:
            raise InvalidLayer(f"invalid hardlink {name!r} -> {e.linkname!r}: no such file")
        try:
            tst = os.lstat(tbase, dir_fd=tpd.fd)
        except FileNotFoundError:
            lower = self.root.lower_entry(tpd, tbase)
            if lower is None or stat.S_ISDIR(lower[1].st_mode):
                raise InvalidLayer(f"invalid hardlink {name!r} -> {e.linkname!r}: no such file") from None
            self.copy_up(tpd, tbase, *lower)
            tst = os.lstat(tbase, dir_fd=tpd.fd)
        if stat.S_ISDIR(tst.st_mode):
            raise InvalidLayer(f"invalid hardlink {name!r} -> {e.linkname!r}: is a directory")

        def link() -> None:
            os.link(tbase, base, src_dir_fd=tpd.fd, dst_dir_fd=pd.fd, follow_symlinks=False)

        self.create(pd, base, link)

    def copy_up(self, pd: DirRef, base: str, path: str, st: os.stat_result) -> None:
        """Bring a lower file into the upper (a hardlink's target that lives below)."""
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), base, dir_fd=pd.fd)
        elif stat.S_ISREG(st.st_mode):
            src = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                dst = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                              dir_fd=pd.fd)
                try:
                    while os.copy_file_range(src, dst, 1 << 30):
                        pass
                    if self.chown:
                        self._chown(lambda: os.fchown(dst, st.st_uid, st.st_gid), base)
                    os.fchmod(dst, stat.S_IMODE(st.st_mode))
                    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
                finally:
                    os.close(dst)
            finally:
                os.close(src)
        else:
            raise InvalidLayer(f"cannot hardlink to special file {base!r} of a lower layer")

    def special(self, pd: DirRef, base: str, name: str, e: ts.Entry) -> None:
        if e.type == ts.FIFO:
            self.create(pd, base, lambda: os.mkfifo(base, 0o600, dir_fd=pd.fd))
        else:
            fmt = stat.S_IFCHR if e.type == ts.CHR else stat.S_IFBLK
            try:
                self.create(pd, base, lambda: os.mknod(
                    base, fmt | 0o600, os.makedev(e.devmajor, e.devminor), dir_fd=pd.fd))
            except PermissionError:
                self.note(f"skipped device node {name}: operation not permitted")
                return
        self.own(pd, base, e)
        os.chmod(self.root.proc_path(pd, base), e.mode)
        os.utime(base, ns=(e.mtime_ns, e.mtime_ns), dir_fd=pd.fd, follow_symlinks=False)

    # --- whiteouts ----------------------------------------------------------------------

    def whiteout(self, parent: str, victim: str) -> None:
        if victim in ("", ".", "..") or "/" in victim:
            raise InvalidLayer(f"invalid whiteout {parent}/.wh.{victim}")
        if self.whiteouts is WhiteoutMode.DELETE:
            pd = self.root.dir(parent, create=False)
            if pd is None:
                return
            try:
                st = os.lstat(victim, dir_fd=pd.fd)
            except FileNotFoundError:
                return
            self.remove(pd, victim, st)
            return
        pd = self.root.dir(parent)
        assert pd is not None
        try:
            st = os.lstat(victim, dir_fd=pd.fd)
            self.remove(pd, victim, st)
        except FileNotFoundError:
            pass
        # overlayfs whiteout; unprivileged users may create 0/0 since Linux 5.8 (vfs_mknod)
        os.mknod(victim, stat.S_IFCHR | 0o600, 0, dir_fd=pd.fd)

    def opaque(self, parent: str) -> None:
        pd = self.root.dir(parent)
        assert pd is not None
        if self.whiteouts is WhiteoutMode.DELETE:
            # everything in it that this layer did not bring goes (docker's unpackedPaths rule)
            prefix = f"{parent}/" if parent else ""
            with os.scandir(self.root.proc_path(pd)) as it:
                names = [d.name for d in it]
            for child in names:
                if f"{prefix}{child}" not in self.unpacked:
                    self.remove(pd, child, os.lstat(child, dir_fd=pd.fd))
            return
        os.setxattr(self.root.proc_path(pd), self.opaque_xattr, b"y")
        self.root.opaque.add(pd.real)
        self.root.invalidate()

    # --- the end ------------------------------------------------------------------------

    def finish(self) -> None:
        """Directory modes and times last (children changed the times; modes may forbid writing)."""
        # a parent that only got new children keeps its times, as under overlayfs
        for real, st in self.root.existing.items():
            self._set_dir(real, stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        for real, st in self.root.copied_up:
            self._set_dir(real, stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        for real, mode, mtime in reversed(self.dirs):
            self._set_dir(real, mode, mtime)
        if self.root_meta is not None:
            self._set_dir("", *self.root_meta)

    def _set_dir(self, real: str, mode: int, mtime_ns: int) -> None:
        try:
            fd = self._open_real(real)
        except OSError:
            return  # replaced by a later entry: its own metadata stands
        try:
            os.chmod(f"/proc/self/fd/{fd}", mode)
            os.utime(f"/proc/self/fd/{fd}", ns=(mtime_ns, mtime_ns))
        except OSError:
            pass
        finally:
            os.close(fd)

    def _open_real(self, real: str) -> int:
        """An O_PATH fd on a real (symlink-free) path under the root; fails if a symlink is in the way."""
        flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        if not real:
            return os.dup(self.root.root.fd)
        if self.openat2_ok:
            try:  # one call instead of one per component
                return openat2(self.root.root.fd, real, flags, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)
            except OSError as err:
                if err.errno != errno.ENOSYS:
                    raise
                self.openat2_ok = False
        fd = os.dup(self.root.root.fd)
        try:
            for part in real.split("/"):
                nfd = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd


def apply_layer(
    stream: RawReader,
    target: str,
    *,
    media_type: str | None = None,
    lowers: Sequence[str] = (),
    whiteouts: WhiteoutMode = WhiteoutMode.DELETE,
    xattr_prefix: str = "trusted.",
    chown: bool | None = None,
    strategy: str = "auto",
    progress: Progress | None = None,
) -> ApplyResult:
    """Extract the layer ``stream`` into ``target`` (see the module docstring for the rules).

    ``lowers`` are the read-only layer directories below ``target`` (top first) for overlay
    uppers; ``chown`` defaults to "am I root (of this namespace)". ``progress`` is called from
    this thread about every MiB. Reads ``stream`` to its end exactly once.

    Raises:
        InvalidLayer: malformed tar/compression or an entry that tries to leave the root.
        NoSpaceLeft: the disk filled up (the partial tree is the caller's to remove).
    """
    dec = open_decompressed(stream, media_type)
    pump = _Pump(dec)
    root = Root(target, lowers, strategy=strategy, overlay=whiteouts is WhiteoutMode.OVERLAY)
    applier = _Applier(
        root, whiteouts=whiteouts, xattr_prefix=xattr_prefix, chown=os.geteuid() == 0 if chown is None else chown,
    )
    last = [0]

    def read_chunk() -> bytes:
        chunk = pump.get()
        if progress is not None and (stream_.offset - last[0] >= _CHUNK or not chunk):
            last[0] = stream_.offset
            progress(dec.compressed_bytes, stream_.offset)
        return chunk

    stream_ = ts.TarStream(read_chunk)
    pump.start()
    entries = 0
    current = ""
    try:
        while (e := stream_.next()) is not None:
            entries += 1
            current = e.name
            applier.entry(e, stream_)
        current = ""
        stream_.drain()
        applier.finish()
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise NoSpaceLeft(os.path.join(target, current)) from err
        raise InvalidLayer(f"failed to apply layer entry {current!r}: {err.strerror or err}") from err
    except DockernbError:
        raise
    finally:
        pump.halt()
        root.close()
    if progress is not None:
        progress(dec.compressed_bytes, stream_.offset)
    if applier.note_count > len(applier.notes):
        applier.notes.append(f"... and {applier.note_count - len(applier.notes)} more")
    return ApplyResult(
        diff_id=Digest("sha256", pump.hash.hexdigest()),
        compressed_size=dec.compressed_bytes,
        size=stream_.offset,
        entries=entries,
        notes=tuple(applier.notes),
        content_size=applier.content_size,
    )
