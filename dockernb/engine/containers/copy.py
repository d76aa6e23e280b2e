"""``docker cp``: the daemon's archive API and the client's copy rules, in process (layer L6).

The daemon's half, for the Engine API's ``HEAD/GET/PUT /containers/{id}/archive``:
:func:`stat_path`, :func:`get_archive` (a tar of a path, named as docker names it, with its stat)
and :func:`put_archive` (a tar extracted into a directory; the container's root owns what it
makes unless ``copy_uid_gid``). The client's half, for ``dockernb cp``: :func:`copy_from` and
:func:`copy_to` apply docker's CLI rules (``-L``, a destination that is or is not a directory,
``/.`` for a directory's contents, ``-`` for a tar on stdin or stdout) on top of those.

Everything in the container is reached through :mod:`.rootfs` (its ``/proc/<pid>/root`` or a
private mount of its snapshot) and resolved under that root by :mod:`dockernb.layers.copy`, so
a symlink in the container never leads anywhere on the host.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import stat
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from dockernb.errors import DockernbError, Forbidden, InvalidArgument, InvalidCopyPath, NoSuchPath, RuntimeFailure
from dockernb.layers import copy as lc
from dockernb.layers.copy import CopyInfo, PathStat

if TYPE_CHECKING:
    from dockernb.engine.containers.rootfs import RootfsInfo
    from dockernb.engine.containers.service import ContainerService

__all__ = ["ArchiveStream", "copy_from", "copy_to", "get_archive", "put_archive", "stat_path"]

_O_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def _stat_json(st: PathStat) -> dict[str, Any]:
    return dataclasses.asdict(st)


def _mount_devs(root: int, targets: list[str]) -> set[int]:
    """Devices of the container's own mounts (volumes, binds, tmpfs): archives go into those."""
    devs = set()
    for target in targets:
        try:
            fd = lc.open_in_tree(root, target)
        except OSError:
            continue
        try:
            devs.add(os.fstat(fd).st_dev)
        finally:
            os.close(fd)
    return devs


def stat_path(svc: ContainerService, container_id: str, path: str, ref: str = "") -> PathStat:
    """docker's ``HEAD /containers/{id}/archive``. Raises NoSuchPath (``Could not find the file ...``)."""
    from dockernb.engine.containers.rootfs import on_rootfs

    def child(root: int, info: RootfsInfo) -> dict[str, Any]:
        return _stat_json(lc.stat_path(root, path))

    try:
        return PathStat(**on_rootfs(svc, container_id, child))
    except NoSuchPath:
        raise NoSuchPath(path, ref or container_id) from None


class ArchiveStream:
    """The tar of ``get_archive``: ``read(n)`` until ``b""``; the child's error, if any, is raised there."""

    def __init__(self, stream: Any, rest: bytes) -> None:  # noqa: ANN401 - a ChildStream
        self._stream = stream
        self._rest = rest

    def read(self, n: int = 1 << 16) -> bytes:
        if self._rest:
            head, self._rest = self._rest[:n], self._rest[n:]
            return head
        data: bytes = self._stream.read(n)
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ArchiveStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_archive(svc: ContainerService, container_id: str, path: str, ref: str = "") -> tuple[PathStat, ArchiveStream]:
    """docker's ``GET /containers/{id}/archive``: the stat of ``path`` and a tar of it.

    Raises NoSuchPath before any data. The tar holds the path's own mounts (volumes, binds,
    tmpfs) but not the runtime's (/proc, /sys, /dev are archived as empty directories).
    """
    from dockernb.engine.containers.rootfs import ChildStream, on_rootfs

    record = svc.store.record(container_id)
    targets = [m.target for m in record.host_config.mounts]

    def start(w: int, after_fork: Callable[[], None], read_fd: int) -> Any:  # noqa: ANN401
        def child(root: int, info: RootfsInfo) -> dict[str, Any]:
            os.close(read_fd)
            allowed = {info.rootfs_dev} | _mount_devs(root, targets)
            st = lc.stat_path(root, path)  # NoSuchPath before a single byte
            with os.fdopen(w, "wb") as out:
                out.write(json.dumps(_stat_json(st)).encode() + b"\n")
                lc.write_archive(root, path, out, descend=lambda s: s.st_dev in allowed)
            return {}

        return on_rootfs(svc, container_id, child, after_fork=after_fork)

    stream = ChildStream(start)
    head = b""
    try:
        while b"\n" not in head:
            chunk = stream.read(4096)
            if not chunk:
                raise RuntimeFailure("the archive helper ended without data")
            head += chunk
    except NoSuchPath:
        stream.close()
        raise NoSuchPath(path, ref or container_id) from None
    except BaseException:
        stream.close()
        raise
    line, _, rest = head.partition(b"\n")
    svc.record_event(container_id, "archive-path")
    return PathStat(**json.loads(line)), ArchiveStream(stream, rest)


