"""netd: the one long-lived networking process of a state root (layer L3).

``python -m dockernb.network.netd --root ROOT [--userns P --netns P]`` serves, from a single
thread and a selector loop:

* **published ports** whose host sockets the engine bound and handed over (SCM_RIGHTS on
  ``networks/netd.sock``): it forwards the ones marked ``serve`` to the container (TCP and
  UDP; rootless: all of them; root: the IPv6 ones, which kernel NAT cannot send to an IPv4-only
  container) and holds the others open, so the port stays reserved while kernel DNAT serves it;
* **the embedded DNS responder** of user-defined networks, on each network's gateway address,
  port 53: container names, ``--network-alias`` aliases and short ids, answered from the
  records; everything else forwarded to the host's resolvers.

Rootless, it starts in the host's namespaces, makes its upstream DNS socket there, then joins
the hub's user and network namespaces: every socket it creates afterwards (listeners on the
gateways, connections to containers) is inside the hub, while the host-side port sockets keep
the namespace they were bound in.

It watches each publishing container's init through a pidfd and drops its ports when it
exits, and it exits by itself after 30 s with nothing to serve; ``reconcile`` restarts it and
re-publishes running containers' ports when it died.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import heapq
import json
import logging
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockernb.linux import netns
from dockernb.network import dns
from dockernb.network.files import read_host_resolv
from dockernb.network.records import NetworkStore
from dockernb.store.layout import Layout

__all__ = ["main"]

log = logging.getLogger("dockernb.netd")

IDLE_EXIT = 30.0
Handler = Callable[[int], None]


class Loop:
    """A selector loop with one handler per file object and a few timers."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []  # a heap: every connection adds one
        self._seq = 0
        self._interest: dict[int, tuple[int, Handler]] = {}
        self.running = True
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._drain)

    def _drain(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 512)

    def stop(self) -> None:
        """Stop the loop (from any thread or a signal handler)."""
        self.running = False
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        self.sel.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def set(self, sock: Any, events: int, handler: Handler) -> None:  # noqa: ANN401 - socket or fd holder
        """Register, change or (events=0) drop interest in ``sock``.

        Keeps its own table: ``selector.get_map().get()`` formats ``repr(sock)`` (two syscalls) for
        every unregistered socket, which cost a tenth of a proxied connection."""
        fd = sock if isinstance(sock, int) else sock.fileno()
        current = self._interest.get(fd)
        if events == 0:
            if current is not None:
                del self._interest[fd]
                self.sel.unregister(sock)
        elif current is None:
            self.sel.register(sock, events, handler)
            self._interest[fd] = (events, handler)
        elif current[0] != events or current[1] is not handler:
            self.sel.modify(sock, events, handler)
            self._interest[fd] = (events, handler)

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self._seq, fn))

    def run(self) -> None:
        while self.running:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
            timeout = (self.timers[0][0] - time.monotonic()) if self.timers else 5.0
            for key, mask in self.sel.select(max(0.0, min(timeout, 5.0))):
                try:
                    key.data(mask)
                except Exception:  # one broken connection must not stop the others
                    log.exception("handler failed")


R, W = selectors.EVENT_READ, selectors.EVENT_WRITE


def _noop(mask: int) -> None:
    pass


