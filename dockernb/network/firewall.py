"""Living with docker's firewall: detect its iptables-nft chains and open ours in DOCKER-USER (layer L3).

When dockerd runs (or ran) on the same host, its ``ip filter`` table has ``FORWARD`` with policy
DROP. A packet is dropped if any base chain at its hook drops it, so no rule in our own table
can let our bridges' traffic through; and because br_netfilter is loaded here
(``net.bridge.bridge-nf-call-iptables=1``), even two containers on the same bridge pass through
that FORWARD chain. Docker's documented escape hatch is its ``DOCKER-USER`` chain, which
FORWARD jumps to first: we add ``-i BRIDGE -j ACCEPT`` and ``-o BRIDGE -j ACCEPT`` there (with
iptables, so that docker's iptables-nft keeps understanding its own table), marked with a
comment so they can be found and removed. Without DOCKER-USER but with a DROP policy (another
firewall), the same rules go at the top of FORWARD.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from dockernb.network.place import Place

__all__ = ["ForwardFirewall", "allow_bridge", "detect", "revoke_bridge"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ForwardFirewall:
    """What another firewall does to forwarded packets, and where our accept rules go."""

    forward_policy: str  # "accept", "drop" or "" (no ip filter FORWARD chain)
    docker_user: bool  # docker's DOCKER-USER chain exists
    br_netfilter: bool  # bridged IPv4 traffic traverses the ip FORWARD hook

    @property
    def needs_rules(self) -> bool:
        return self.forward_policy == "drop"

    @property
    def chain(self) -> str:
        return "DOCKER-USER" if self.docker_user else "FORWARD"

    def describe(self) -> str:
        if not self.forward_policy:
            return "no iptables FORWARD chain: nothing to open"
        text = f"iptables FORWARD policy {self.forward_policy}"
        if self.docker_user:
            text += " (docker's chains present)"
        if self.br_netfilter:
            text += "; br_netfilter on (same-bridge traffic is filtered too)"
        if self.needs_rules:
            text += f"; dockernb adds ACCEPT rules for its bridges to {self.chain}"
        return text


def _br_netfilter() -> bool:
    try:
        return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return False


def detect(place: Place) -> ForwardFirewall:
    policy = ""
    r = place.run(["nft", "-j", "list", "chain", "ip", "filter", "FORWARD"])
    if r.returncode == 0:
        try:
            for item in json.loads(r.stdout).get("nftables", []):
                chain = item.get("chain")
                if chain and chain.get("name") == "FORWARD":
                    policy = chain.get("policy", "accept")
        except ValueError:
            policy = ""
    user = False
    if policy:
        user = place.run(["nft", "list", "chain", "ip", "filter", "DOCKER-USER"]).returncode == 0
    return ForwardFirewall(policy, user, _br_netfilter())


def _rule(chain: str, direction: str, bridge: str, tag: str) -> list[str]:
    return [chain, direction, bridge, "-m", "comment", "--comment", f"dockernb:{tag}", "-j", "ACCEPT"]


def allow_bridge(place: Place, fw: ForwardFirewall, bridge: str, tag: str) -> None:
    """Accept forwarding to and from ``bridge`` ahead of the DROP (idempotent)."""
    if not fw.needs_rules:
        return
    for direction in ("-i", "-o"):
        rule = _rule(fw.chain, direction, bridge, tag)
        if place.run(["iptables", "-w", "-C", *rule]).returncode != 0:
            r = place.run(["iptables", "-w", "-I", *rule])
            if r.returncode != 0:
                log.warning("could not open %s in %s: %s", bridge, fw.chain, r.stderr.strip())


def revoke_bridge(place: Place, bridge: str, tag: str) -> None:
    """Remove our ACCEPT rules for ``bridge`` wherever they are. Checks with nft first: any
    iptables-nft command would create the ``ip filter`` table where there is none."""
    for chain in ("DOCKER-USER", "FORWARD"):
        if place.run(["nft", "list", "chain", "ip", "filter", chain]).returncode != 0:
            continue  # no such chain: nothing of ours there, and iptables would create the table
        if f"dockernb:{tag}" not in place.run(["iptables", "-w", "-S", chain]).stdout:
            continue  # (nft does not show iptables comments; iptables -S does)
        for direction in ("-i", "-o"):
            rule = _rule(chain, direction, bridge, tag)
            while place.run(["iptables", "-w", "-D", *rule]).returncode == 0:
                pass
