"""Where a root's bridges live, and how to reach into namespaces from there (layer L3).

As root the bridges live in the host's network namespace (``HostPlace``). Rootless, they live
in the hub: a network namespace owned by the root's own user namespace (``HubPlace``, see
``dockernb.network.hub``), because a veth can only join two namespaces whose owning user
namespaces the creator is privileged in (verified here: a veth from a hub into a container in
a sibling user namespace fails with EPERM).

A place gives netlink sockets in its own namespace and in a container's (given the container
init's pid), and runs ``nft``/``iptables`` inside its namespace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from typing import Protocol

from dockernb.linux import netns
from dockernb.linux.netlink import NETLINK_ROUTE, Netlink

__all__ = ["HostPlace", "HubPlace", "Place"]

_NL: netns.SocketSpec = (socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)


_SBIN = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"


def _resolve(argv: Sequence[str]) -> list[str]:
    """The tool's full path: nft and iptables live in /usr/sbin, not on a regular user's PATH."""
    if "/" in argv[0]:
        return list(argv)
    found = shutil.which(argv[0]) or shutil.which(argv[0], path=_SBIN)
    return [found or argv[0], *argv[1:]]


def _bound(sock: socket.socket) -> Netlink:
    sock.bind((0, 0))
    return Netlink(sock)


class Place(Protocol):
    """The network namespace holding this root's bridges."""

    netns_path: str  # "" for the caller's own
    userns_path: str  # "" unless rootless

    def netlink(self) -> Netlink: ...

    def netlinks_for(self, pid: int) -> tuple[Netlink, Netlink]:
        """(a socket in this place, a socket in the namespace of ``pid``)."""
        ...

    def container_netlink(self, pid: int) -> Netlink: ...

    def run(self, argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]: ...


class HostPlace:
    """Root: the bridges are in the caller's (the host's) network namespace."""

    netns_path = ""
    userns_path = ""

    def netlink(self) -> Netlink:
        return Netlink()

    def container_netlink(self, pid: int) -> Netlink:
        [sock] = netns.sockets_in(f"/proc/{pid}/ns/net", [_NL])
        return _bound(sock)

    def netlinks_for(self, pid: int) -> tuple[Netlink, Netlink]:
        return Netlink(), self.container_netlink(pid)

    def run(self, argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(_resolve(argv), input=stdin, capture_output=True, text=True, timeout=30)


class HubPlace:
    """Rootless: the bridges are in the hub's namespace, owned by the hub's user namespace."""

    def __init__(self, hub_pid: int) -> None:
        self.hub_pid = hub_pid
        self.netns_path = f"/proc/{hub_pid}/ns/net"
        self.userns_path = f"/proc/{hub_pid}/ns/user"

    def netlink(self) -> Netlink:
        [sock] = netns.sockets_in(self.netns_path, [_NL], userns=self.userns_path)
        return _bound(sock)

    def container_netlink(self, pid: int) -> Netlink:
        [sock] = netns.sockets_in(f"/proc/{pid}/ns/net", [_NL], userns=f"/proc/{pid}/ns/user")
        return _bound(sock)

    def netlinks_for(self, pid: int) -> tuple[Netlink, Netlink]:
        # one forked helper for both: it joins the hub's user namespace (which must own the
        # container's too), then the hub's network namespace, then the container's
        hub_ns, ctr_ns = self.netns_path, f"/proc/{pid}/ns/net"
        fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in (hub_ns, ctr_ns)]
        try:
            def make() -> list[socket.socket]:
                a = socket.socket(*_NL)
                netns.setns(fds[1], netns.CLONE_NEWNET)
                b = socket.socket(*_NL)
                return [a, b]

            a, b = netns.sockets_made_by(hub_ns, self.userns_path, make)
        finally:
            for fd in fds:
                os.close(fd)
        return _bound(a), _bound(b)

    def run(self, argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        user, net = self.userns_path, self.netns_path

        def enter() -> None:  # runs in the forked child before exec; single-threaded there
            ufd = os.open(user, os.O_RDONLY)
            nfd = os.open(net, os.O_RDONLY)
            netns.setns(ufd, netns.CLONE_NEWUSER)
            netns.setns(nfd, netns.CLONE_NEWNET)

        return subprocess.run(_resolve(argv), input=stdin, capture_output=True, text=True, timeout=30,
                              preexec_fn=enter)  # noqa: PLW1509 - setns must happen between fork and exec