def _os_error(err: OSError, dest_dev: int, info: RootfsInfo) -> DockernbError:
    if err.errno == errno.EROFS:
        if dest_dev == info.rootfs_dev:
            return Forbidden("container rootfs is marked read-only")
        return Forbidden("mounted volume is marked read-only")
    where = f": {err.filename}" if err.filename else ""
    return RuntimeFailure(f"{(err.strerror or str(err)).lower()}{where}")


def put_archive(
    svc: ContainerService,
    container_id: str,
    path: str,
    stream: IO[bytes] | Any,  # noqa: ANN401 - anything with read(n)
    *,
    ref: str = "",
    copy_uid_gid: bool = False,
    no_overwrite_dir_nondir: bool = True,
    rename: tuple[str, str] | None = None,
) -> None:
    """docker's ``PUT /containers/{id}/archive``: extract the tar ``stream`` into the directory ``path``.

    ``path``'s last element is followed if it is a symlink (inside the container). What is
    extracted belongs to the container's root unless ``copy_uid_gid`` (the archive's ids).
    ``rename`` = (old, new) renames the archive's first element (the client's rebase).

    Raises NoSuchPath (``path`` missing), InvalidArgument (``extraction point is not a
    directory``, ``cannot overwrite ...``, a bad archive), Forbidden (``container rootfs is marked
    read-only``, ``mounted volume is marked read-only``).
    """
    from dockernb.engine.containers.rootfs import on_rootfs

    r, w = os.pipe2(os.O_CLOEXEC)
    failure: list[BaseException] = []
    forked = threading.Event()

    def pump() -> None:
        # not before the child exists: it closes its copy of ``w`` by number, which must still be ours
        forked.wait()
        try:
            with os.fdopen(w, "wb") as sink:
                while chunk := stream.read(1 << 16):
                    sink.write(chunk)
        except BrokenPipeError:
            pass  # the child stopped reading: its error says why
        except BaseException as err:  # noqa: BLE001 - raised below
            failure.append(err)

    owner: lc.Owner = "keep" if copy_uid_gid else (0, 0)
    rebase = lc.renamer(rename)

    def child(root: int, info: RootfsInfo) -> dict[str, Any]:
        os.close(w)  # ours: the reader must see the end when the pump is done
        abs_path = lc.preserve_trailing(lc.go_clean("/" + path), path)
        resolved = lc.follow_in_root(root, abs_path)
        try:
            dest = lc.open_in_tree(root, resolved, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NoSuchPath(path) from None
        except NotADirectoryError:
            raise InvalidArgument("extraction point is not a directory") from None
        try:
            st = os.fstat(dest)
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument("extraction point is not a directory")
            if info.read_only and st.st_dev == info.rootfs_dev:
                raise Forbidden("container rootfs is marked read-only")
            try:
                lc.extract_archive(lambda: os.read(r, 1 << 16), dest, owner=owner,
                                   no_overwrite_dir_nondir=no_overwrite_dir_nondir, rename=rebase,
                                   shown=resolved)  # fmt: skip
            except OSError as err:
                raise _os_error(err, st.st_dev, info) from err
        finally:
            os.close(dest)
        return {}

    open_r = [r]

    def close_r() -> None:
        while open_r:
            os.close(open_r.pop())
        forked.set()

    thread = threading.Thread(target=pump, name="dockernb-put-archive", daemon=True)
    thread.start()
    try:
        on_rootfs(svc, container_id, child, after_fork=close_r)
    except NoSuchPath:
        raise NoSuchPath(path, ref or container_id) from None
    finally:
        close_r()  # never forked: the pump must see a gone reader too
        thread.join()
    if failure:
        raise failure[0]
    svc.record_event(container_id, "extract-to-dir")


# --- the client's rules (docker's cli/command/container/cp.go) ------------------------------------


def _local_abs(path: str) -> str:
    """docker's ``resolveLocalPath``: absolute, with a trailing ``/`` or ``/.`` kept."""
    return lc.preserve_trailing(os.path.abspath(path), path)


def _validate_output(path: str) -> None:
    """docker's ``ValidateOutputPath``."""
    parent = os.path.dirname(os.path.normpath(path))
    if parent and parent != "." and not os.path.exists(parent):
        raise InvalidCopyPath(f'invalid output path: directory "{parent}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise InvalidCopyPath(f'invalid output path: "{path}" must be a directory or a regular file')


def _host_destination(path: str) -> CopyInfo:
    """docker's ``CopyInfoDestinationPath`` on this host (symlinks at the end followed, 10 at most)."""
    original = path
    for _ in range(11):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return _missing_destination(path)
        if not stat.S_ISLNK(st.st_mode):
            return CopyInfo(path=path, exists=True, is_dir=stat.S_ISDIR(st.st_mode))
        target = os.readlink(path)
        if not target.startswith("/"):
            target = os.path.join(lc.split_path_dir_entry(path)[0], target)
        path = target
    raise InvalidCopyPath(f"too many symlinks in {original}")


def _missing_destination(path: str) -> CopyInfo:
    """A destination that does not exist yet: its parent must be a directory."""
    parent, _ = lc.split_path_dir_entry(path)
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise InvalidCopyPath(f"stat {parent}: no such file or directory") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise InvalidCopyPath("not a directory")
    return CopyInfo(path=path)


def _chain(*fns: Callable[[str], str]) -> Callable[[str], str]:
    def run(name: str) -> str:
        for fn in fns:
            name = fn(name)
        return name

    return run


def copy_from(
    svc: ContainerService, ref: str, src: str, dest: str, *, follow_link: bool = False, out: BinaryIO | None = None
) -> None:
    """``docker cp CONTAINER:SRC DEST``: copy out of the container; ``dest`` ``-`` writes the tar to ``out``.

    Raises NoSuchContainer, NoSuchPath, InvalidArgument (docker's words: ``cannot copy
    directory``, ``no such directory``, ``invalid output path: ...``).
    """
    cid = svc.resolve(ref)
    dest_abs = dest if dest == "-" else _local_abs(dest)
    if dest != "-":
        _validate_output(dest_abs)
    rebase = ""
    if follow_link:
        try:
            st = stat_path(svc, cid, src, ref)
        except NoSuchPath:
            st = None
        if st is not None and st.is_link:
            src, rebase = lc.rebase_name(src, st.link_target)
    info, archive = get_archive(svc, cid, src, ref)
    with archive:
        if dest == "-":
            assert out is not None
            while chunk := archive.read(1 << 16):
                out.write(chunk)
            return
        src_info = CopyInfo(path=src, exists=True, is_dir=info.is_dir, rebase=rebase)
        first: Callable[[str], str] = lambda name: name  # noqa: E731
        if rebase:
            first = lc.renamer((lc.split_path_dir_entry(src)[1], rebase))
        dst_info = _host_destination(dest_abs)
        dst_dir, rename = lc.prepare_copy(src_info, dst_info)
        fd = os.open(dst_dir, _O_DIR)
        try:
            lc.extract_archive(archive.read, fd, owner=None, rename=_chain(first, lc.renamer(rename)), shown=dst_dir)
        except InvalidCopyPath:
            raise
        except (InvalidArgument, OSError) as err:
            # the client's own extraction: docker prints its errors as they are
            text = str(err) if isinstance(err, InvalidArgument) else f"{err.strerror or err}: {err.filename or ''}"
            raise InvalidCopyPath(text) from err
        finally:
            os.close(fd)


def _host_source(path: str, follow_link: bool) -> CopyInfo:
    """docker's ``CopyInfoSourcePath`` / ``ResolveHostSourcePath`` on this host."""
    rebase = ""
    if follow_link:
        resolved = os.path.realpath(path)
        resolved, rebase = lc.rebase_name(path, resolved)
    else:
        head, base = os.path.split(path)
        resolved = os.path.realpath(head or ".").rstrip("/") + "/" + base
        if path.endswith("/") and lc.go_base(path) != lc.go_base(resolved):
            rebase = lc.go_base(path)
    try:
        st = os.lstat(resolved)
    except OSError as err:  # missing, or a file named as a directory (``file/``)
        text = (err.strerror or str(err)).lower()
        raise InvalidCopyPath(f"lstat {resolved.rstrip('/') or '/'}: {text}") from None
    return CopyInfo(path=resolved, exists=True, is_dir=stat.S_ISDIR(st.st_mode), rebase=rebase)


def copy_to(
    svc: ContainerService,
    ref: str,
    src: str,
    dest: str,
    *,
    follow_link: bool = False,
    copy_uid_gid: bool = False,
    stdin: IO[bytes] | None = None,
) -> None:
    """``docker cp SRC CONTAINER:DEST``: copy into the container; ``src`` ``-`` reads a tar from ``stdin``.

    Raises NoSuchContainer, NoSuchPath (the directory to extract into is missing),
    InvalidArgument (``destination "c:/x" must be a directory``, ``cannot copy directory``...),
    Forbidden (read-only rootfs or volume).
    """
    cid = svc.resolve(ref)
    dst_info = CopyInfo(path=dest)
    try:
        st: PathStat | None = stat_path(svc, cid, dest, ref)
    except NoSuchPath:
        st = None
    if st is not None and st.is_link:
        dst_info = CopyInfo(path=st.link_target)
        try:
            st = stat_path(svc, cid, st.link_target, ref)
        except NoSuchPath:
            st = None
    if st is not None:
        if not (st.is_dir or stat.S_ISREG(st.mode)):
            raise InvalidCopyPath(f'destination "{ref}:{dest}" must be a directory or a regular file: '
                                  f"{_mode_text(st.mode)}")  # fmt: skip
        dst_info = CopyInfo(path=dst_info.path, exists=True, is_dir=st.is_dir)
    if src == "-":
        if not dst_info.is_dir:
            raise InvalidCopyPath(f'destination "{ref}:{dest}" must be a directory')
        assert stdin is not None
        put_archive(svc, cid, dst_info.path, stdin, ref=ref, copy_uid_gid=copy_uid_gid)
        return
    src_info = _host_source(_local_abs(src), follow_link)
    dst_dir, rename = lc.prepare_copy(src_info, dst_info)
    host = _host_tar(src_info)
    try:
        put_archive(svc, cid, dst_dir, host, ref=ref, copy_uid_gid=copy_uid_gid, rename=rename)
    finally:
        host.close()


def _mode_text(mode: int) -> str:
    kind = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "named pipe",
            stat.S_IFSOCK: "socket"}.get(stat.S_IFMT(mode), "special file")  # fmt: skip
    return f"cannot copy to a {kind}"


def _host_tar(info: CopyInfo) -> Any:  # noqa: ANN401 - a ChildStream
    """docker's ``TarResource`` of a host path, written by a child process into a pipe read here.

    A process, not a thread: the container-side child forked next must not inherit the pipe's
    write end (it would never see the end of the data).
    """
    from dockernb.engine.containers.rootfs import ChildStream
    from dockernb.linux.mount import run_in_userns

    def start(w: int, after_fork: Callable[[], None], read_fd: int) -> Any:  # noqa: ANN401
        def child() -> dict[str, Any]:
            os.close(read_fd)
            root = os.open("/", _O_DIR)
            with os.fdopen(w, "wb") as out:
                lc.write_archive(root, info.path, out, rebase=info.rebase or None)
            return {}

        return run_in_userns(child, None, after_fork=after_fork)

    return ChildStream(start)
