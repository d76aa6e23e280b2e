"""How ports look: the PORTS column of ``ps`` and the lines of ``port`` (layer L7).

Both follow docker 20.10: ``ps`` groups consecutive unpublished ports and lists host mappings
as ``IP:HOST->CTR/proto`` (``:::8089->80/tcp`` for the IPv6 wildcard, per ../shared/golden);
``port`` prints ``80/tcp -> 127.0.0.1:18080``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockernb.errors import InvalidPortSpec
from dockernb.spec.ports import PortBinding, split_proto_port

__all__ = ["displayable_ports", "port_lines"]


def _host(ip: str, port: int) -> str:
    return f"{ip}:{port}"  # docker 20.10 prints "::" + ":8089" -> ":::8089"


def displayable_ports(bindings: Iterable[PortBinding], exposed: Iterable[tuple[int, str]] = ()) -> str:
    """The ``ps`` PORTS column (docker's api/types DisplayablePorts)."""
    # (private, ip, public, type); an exposed-only port has no ip and public 0
    entries = [(b.container_port, b.host_ip, b.host_port, b.proto) for b in bindings]
    bound = {(b.container_port, b.proto) for b in bindings}
    entries += [(p, "", 0, proto) for p, proto in exposed if (p, proto) not in bound]
    entries.sort()
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []
    for private, ip, public, proto in entries:
        key = proto
        if ip:
            if public != private:
                host_mappings.append(f"{_host(ip, public)}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
            order.append(key)
            continue
        if private == group[1] + 1:
            group[1] = private
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [private, private]
    result.extend(_form_group(k, *groups[k]) for k in order)
    return ", ".join(result + host_mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{proto}"


def port_lines(bindings: Sequence[PortBinding], private: str | None = None) -> list[str]:
    """Lines of ``dockernb port CONTAINER [PRIVATE_PORT[/PROTO]]``; an empty list for an
    unpublished port (the CLI then prints docker's ``No public port '82/tcp' published for x``).

    Raises:
        InvalidPortSpec: ``private`` is not a port.
    """
    if private is None:
        return [f"{b.key} -> {_host(b.host_ip, b.host_port)}" for b in sorted(bindings, key=_order)]
    proto, port = split_proto_port(private)
    if not port.isdigit():
        raise InvalidPortSpec(f"Error: invalid port ({private})")
    key = f"{int(port)}/{proto.lower()}"
    return [_host(b.host_ip, b.host_port) for b in sorted(bindings, key=_order) if b.key == key]


def _order(b: PortBinding) -> tuple[int, str, str, int]:
    return (b.container_port, b.proto, b.host_ip, b.host_port)
