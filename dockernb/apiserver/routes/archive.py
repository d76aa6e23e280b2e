"""``/containers/{id}/archive``: ``HEAD`` (stat), ``GET`` (a tar of a path) and ``PUT`` (extract a tar),
what ``docker cp`` and docker-py's ``get_archive``/``put_archive`` use (layer L8).

The path's stat goes in the ``X-Docker-Container-Path-Stat`` header as dockerd sends it: base64
of the JSON of ``ContainerPathStat``, whose ``mode`` is Go's ``os.FileMode`` (permission bits plus
Go's own type bits, not ``st_mode``'s: the client's ``Mode.IsDir()`` decides how ``cp`` copies)
and ``mtime`` Go's RFC 3339 time. The work is the engine's (``engine/containers/copy.py``):
extraction never leaves the container's root, and read-only roots and volumes refuse writes.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, StreamResponse
from dockernb.apiserver.router import Router
from dockernb.engine.inspect import go_time
from dockernb.errors import InvalidRequest

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["go_file_mode", "path_stat_header", "register"]

_HEADER = "X-Docker-Container-Path-Stat"
# Go's os.FileMode type bits (io/fs): ModeDir, ModeSymlink, ModeNamedPipe, ModeSocket, ModeDevice,
# ModeCharDevice, ModeSetuid, ModeSetgid, ModeSticky
_DIR, _SYMLINK, _PIPE, _SOCKET, _DEVICE, _CHAR = 1 << 31, 1 << 27, 1 << 25, 1 << 24, 1 << 26, 1 << 21
_SETUID, _SETGID, _STICKY = 1 << 23, 1 << 22, 1 << 20


class PathStat(Protocol):
    """What the engine's ``stat_path``/``get_archive`` return (``st_mode`` bits, mtime in ns)."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mode(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def link_target(self) -> str: ...


def go_file_mode(st_mode: int) -> int:
    """``st_mode`` as Go's ``os.FileMode`` (what ``os.Lstat`` gives dockerd)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    if kind == stat.S_IFDIR:
        mode |= _DIR
    elif kind == stat.S_IFLNK:
        mode |= _SYMLINK
    elif kind == stat.S_IFIFO:
        mode |= _PIPE
    elif kind == stat.S_IFSOCK:
        mode |= _SOCKET
    elif kind == stat.S_IFBLK:
        mode |= _DEVICE
    elif kind == stat.S_IFCHR:
        mode |= _DEVICE | _CHAR
    if st_mode & stat.S_ISUID:
        mode |= _SETUID
    if st_mode & stat.S_ISGID:
        mode |= _SETGID
    if st_mode & stat.S_ISVTX:
        mode |= _STICKY
    return mode


def path_stat_json(st: PathStat) -> dict[str, Any]:
    secs, ns = divmod(st.mtime_ns, 1_000_000_000)
    mtime = datetime.fromtimestamp(secs, UTC).replace(microsecond=ns // 1000)
    return {"name": st.name, "size": st.size, "mode": go_file_mode(st.mode), "mtime": go_time(mtime),
            "linkTarget": st.link_target}  # fmt: skip


def path_stat_header(st: PathStat) -> tuple[str, str]:
    payload = json.dumps(path_stat_json(st), separators=(",", ":")).encode()
    return _HEADER, base64.b64encode(payload).decode()


def _path(req: Request) -> str:
    path = req.query_str("path")
    if not path:
        raise InvalidRequest("path is required")  # dockerd's words for a missing ?path=
    return path


class _BodyFile:
    """The request body as the tar stream the engine extracts."""

    def __init__(self, req: Request) -> None:
        self._body = req.body

    def read(self, n: int = -1) -> bytes:
        return self._body.read(n)


def register(router: Router, app: App) -> None:
    svc = app.engine.containers

    def head(req: Request) -> Response:
        st = svc.stat_path(req.params["id"], _path(req))
        return Response(200, b"", "", [path_stat_header(st)])

    def get(req: Request) -> StreamResponse:
        st, tar = svc.get_archive(req.params["id"], _path(req))

        def chunks() -> Iterator[bytes]:
            with tar:  # closed (its child reaped) also when the client leaves early
                while data := tar.read(1 << 16):
                    yield data

        return StreamResponse(chunks(), content_type="application/x-tar", headers=[path_stat_header(st)])

    def put(req: Request) -> Response:
        svc.put_archive(req.params["id"], _path(req), _BodyFile(req),
                        copy_uid_gid=req.query_bool("copyUIDGID"),
                        no_overwrite_dir_nondir=req.query_bool("noOverwriteDirNonDir"))  # fmt: skip
        return Response(200)

    router.add("HEAD", "/containers/{id}/archive", head, name="ContainerArchiveInfo")
    router.add("GET", "/containers/{id}/archive", get, name="ContainerArchive")
    router.add("PUT", "/containers/{id}/archive", put, name="PutContainerArchive")