class TcpPair:
    """One proxied TCP connection: client <-> container, with backpressure and half-close.

    The client side is read from the start (what it sends while the connection to the container
    is being made waits in ``out``), so a request costs no extra loop turn."""

    connecting_since: dict[TcpPair, float] = {}  # swept by housekeeping: a silent target times out

    def __init__(self, loop: Loop, client: socket.socket, target: tuple[str, int]) -> None:
        self.loop = loop
        self.a = client
        self.b = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
        for s in (self.a, self.b):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out: dict[socket.socket, bytes] = {self.a: b"", self.b: b""}  # pending data to write into key
        self.eof: dict[socket.socket, bool] = {self.a: False, self.b: False}
        self.closed = False
        self.connecting = True
        self.handlers: dict[socket.socket, Handler] = {
            self.a: functools.partial(self._event, self.a), self.b: functools.partial(self._event, self.b)}
        rc = self.b.connect_ex(target)
        if rc not in (0, errno.EINPROGRESS):
            self.close()
            return
        TcpPair.connecting_since[self] = time.monotonic()
        self._update()

    @classmethod
    def sweep(cls, timeout: float = 10.0) -> None:
        now = time.monotonic()
        for pair, since in list(cls.connecting_since.items()):
            if now - since > timeout:
                pair.close()

    def _peer(self, s: socket.socket) -> socket.socket:
        return self.b if s is self.a else self.a

    def _update(self) -> None:
        if self.closed:
            return
        for s in (self.a, self.b):
            ev = 0
            if not self.eof[s] and not self.out[self._peer(s)] and not (s is self.b and self.connecting):
                ev |= R
            if self.out[s] or (s is self.b and self.connecting):
                ev |= W
            self.loop.set(s, ev, self.handlers[s])
        if self.eof[self.a] and self.eof[self.b] and not self.out[self.a] and not self.out[self.b]:
            self.close()

    def _event(self, s: socket.socket, mask: int) -> None:
        peer = self._peer(s)
        try:
            if s is self.b and self.connecting:
                if not mask & W:
                    return
                if self.b.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.close()
                    return
                self.connecting = False
                TcpPair.connecting_since.pop(self, None)
            if mask & R:
                data = s.recv(262144)
                if data:
                    n = 0
                    if not (peer is self.b and self.connecting):
                        try:
                            n = peer.send(data)
                        except BlockingIOError:
                            n = 0
                    self.out[peer] += data[n:]
                else:
                    self.eof[s] = True
                    if not self.out[peer] and not (peer is self.b and self.connecting):
                        peer.shutdown(socket.SHUT_WR)
            if mask & W and self.out[s]:
                n = s.send(self.out[s])
                self.out[s] = self.out[s][n:]
                if not self.out[s] and self.eof[peer]:
                    s.shutdown(socket.SHUT_WR)
            elif mask & W and not self.out[s] and self.eof[peer] and s is self.b:
                s.shutdown(socket.SHUT_WR)  # the client closed before we were connected
        except OSError:
            self.close()
            return
        self._update()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        TcpPair.connecting_since.pop(self, None)
        for s in (self.a, self.b):
            self.loop.set(s, 0, _noop)
            s.close()


@dataclass
class Binding:
    proto: str
    host_ip: str
    host_port: int
    target_ip: str
    target_port: int
    serve: bool
    sock: socket.socket
    udp_clients: dict[Any, tuple[socket.socket, float]] = field(default_factory=dict)


class Publication:
    """One container's host ports, served or held until it exits."""

    def __init__(self, netd: Netd, container: str, pid: int, bindings: list[Binding]) -> None:
        self.netd, self.container, self.bindings = netd, container, bindings
        loop = netd.loop
        self.pidfd = -1
        try:
            self.pidfd = os.pidfd_open(pid)
            loop.set(self.pidfd, R, functools.partial(self._exited))
        except OSError:  # already gone
            loop.later(0, lambda: netd.unpublish(container))
        for b in bindings:
            b.sock.setblocking(False)
            if not b.serve:
                continue
            if b.proto == "tcp":
                loop.set(b.sock, R, functools.partial(self._accept, b))
            elif b.proto == "udp":
                loop.set(b.sock, R, functools.partial(self._udp_in, b))

    def _exited(self, mask: int) -> None:
        self.netd.unpublish(self.container)

    def _accept(self, b: Binding, mask: int = 0) -> None:
        for _ in range(64):
            try:
                conn, _addr = b.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            TcpPair(self.netd.loop, conn, (b.target_ip, b.target_port))

    def _udp_in(self, b: Binding, mask: int = 0) -> None:
        for _ in range(64):
            try:
                data, addr = b.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            entry = b.udp_clients.get(addr)
            if entry is None:
                up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.setblocking(False)
                up.connect((b.target_ip, b.target_port))
                self.netd.loop.set(up, R, functools.partial(self._udp_back, b, up, addr))
                entry = (up, 0.0)
            b.udp_clients[addr] = (entry[0], time.monotonic())
            with contextlib.suppress(OSError):
                entry[0].send(data)

    def _udp_back(self, b: Binding, up: socket.socket, addr: Any, mask: int = 0) -> None:  # noqa: ANN401
        for _ in range(64):
            try:
                data = up.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            b.udp_clients[addr] = (up, time.monotonic())
            with contextlib.suppress(OSError):
                b.sock.sendto(data, addr)

    def reap_udp(self, idle: float = 90.0) -> None:
        now = time.monotonic()
        for b in self.bindings:
            for addr, (up, last) in list(b.udp_clients.items()):
                if now - last > idle:
                    self.netd.loop.set(up, 0, _noop)
                    up.close()
                    del b.udp_clients[addr]

    def close(self) -> None:
        loop = self.netd.loop
        for b in self.bindings:
            for up, _ in b.udp_clients.values():
                loop.set(up, 0, _noop)
                up.close()
            loop.set(b.sock, 0, _noop)
            b.sock.close()
        if self.pidfd >= 0:
            loop.set(self.pidfd, 0, _noop)
            os.close(self.pidfd)
            self.pidfd = -1

    def describe(self) -> list[dict[str, Any]]:
        return [{"proto": b.proto, "host_ip": b.host_ip, "host_port": b.host_port, "target_ip": b.target_ip,
                 "target_port": b.target_port, "serve": b.serve} for b in self.bindings]


