"""Where the API server listens: ``-H`` addresses, the unix socket's permissions, TCP (layer L8).

The unix socket is created owner-only (0600) with the umask set before ``bind``, so it is never
reachable by others even for an instant; ``--group`` makes it 0660 and hands it to that group.
TCP listens on 127.0.0.1 unless told otherwise; dockernb has no TLS, so any other address gets
dockerd's warning. A stale socket file (nobody listening) is replaced; a live one is an error.
"""

from __future__ import annotations

import grp
import ipaddress
import logging
import os
import socket
import socketserver
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockernb.apiserver.protocol import ConnectionHandler, Limits
from dockernb.apiserver.responses import json_bytes
from dockernb.errors import Conflict, Forbidden, InvalidArgument

__all__ = ["Address", "Listener", "default_socket", "open_listener", "parse_host"]

log = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 2375
# sun_path is 108 bytes including the terminating NUL (unix(7))
_SUN_PATH_MAX = 107


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed ``-H`` value: ``unix`` with ``path``, or ``tcp`` with ``host`` and ``port``."""

    kind: str
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


def default_socket(uid: int | None = None, env: dict[str, str] | None = None) -> str:
    """``/run/dockernb.sock`` for root, ``$XDG_RUNTIME_DIR/dockernb.sock`` for everyone else."""
    uid = os.geteuid() if uid is None else uid
    env = dict(os.environ) if env is None else env
    if uid == 0:
        return "/run/dockernb.sock"
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if not runtime or not os.path.isabs(runtime):
        raise InvalidArgument("XDG_RUNTIME_DIR is not set: give the socket with -H unix:///path/dockernb.sock")
    return os.path.join(runtime, "dockernb.sock")


def parse_host(value: str) -> Address:
    """dockerd's ``-H`` grammar: ``unix:///path``, ``tcp://[host]:port``; no scheme means tcp."""
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme == "unix":
        path = rest or default_socket()
        if not os.path.isabs(path):
            raise InvalidArgument(f"Invalid bind address format: {value} (the socket path must be absolute)")
        return Address("unix", path=path)
    if scheme != "tcp":
        raise InvalidArgument(f"Invalid bind address format: {value}")
    if "/" in rest.rstrip("/"):
        raise InvalidArgument(f"Invalid bind address format: {value}")
    rest = rest.rstrip("/")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise InvalidArgument(f"Invalid bind address format: {value}")
    else:
        host, _, port_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    host = host or "127.0.0.1"
    if port_text == "":
        port = DEFAULT_TCP_PORT
    elif port_text.isdigit() and int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise InvalidArgument(f"Invalid bind address format: {value} (bad port {port_text!r})")
    return Address("tcp", host=host, port=port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(socketserver.ThreadingMixIn, socketserver.BaseServer):
    """What both listener kinds share: one daemon thread per connection, a connection cap."""

    daemon_threads = True
    block_on_close = False

    def _init_shared(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.dispatch = app.dispatch
        self.common_headers = app.common_headers
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            body = json_bytes({"message": "too many connections; try again later"})
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Connection: close\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("error on a connection from %s", client_address or "the unix socket")


class _UnixServer(_Server, socketserver.UnixStreamServer):
    pass


class _TCPServer(_Server, socketserver.TCPServer):
    allow_reuse_address = True


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


@dataclass
class Listener:
    address: Address
    server: _Server
    #: the socket file this listener created (removed on close)
    socket_path: str = ""

    @property
    def bound(self) -> str:
        """Where it really listens (the port is known only after bind for ``:0``)."""
        if self.address.kind == "unix":
            return self.address.path
        bound = self.server.server_address
        assert isinstance(bound, tuple)
        return f"{bound[0]}:{bound[1]}"

    def close(self) -> None:
        self.server.server_close()
        if self.socket_path:
            try:
                if stat.S_ISSOCK(os.lstat(self.socket_path).st_mode):
                    os.unlink(self.socket_path)
            except FileNotFoundError:
                pass


def _group_id(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise InvalidArgument(f"group {group} not found") from None


def _clear_stale(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise InvalidArgument(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a leftover from a server that was killed
        return
    finally:
        probe.close()
    raise Conflict(f"{path}: address already in use (another server listens on it)")


def _open_unix(addr: Address, app: Any, limits: Limits, group: str | None) -> Listener:
    path = addr.path
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise InvalidArgument(f"socket path too long ({len(os.fsencode(path))} bytes, at most {_SUN_PATH_MAX}): {path}")
    gid = _group_id(group) if group else None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(path)
    old = os.umask(0o177 if gid is None else 0o117)
    try:
        server = _UnixServer(path, ConnectionHandler, bind_and_activate=False)
        try:
            server.server_bind()
            server.server_activate()
        except OSError as err:
            server.server_close()
            if isinstance(err, PermissionError):
                raise Forbidden(f"can't create unix socket {path}: {err.strerror}") from err
            raise InvalidArgument(f"can't create unix socket {path}: {err.strerror}") from err
    finally:
        os.umask(old)
    listener = Listener(addr, server, socket_path=path)
    try:
        if gid is not None:
            os.chown(path, -1, gid)
            os.chmod(path, 0o660)
        else:
            os.chmod(path, 0o600)
    except OSError as err:
        listener.close()
        raise Forbidden(f"can't give {path} to group {group}: {err.strerror}") from err
    server._init_shared(app, limits)
    return listener


def _open_tcp(addr: Address, app: Any, limits: Limits) -> Listener:
    if not _is_loopback(addr.host):
        log.warning("Binding to IP address without --tlsverify is insecure and gives root access on this machine "
                    "to everyone who has access to your network. host=%s", addr)
        log.warning("Please consider generating tls certificates with client validation to prevent exposing "
                    "unauthenticated root access to your network (dockernb serve has no TLS: bind to 127.0.0.1 "
                    "and tunnel instead)")
    cls = _TCP6Server if ":" in addr.host else _TCPServer
    host = "127.0.0.1" if addr.host == "localhost" else addr.host
    try:
        server = cls((host, addr.port), ConnectionHandler)
    except OSError as err:
        if err.errno == 98:  # EADDRINUSE
            raise Conflict(f"listen tcp {host}:{addr.port}: bind: address already in use") from err
        raise InvalidArgument(f"listen tcp {host}:{addr.port}: {err.strerror}") from err
    server._init_shared(app, limits)
    return Listener(addr, server)


def open_listener(addr: Address, app: Any, *, limits: Limits | None = None, group: str | None = None) -> Listener:
    """Bind one listener for ``app`` (anything with ``dispatch`` and ``common_headers``)."""
    limits = limits or getattr(app, "limits", None) or Limits()
    if addr.kind == "unix":
        return _open_unix(addr, app, limits, group)
    return _open_tcp(addr, app, limits)
