"""Which URLs serve a registry, as docker decides (layer L3).

* ``docker.io``: each configured mirror (pulls only), then ``https://registry-1.docker.io``.
* any other host: ``https://host``, then ``http://host`` when the host is insecure. Insecure means
  listed in ``Config.insecure_registries`` (a ``host:port`` or a CIDR), or resolving into an
  insecure CIDR, 127.0.0.0/8 always included; over https an insecure host's certificate is not
  checked (docker's InsecureSkipVerify), and a TLS failure falls through to plain HTTP.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from dockernb.config import Config

__all__ = ["OFFICIAL_REGISTRY", "Endpoint", "is_insecure", "lookup_endpoints"]

OFFICIAL_REGISTRY = "https://registry-1.docker.io"
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

Resolver = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One base URL for a registry. ``host`` is the registry's name (``docker.io``, ``127.0.0.1:5000``)."""

    url: str
    host: str
    verify_tls: bool = True
    mirror: bool = False

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]


@lru_cache(maxsize=256)
def _resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple(sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}))
    except (OSError, UnicodeError):
        return ()


def _split_host(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport[1 : hostport.find("]")]
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


def is_insecure(hostport: str, config: Config, resolve: Resolver | None = None) -> bool:
    """docker's isSecureIndex, negated: listed by name, or an address of it in an insecure CIDR."""
    networks = [_LOOPBACK]
    for entry in config.insecure_registries:
        if entry == hostport:
            return True
        if "/" in entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
    host = _split_host(hostport)
    try:
        addresses: list[str] | tuple[str, ...] = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host) if resolve else _resolve(host)
    for text in addresses:
        addr = ipaddress.ip_address(text)
        if any(addr.version == net.version and addr in net for net in networks):
            return True
    return False


def lookup_endpoints(
    domain: str, config: Config, *, push: bool = False, resolve: Resolver | None = None
) -> list[Endpoint]:
    """The endpoints to try, in order, for ``domain`` (a Reference's domain)."""
    if domain == "docker.io":
        out = []
        if not push:  # docker pushes to Docker Hub itself, never to a mirror
            for mirror in config.registry_mirrors:
                host = mirror.split("://", 1)[-1].rstrip("/")
                out.append(Endpoint(mirror.rstrip("/"), "docker.io", not is_insecure(host, config, resolve), True))
        out.append(Endpoint(OFFICIAL_REGISTRY, "docker.io"))
        return out
    if is_insecure(domain, config, resolve):
        return [Endpoint(f"https://{domain}", domain, False), Endpoint(f"http://{domain}", domain, False)]
    return [Endpoint(f"https://{domain}", domain)]