class Dns:
    """The embedded DNS responder: one UDP and one TCP socket per user-defined network gateway."""

    port = 53

    def __init__(self, netd: Netd, upstream: list[tuple[socket.socket, tuple[str, int]]]) -> None:
        self.netd = netd
        self.upstream = upstream
        self.names: dict[str, dict[str, list[str]]] = {}  # network id -> name -> addresses
        self.ptr: dict[str, str] = {}
        self.networks_of: dict[str, set[str]] = {}  # a container's address -> its networks
        self.listeners: dict[str, tuple[str, socket.socket, socket.socket]] = {}
        self.pending: dict[int, tuple[Callable[[bytes], None], int, float]] = {}
        self.generation = 0
        for sock, _server in upstream:
            netd.loop.set(sock, R, functools.partial(self._from_upstream, sock))

    @property
    def active(self) -> bool:
        return bool(self.listeners)

    def _gen(self) -> int:
        try:
            return (self.netd.store.dir / "generation").stat().st_mtime_ns
        except OSError:
            return 0

    def load(self) -> None:
        self.generation = self._gen()
        names: dict[str, dict[str, list[str]]] = {}
        ptr: dict[str, str] = {}
        gateways: dict[str, str] = {}
        members: dict[str, set[str]] = {}  # container id -> networks
        addresses: dict[str, str] = {}  # address -> container id
        for net in self.netd.store.networks():
            if net.driver != "bridge" or net.predefined:
                continue
            table: dict[str, list[str]] = {}
            for ep in self.netd.store.endpoints(net.id):
                for n in dict.fromkeys([ep.name, *ep.aliases, ep.container_id[:12]]):
                    if n:
                        table.setdefault(n.lower(), []).append(ep.ip)
                ptr[ep.ip] = ep.name
                members.setdefault(ep.container_id, set()).add(net.id)
                addresses[ep.ip] = ep.container_id
            if table:
                names[net.id] = table
                gateways[net.id] = net.gateway
        self.names, self.ptr = names, ptr
        self.networks_of = {ip: members[cid] for ip, cid in addresses.items()}
        self._listen(gateways)

    def _listen(self, gateways: dict[str, str]) -> None:
        loop = self.netd.loop
        for nid in list(self.listeners):
            gw, u, t = self.listeners[nid]
            if gateways.get(nid) != gw:
                for s in (u, t):
                    loop.set(s, 0, _noop)
                    s.close()
                del self.listeners[nid]
        for nid, gw in gateways.items():
            if nid in self.listeners:
                continue
            try:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind((gw, self.port))
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind((gw, self.port))
                t.listen(64)
            except OSError as err:
                log.warning("dns on %s:53: %s", gw, err)
                continue
            u.setblocking(False)
            t.setblocking(False)
            loop.set(u, R, functools.partial(self._udp, u, nid))
            loop.set(t, R, functools.partial(self._tcp_accept, t, nid))
            self.listeners[nid] = (gw, u, t)

    def resolve(self, nid: str, data: bytes, reply: Callable[[bytes], None], client: str = "") -> None:
        """Answer from the networks the asking container is on (as docker's embedded DNS does),
        else from the network whose gateway was asked; forward the rest."""
        if self._gen() != self.generation:
            self.load()
        q = dns.parse(data)
        if q is None:
            return
        addrs: list[str] = []
        found = False
        for net in sorted(self.networks_of.get(client, set()) | {nid}, key=lambda n: n != nid):
            table = self.names.get(net, {})
            if q.name in table:
                found = True
                addrs += [a for a in table[q.name] if a not in addrs]
        if found:
            reply(dns.answer(q, addresses=addrs if q.qtype in (dns.A, 255) else []))
            return
        ip = dns.ptr_name(q.name) if q.qtype == dns.PTR else None
        if ip and ip in self.ptr:
            reply(dns.answer(q, ptr=self.ptr[ip]))
            return
        self._forward(q, data, reply)

    def _forward(self, q: dns.Query, data: bytes, reply: Callable[[bytes], None]) -> None:
        if not self.upstream:
            reply(dns.error(q, dns.SERVFAIL))
            return
        new_id = random.randrange(65536)
        while new_id in self.pending:
            new_id = random.randrange(65536)
        self.pending[new_id] = (reply, q.id, time.monotonic() + 5)
        msg = struct.pack("!H", new_id) + data[2:]
        for sock, server in self.upstream:
            with contextlib.suppress(OSError):
                sock.sendto(msg, server)
                break
        self.netd.loop.later(5.1, lambda: self._expire(new_id, q))

    def _expire(self, new_id: int, q: dns.Query) -> None:
        entry = self.pending.pop(new_id, None)
        if entry is not None:
            entry[0](dns.error(q, dns.SERVFAIL))

    def _from_upstream(self, sock: socket.socket, mask: int = 0) -> None:
        try:
            data, _ = sock.recvfrom(65536)
        except OSError:
            return
        if len(data) < 2:
            return
        entry = self.pending.pop(struct.unpack_from("!H", data)[0], None)
        if entry is not None:
            entry[0](struct.pack("!H", entry[1]) + data[2:])

    def _udp(self, sock: socket.socket, nid: str, mask: int = 0) -> None:
        for _ in range(64):
            try:
                data, addr = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return

            def reply(resp: bytes, addr: Any = addr) -> None:  # noqa: ANN401
                with contextlib.suppress(OSError):
                    sock.sendto(resp, addr)

            self.resolve(nid, data, reply, addr[0])

    def _tcp_accept(self, lsock: socket.socket, nid: str, mask: int = 0) -> None:
        try:
            conn, peer = lsock.accept()
        except OSError:
            return
        conn.setblocking(False)
        buf = bytearray()
        loop = self.netd.loop

        def done() -> None:
            loop.set(conn, 0, _noop)
            conn.close()

        def reply(resp: bytes) -> None:
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.settimeout(2)
                conn.sendall(struct.pack("!H", len(resp)) + resp)
            done()

        def readable(mask: int) -> None:
            try:
                chunk = conn.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                done()
                return
            if not chunk:
                done()
                return
            buf.extend(chunk)
            if len(buf) >= 2 and len(buf) >= 2 + struct.unpack_from("!H", buf)[0]:
                n = struct.unpack_from("!H", buf)[0]
                loop.set(conn, 0, _noop)
                self.resolve(nid, bytes(buf[2 : 2 + n]), reply, peer[0])

        loop.set(conn, R, readable)
        loop.later(5, lambda: None if conn.fileno() < 0 else done())

    def close(self) -> None:
        self._listen({})


