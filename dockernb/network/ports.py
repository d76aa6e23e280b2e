"""Reserving host ports: bind them here, so conflicts fail before anything starts (layer L3).

The engine binds every published host port itself, in the host's network namespace, before the
container is created: a taken port or a refused privileged port is reported at once with
docker's words and nothing is left half-started. The bound sockets then go to netd, which
serves them (userspace proxy) or holds them (kernel DNAT serves, the socket keeps the port
reserved), like docker's docker-proxy and its "dummy proxy".

An empty host IP binds both 0.0.0.0 and :: (IPV6_V6ONLY), as docker 20.10 reports it
(``0.0.0.0:8089->80/tcp, :::8089->80/tcp``). Host port 0 takes a kernel-chosen free port
(``ip_local_port_range``), the same on both families.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockernb.errors import InvalidPortSpec, NotSupported, PortAllocated, PortNotAllowed
from dockernb.linux.probe import ip_unprivileged_port_start
from dockernb.spec.ports import PortBinding, PortMapping

__all__ = ["Reservation", "ipv6_available", "release", "reserve"]


@dataclass(slots=True)
class Reservation:
    binding: PortBinding
    sock: socket.socket


@functools.cache
def ipv6_available() -> bool:
    """Can this host bind [::]? (docker publishes on :: only then)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _socket(proto: str, ip: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    if proto == "udp":
        s = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    elif proto == "sctp":
        s = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, socket.IPPROTO_SCTP)
    else:
        s = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's net.Listen: survive TIME_WAIT
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


def _bind(proto: str, ip: str, port: int) -> socket.socket:
    s = _socket(proto, ip)
    try:
        s.bind((ip, port))
        if proto != "udp":
            s.listen(128)
    except BaseException:
        s.close()
        raise
    return s


def release(reservations: Iterable[Reservation]) -> None:
    for r in reservations:
        with contextlib.suppress(OSError):
            r.sock.close()


def _fail(err: OSError, proto: str, ip: str, port: int, endpoint: str) -> Exception:
    family = "6" if ":" in ip else "4"
    where = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    prefix = f"driver failed programming external connectivity on endpoint {endpoint}: "
    if err.errno == errno.EADDRINUSE:
        return PortAllocated(f"{prefix}Error starting userland proxy: listen {proto}{family} {where}: "
                             "bind: address already in use")
    if err.errno == errno.EACCES:
        start = ip_unprivileged_port_start()
        return PortNotAllowed(
            f"{prefix}cannot expose privileged port {port}: ports below net.ipv4.ip_unprivileged_port_start "
            f"({start} here) need that sysctl lowered (as root: sysctl -w net.ipv4.ip_unprivileged_port_start={port}),"
            f" or choose a host port >= {start}"
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return InvalidPortSpec(f"{prefix}Error starting userland proxy: listen {proto}{family} {where}: "
                               "bind: cannot assign requested address")
    if err.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
        return NotSupported(f"{prefix}{proto} is not supported by this kernel")
    return PortAllocated(f"{prefix}listen {proto}{family} {where}: {err.strerror}")


def _hosts(m: PortMapping, ipv6: bool) -> list[str]:
    if m.host_ip:
        return [m.host_ip]
    return ["0.0.0.0", "::"] if ipv6 and m.proto != "sctp" else ["0.0.0.0"]


def reserve(mappings: Sequence[PortMapping], *, endpoint: str, taken: Iterable[PortBinding] = (),
            ipv6: bool | None = None) -> list[Reservation]:
    """Bind every mapping's host port(s); all or nothing.

    ``taken``: bindings of other live containers of this root, for docker's exact "port is already
    allocated" sentence; ``endpoint``: "NAME (ENDPOINT_ID)" for the messages.

    Raises:
        PortAllocated, PortNotAllowed, InvalidPortSpec, NotSupported: nothing stays bound.
    """
    if ipv6 is None:
        ipv6 = ipv6_available()
    busy = {(b.proto, b.host_port, b.host_ip) for b in taken}
    out: list[Reservation] = []
    try:
        for m in mappings:
            ips = _hosts(m, ipv6)
            lo, hi = (m.host_port, m.host_port_end or m.host_port)
            candidates = [0] if lo == 0 else list(range(lo, hi + 1))
            last_err: Exception | None = None
            for port in candidates:
                if port and any(_conflicts(busy, m.proto, port, ip) for ip in ips):
                    where = f"{ips[0]}:{port}" if len(ips) == 1 or ":" not in ips[0] else f"[{ips[0]}]:{port}"
                    last_err = PortAllocated(
                        f"driver failed programming external connectivity on endpoint {endpoint}: "
                        f"Bind for {where} failed: port is already allocated")
                    continue
                try:
                    out.extend(_bind_all(m, ips, port, endpoint))
                    last_err = None
                    break
                except (PortAllocated, PortNotAllowed, InvalidPortSpec, NotSupported) as err:
                    last_err = err
                    if not isinstance(err, PortAllocated):
                        break
            if last_err is not None:
                raise last_err
    except BaseException:
        release(out)
        raise
    return out


def _conflicts(busy: set[tuple[str, int, str]], proto: str, port: int, ip: str) -> bool:
    """Same protocol, port and family, and the same address or a wildcard on either side."""
    v6 = ":" in ip
    wild = "::" if v6 else "0.0.0.0"
    return any(bproto == proto and bport == port and (":" in bip) == v6 and (bip == ip or wild in (bip, ip))
               for bproto, bport, bip in busy)


def _bind_all(m: PortMapping, ips: list[str], port: int, endpoint: str) -> list[Reservation]:
    """Bind ``port`` (0: a free one) on every ip; with 0, retry until one port is free on all."""
    for _attempt in range(20):
        got: list[Reservation] = []
        chosen = port
        try:
            for ip in ips:
                try:
                    s = _bind(m.proto, ip, chosen)
                except OSError as err:
                    if port == 0 and chosen and err.errno == errno.EADDRINUSE:
                        raise _Retry() from None
                    raise _fail(err, m.proto, ip, chosen, endpoint) from None
                chosen = s.getsockname()[1]
                got.append(Reservation(PortBinding(m.container_port, m.proto, ip, chosen), s))
            return got
        except _Retry:
            release(got)
            continue
        except BaseException:
            release(got)
            raise
    raise PortAllocated(f"driver failed programming external connectivity on endpoint {endpoint}: "
                        "no free host port found")


class _Retry(Exception):
    pass
