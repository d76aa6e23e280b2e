"""Published and exposed ports: docker's ``-p``/``--expose``/``EXPOSE`` grammar and the bindings it yields (layer L0).

Parsing follows docker 20.10's ``nat.ParsePortSpec`` word for word, errors included
(``Invalid hostPort: 99999``, ``Invalid containerPort: 99999``). A :class:`PortMapping` is what
the user asked for (host port 0 = pick one, a host range = pick one in it); a
:class:`PortBinding` is what the engine bound.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from dockernb.errors import InvalidPortSpec

__all__ = [
    "PROTOCOLS",
    "PortBinding",
    "PortMapping",
    "parse_expose",
    "parse_port_range",
    "parse_port_spec",
    "parse_port_specs",
    "split_proto_port",
]

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, slots=True, order=True)
class PortMapping:
    """One ``-p`` mapping before allocation: container port/proto, host ip ("" = every address)
    and the host port range to take one from (0-0 = a random free port)."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0

    @property
    def key(self) -> str:
        """docker's port key, ``80/tcp``."""
        return f"{self.container_port}/{self.proto}"


@dataclass(frozen=True, slots=True, order=True)
class PortBinding:
    """One bound host port: ``host_ip`` is an address (``0.0.0.0``, ``::``, ``127.0.0.1``)."""

    container_port: int
    proto: str
    host_ip: str
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"

    def to_json(self) -> dict[str, object]:
        return {"container_port": self.container_port, "proto": self.proto, "host_ip": self.host_ip,
                "host_port": self.host_port}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PortBinding:
        return cls(int(str(data["container_port"])), str(data["proto"]), str(data["host_ip"]),
                   int(str(data["host_port"])))


def _parse_uint16(text: str) -> int:
    # Go's strconv.ParseUint(s, 10, 16): decimal digits only, at most 65535
    if not text.isdigit() or not text.isascii():
        raise ValueError(text)
    value = int(text)
    if value > 65535:
        raise ValueError(text)
    return value


def parse_port_range(text: str) -> tuple[int, int]:
    """``8000`` or ``8000-8010`` -> (start, end); ValueError as docker's ParsePortRange fails."""
    if text == "":
        raise ValueError("Empty string specified for ports.")
    if "-" not in text:
        port = _parse_uint16(text)
        return port, port
    parts = text.split("-")
    start, end = _parse_uint16(parts[0]), _parse_uint16(parts[1])
    if end < start:
        raise ValueError(f"Invalid range specified for the Port: {text}")
    return start, end


def split_proto_port(raw: str) -> tuple[str, str]:
    """``80/udp`` -> ("udp", "80"); ``80`` -> ("tcp", "80") (docker's SplitProtoPort)."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    n = len(parts)
    if n == 1:
        return "", "", parts[0]
    if n == 2:
        return "", parts[0], parts[1]
    if n == 3:
        return parts[0], parts[1], parts[2]
    return ":".join(parts[: n - 2]), parts[n - 2], parts[n - 1]


def parse_port_spec(raw: str) -> list[PortMapping]:
    """One ``-p`` value -> its mappings (a container range gives one per port).

    Raises:
        InvalidPortSpec: with docker's sentence (``Invalid hostPort: 99999``...).
    """
    ip, host_port, container_port = _split_parts(raw)
    proto, container_port = split_proto_port(container_port)
    if ip and ip[0] == "[":
        if not ip.endswith("]"):
            raise InvalidPortSpec(f"Invalid ip address {ip}: missing ']' in address {ip}:")
        ip = ip[1:-1]
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidPortSpec(f"Invalid ip address: {ip}") from None
    if not container_port:
        raise InvalidPortSpec(f"No port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except ValueError:
        raise InvalidPortSpec(f"Invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except ValueError:
            raise InvalidPortSpec(f"Invalid hostPort: {host_port}") from None
    if host_port and (end - start) != (host_end - host_start) and end != start:
        raise InvalidPortSpec(
            f"Invalid ranges specified for container and host Ports: {container_port} and {host_port}"
        )
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise InvalidPortSpec(f"Invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        if not host_port:
            out.append(PortMapping(start + i, proto, ip, 0, 0))
        elif start == end:
            # one container port and a host range: the range is where to pick the host port
            out.append(PortMapping(start, proto, ip, host_start, host_end))
        else:
            out.append(PortMapping(start + i, proto, ip, host_start + i, host_start + i))
    return out


def parse_port_specs(raws: Iterable[str]) -> list[PortMapping]:
    out: list[PortMapping] = []
    for raw in raws:
        out.extend(parse_port_spec(raw))
    return out


def parse_expose(raw: str) -> list[tuple[int, str]]:
    """``--expose``/``EXPOSE`` value (``80``, ``80/udp``, ``8000-8010``) -> [(port, proto)]."""
    if ":" in raw:
        raise InvalidPortSpec(f"invalid port format for --expose: {raw}")
    proto, port = split_proto_port(raw)
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise InvalidPortSpec(f"Invalid proto: {proto}")
    try:
        start, end = parse_port_range(port)
    except ValueError:
        raise InvalidPortSpec(f"Invalid range format for --expose: {raw}, error: {port}") from None
    return [(p, proto) for p in range(start, end + 1)]
