"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname, docker's way (layer L3).

The files live in the container's directory and the runtime bind-mounts them over the
image's. Content, per network mode:

* bridge: docker's fixed localhost lines, ``--add-host`` entries, then the container's own
  address and hostname. resolv.conf: on the default bridge, the host's resolvers minus the
  loopback ones (a container cannot reach the host's 127.0.0.53; docker then falls back to
  8.8.8.8/8.8.4.4); on user-defined networks, the network's gateway, where the embedded DNS
  responder answers container names and aliases and forwards the rest to the host's resolvers
  (docker uses 127.0.0.11 for the same thing; podman's aardvark-dns uses the gateway too);
* host: copies of the host's files;
* none: the localhost lines; resolv.conf as on the default bridge.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HostResolv", "hosts_text", "read_host_resolv", "resolv_text", "write_files"]

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")


@dataclass(frozen=True, slots=True)
class HostResolv:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    text: str = ""

    @property
    def reachable_nameservers(self) -> tuple[str, ...]:
        """The host's resolvers a container can reach through NAT (not loopback ones)."""
        out = []
        for ns in self.nameservers:
            try:
                if ipaddress.ip_address(ns.split("%")[0]).is_loopback:
                    continue
            except ValueError:
                continue
            out.append(ns)
        return tuple(out)


def read_host_resolv(path: str = "/etc/resolv.conf") -> HostResolv:
    try:
        text = Path(path).read_text()
    except OSError:
        return HostResolv()
    ns: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            ns.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return HostResolv(tuple(ns), tuple(search), tuple(options), text)


def hosts_text(
    *, hostname: str, ip: str = "", aliases: Sequence[str] = (), extra_hosts: Iterable[tuple[str, str]] = ()
) -> str:
    lines = [HOSTS_HEADER]
    for name, addr in extra_hosts:
        lines.append(f"{addr}\t{name}\n")
    if ip:
        names = " ".join(dict.fromkeys([hostname, *aliases]))
        lines.append(f"{ip}\t{names}\n")
    return "".join(lines)


def resolv_text(
    host: HostResolv,
    *,
    nameservers: Sequence[str] = (),
    dns: Sequence[str] = (),
    search: Sequence[str] = (),
    options: Sequence[str] = (),
    embedded: bool = False,
) -> str:
    """resolv.conf for a container: ``dns``/``search``/``options`` are the user's ``--dns*`` flags;
    ``embedded``: ``nameservers`` is the network's DNS responder (user-defined networks)."""
    if dns:
        servers = list(dns)
    elif embedded:
        servers = list(nameservers)
    else:
        servers = list(host.reachable_nameservers) or list(FALLBACK_DNS)
    out = [f"nameserver {s}\n" for s in servers]
    dom = list(search) or list(host.search)
    if dom:
        out.append("search " + " ".join(dom) + "\n")
    opts = list(options) or [o for o in host.options if not o.startswith("ndots")]
    if embedded and not any(o.startswith("ndots") for o in opts):
        opts.append("ndots:0")  # as docker does with its embedded DNS
    if opts:
        out.append("options " + " ".join(opts) + "\n")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ContainerFiles:
    hosts: str
    resolv: str
    hostname: str
    extra: dict[str, str] = field(default_factory=dict)


def write_files(directory: Path, *, hosts: str, resolv: str, hostname: str) -> dict[str, str]:
    """Write hosts, resolv.conf and hostname into ``directory``; returns {name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, text in (("hosts", hosts), ("resolv.conf", resolv), ("hostname", hostname + "\n")):
        path = directory / name
        tmp = directory / f".{name}.tmp"
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(path)
        out[name] = str(path)
    return out