class Netd:
    def __init__(self, layout: Layout, upstream: list[tuple[socket.socket, tuple[str, int]]]) -> None:
        self.layout = layout
        self.store = NetworkStore(layout)
        self.loop = Loop()
        self.pubs: dict[str, Publication] = {}
        self.dns = Dns(self, upstream)
        self.idle_since = time.monotonic()

    def publish(self, msg: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        container = str(msg["container"])
        specs = msg.get("bindings", [])
        if len(specs) != len(fds):
            for fd in fds:
                os.close(fd)
            return {"ok": False, "error": f"{len(specs)} bindings but {len(fds)} sockets"}
        self.unpublish(container)
        bindings = []
        for spec, fd in zip(specs, fds, strict=True):
            bindings.append(Binding(str(spec["proto"]), str(spec["host_ip"]), int(spec["host_port"]),
                                    str(spec["target_ip"]), int(spec["target_port"]), bool(spec["serve"]),
                                    socket.socket(fileno=fd)))
        self.pubs[container] = Publication(self, container, int(msg["pid"]), bindings)
        return {"ok": True}

    def unpublish(self, container: str) -> None:
        pub = self.pubs.pop(container, None)
        if pub is not None:
            pub.close()
            if not self.pubs:
                self.idle_since = time.monotonic()

    def handle(self, conn: socket.socket) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 256)
            msg = json.loads(data or b"{}")
            op = msg.get("op")
            if op == "publish":
                reply = self.publish(msg, fds)
                fds = []
            elif op == "unpublish":
                self.unpublish(str(msg["container"]))
                reply = {"ok": True}
            elif op == "reload":
                self.dns.load()
                reply = {"ok": True, "dns": sorted(gw for gw, _u, _t in self.dns.listeners.values())}
            elif op == "list":
                reply = {"ok": True, "containers": {c: p.describe() for c, p in self.pubs.items()}}
            elif op == "ping":
                reply = {"ok": True, "pid": os.getpid()}
            elif op == "shutdown":
                self.loop.stop()
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
            for fd in fds:
                os.close(fd)
            conn.send(json.dumps(reply).encode())
        except (OSError, ValueError, KeyError, TypeError) as err:
            with contextlib.suppress(OSError):
                conn.send(json.dumps({"ok": False, "error": str(err)}).encode())
        finally:
            conn.close()

    def close(self) -> None:
        for c in list(self.pubs):
            self.unpublish(c)
        self.dns.close()
        for sock, _server in self.dns.upstream:
            sock.close()
        self.loop.close()

    def housekeeping(self) -> None:
        TcpPair.sweep()
        for pub in self.pubs.values():
            pub.reap_udp()
        if self.pubs or self.dns.active:
            self.idle_since = time.monotonic()
        elif time.monotonic() - self.idle_since > IDLE_EXIT:
            log.info("idle: exiting")
            self.loop.stop()
        self.loop.later(5, self.housekeeping)


