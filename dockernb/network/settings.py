"""Per-root network settings: names of the bridges and the nftables table, pools, modes (layer L3).

Several state roots can share one host (a user's, a test's, a CI job's): as root their bridges
and tables share the host's namespace, so every name carries a short tag derived from the root
(none for the default root: ``dnb0``, table ``dockernb``; otherwise ``dnb<tag>0``, table
``dockernb_<tag>``), and subnets are chosen clear of every route present. Rootless roots each
have their own hub namespace, so their names never collide.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from dockernb.config import Config, default_root
from dockernb.network.ipam import DEFAULT_POOLS

__all__ = ["NetSettings"]


@dataclass(frozen=True, slots=True)
class NetSettings:
    rootless: bool
    tag: str
    pools: tuple[tuple[str, int], ...]
    bip: str
    userland_proxy: bool
    uplink: str
    host_loopback: bool

    @classmethod
    def from_config(cls, config: Config, root: Path | None = None) -> NetSettings:
        root = root or config.root
        rootless = os.geteuid() != 0
        tag = ""
        if not rootless and Path(root).resolve() != default_root(uid=0).resolve():
            tag = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:5]
        return cls(rootless, tag, config.address_pools or DEFAULT_POOLS, config.bip, config.userland_proxy,
                   config.rootless_network, config.rootless_host_loopback)

    @property
    def default_bridge(self) -> str:
        return f"dnb{self.tag}0"

    @property
    def table(self) -> str:
        return f"dockernb_{self.tag}" if self.tag else "dockernb"

    def bridge_name(self, network_id: str) -> str:
        """A user-defined network's bridge: at most 15 characters (IFNAMSIZ - 1)."""
        prefix = f"dnb{self.tag}-"
        return prefix + network_id[: 15 - len(prefix)]
