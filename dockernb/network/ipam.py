"""Address management: subnets from the pools, addresses within a subnet (layer L3, pure).

Subnets come from the configured pools (docker's ``default-address-pools``; dockernb's
default is 10.210.0.0/16 cut into /24s, clear of docker0's 172.17.0.0/16 and podman's
10.88.0.0/16) and must not overlap another network of this root nor a route of the namespace
the bridges live in (another engine's bridge, the host's LAN). Addresses are handed out lowest
first; that reuses addresses quickly, which is harmless because a container's MAC is derived
from its address (docker's scheme), so neighbours' ARP caches stay right.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from dockernb.errors import AddressExhausted, InvalidArgument, SubnetUnavailable

__all__ = ["DEFAULT_POOLS", "allocate_address", "choose_subnet", "parse_subnet"]

DEFAULT_POOLS: tuple[tuple[str, int], ...] = (("10.210.0.0/16", 24),)

Net = ipaddress.IPv4Network


def parse_subnet(subnet: str, gateway: str = "") -> tuple[Net, ipaddress.IPv4Address]:
    """Validate a user-given subnet (and gateway) like docker's ``network create --subnet``."""
    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {subnet}: invalid CIDR address: {subnet}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument(f"subnet {subnet}: only IPv4 networks are supported")
    if str(net) != subnet and "/" in subnet and ipaddress.ip_interface(subnet).ip != net.network_address:
        raise InvalidArgument(f"invalid subnet {subnet}: it should be {net}")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {subnet} is too small: a network needs at least a /30")
    if gateway:
        try:
            gw = ipaddress.IPv4Address(gateway)
        except ValueError:
            raise InvalidArgument(f"invalid gateway {gateway}: not an IPv4 address") from None
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    else:
        gw = net.network_address + 1
    return net, gw


def _overlaps(net: Net, others: Iterable[Net]) -> bool:
    return any(net.overlaps(o) for o in others)


def choose_subnet(
    pools: Sequence[tuple[str, int]],
    taken: Iterable[str],
    routes: Iterable[str],
    *,
    want: str = "",
    gateway: str = "",
) -> tuple[str, str]:
    """(subnet, gateway) for a new network.

    ``taken``: subnets of this root's networks; ``routes``: route destinations in the bridges'
    namespace (default routes are ignored). ``want``: the user's ``--subnet`` (checked against
    ``taken`` only, like docker).

    Raises:
        SubnetUnavailable: ``want`` overlaps, or the pools are used up.
        InvalidArgument: ``want``/``gateway`` are malformed.
    """
    taken_nets = [ipaddress.IPv4Network(t) for t in taken if t]
    if want:
        net, gw = parse_subnet(want, gateway)
        if _overlaps(net, taken_nets):
            raise SubnetUnavailable("Pool overlaps with other one on this address space")
        return str(net), str(gw)
    route_nets = []
    for r in routes:
        n = ipaddress.ip_network(r, strict=False)
        if isinstance(n, ipaddress.IPv4Network) and n.prefixlen > 0:
            route_nets.append(n)
    for base, size in pools or DEFAULT_POOLS:
        for net in ipaddress.IPv4Network(base).subnets(new_prefix=size):
            if not _overlaps(net, taken_nets) and not _overlaps(net, route_nets):
                return str(net), str(net.network_address + 1)
    raise SubnetUnavailable(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )


def allocate_address(subnet: str, gateway: str, used: Iterable[str], *, want: str = "", network: str = "") -> str:
    """The lowest free host address of ``subnet`` (or ``want``, if free).

    Raises:
        AddressExhausted: every address is taken.
        InvalidArgument: ``want`` is outside the subnet or taken.
    """
    net = ipaddress.IPv4Network(subnet)
    busy = {ipaddress.IPv4Address(u) for u in used if u}
    busy.add(ipaddress.IPv4Address(gateway))
    if want:
        try:
            addr = ipaddress.IPv4Address(want)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {want}") from None
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"no configured subnet contains IP address {want}")
        if addr in busy:
            raise InvalidArgument(f"Address already in use: {want}")
        return str(addr)
    for addr in net.hosts():
        if addr not in busy:
            return str(addr)
    raise AddressExhausted(network or subnet)