def _upstream_sockets() -> list[tuple[socket.socket, tuple[str, int]]]:
    out = []
    for server in read_host_resolv().nameservers:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        try:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.setblocking(False)
        except OSError:
            continue
        out.append((s, (server.split("%")[0], 53)))
    return out


def main(argv: list[str]) -> int:
    # three options and a long life: no argparse (it and its imports cost a megabyte here)
    opts = dict(zip(argv[::2], argv[1::2], strict=False)) if argv else {}
    root, userns, netns_path = opts.get("--root", ""), opts.get("--userns", ""), opts.get("--netns", "")
    if not root or set(opts) - {"--root", "--userns", "--netns"}:
        print("usage: dockernb-netd --root ROOT [--userns PATH --netns PATH]", file=sys.stderr)
        return 2
    if os.fork():  # the caller waits for this first process only; the daemon is re-parented
        os._exit(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s netd %(levelname)s %(message)s")
    layout = Layout(Path(root))
    ndir = layout.networks
    ndir.mkdir(parents=True, exist_ok=True)
    pidfd = os.open(ndir / "netd.pid", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(pidfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another netd serves this root
    os.ftruncate(pidfd, 0)
    os.write(pidfd, str(os.getpid()).encode())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # host-side sockets first: after the setns below, new sockets belong to the hub
    upstream = _upstream_sockets()
    path = ndir / "netd.sock"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.bind(str(path))
    os.chmod(path, 0o600)
    ctl.listen(64)
    ctl.setblocking(False)
    if userns:
        netns.setns(os.open(userns, os.O_RDONLY | os.O_CLOEXEC), netns.CLONE_NEWUSER)
    if netns_path:
        netns.setns(os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC), netns.CLONE_NEWNET)
    netd = Netd(layout, upstream)
    signal.signal(signal.SIGTERM, lambda *_: netd.loop.stop())

    def accept(mask: int) -> None:
        for _ in range(16):
            try:
                conn, _ = ctl.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(True)
            conn.settimeout(5)
            netd.handle(conn)

    netd.loop.set(ctl, R, accept)
    netd.dns.load()
    netd.loop.later(5, netd.housekeeping)
    log.info("serving %s (pid %d)", root, os.getpid())
    try:
        netd.loop.run()
    finally:
        netd.close()
        ctl.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.ftruncate(pidfd, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
