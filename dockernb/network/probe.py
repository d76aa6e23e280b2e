"""Network probes for ``info`` and for choosing the rootless uplink (layer L3).

Rootless containers reach the outside through a user-mode network stack attached to the hub's
namespace: pasta (passt) or slirp4netns. Both need /dev/net/tun readable and writable by the
user (Debian's udev rule makes it 0666; a machine without udev, like this VM, leaves it 0600).
The choice, in order: the configured one (``rootless-network``); pasta, which forwards at the
socket level and is measured faster than slirp4netns's in-process TCP/IP stack; slirp4netns.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass

from dockernb.config import Config
from dockernb.linux.probe import Probe

__all__ = ["Uplink", "choose_uplink", "network_probes", "tun_probe"]

TUN = "/dev/net/tun"


@dataclass(frozen=True, slots=True)
class Uplink:
    kind: str  # "pasta", "slirp4netns" or "" (none usable)
    path: str
    reason: str


def tun_probe() -> Probe:
    check = f"open({TUN}, O_RDWR) permission for this user"
    try:
        st = os.stat(TUN)
    except OSError:
        return Probe("/dev/net/tun", False, "absent (the kernel has no tun driver)", check)
    if os.access(TUN, os.R_OK | os.W_OK):
        return Probe("/dev/net/tun", True, f"mode {stat.S_IMODE(st.st_mode):04o}, usable", check)
    return Probe(
        "/dev/net/tun", False,
        f"mode {stat.S_IMODE(st.st_mode):04o}: not usable by uid {os.geteuid()} (Debian's udev makes it 0666; "
        f"as root: chmod 0666 {TUN})",
        check,
    )


def choose_uplink(prefer: str = "") -> Uplink:
    tun = tun_probe()
    found = {k: shutil.which(k) or "" for k in ("pasta", "slirp4netns")}
    if not tun.ok:
        return Uplink("", "", f"no rootless uplink: {TUN} {tun.detail}")
    if prefer:
        if found[prefer]:
            return Uplink(prefer, found[prefer], f"{prefer}: configured (rootless-network)")
        return Uplink("", "", f"{prefer} is configured but not installed")
    if found["pasta"]:
        return Uplink("pasta", found["pasta"], "pasta: found; preferred (socket-level forwarding, faster than "
                      "slirp4netns's user-mode TCP/IP stack)")
    if found["slirp4netns"]:
        return Uplink("slirp4netns", found["slirp4netns"], "slirp4netns: found (pasta is not installed)")
    return Uplink("", "", "neither pasta nor slirp4netns is installed (apt-get install passt slirp4netns)")


def network_probes(config: Config, *, ip_forward_by_us: bool = False) -> list[Probe]:
    """What ``info`` says about networking here: rootless, the uplink and why; root, the bridge,
    how ports are published, what another firewall (docker's) does to forwarding, ip_forward."""
    from dockernb.network.firewall import detect
    from dockernb.network.place import HostPlace
    from dockernb.network.settings import NetSettings

    settings = NetSettings.from_config(config)
    if settings.rootless:
        up = choose_uplink(settings.uplink)
        return [tun_probe(), Probe(
            "rootless network", bool(up.kind),
            f"{up.reason}; bridges in a per-root namespace (hub); published ports through netd's proxy",
            "/dev/net/tun access, pasta and slirp4netns on PATH, the rootless-network setting")]
    fw = detect(HostPlace())
    mode = "userspace proxy" if settings.userland_proxy else "kernel DNAT (nftables), IPv6 through netd's proxy"
    try:
        fwd = open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"  # noqa: SIM115
    except OSError:
        fwd = False
    forwarding = ("on" + (" (enabled by dockernb for a bridge network)" if ip_forward_by_us else "")) if fwd else (
        "off (dockernb enables it when a container first joins a bridge network)")
    return [
        Probe("bridge network", bool(shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")),
              f"bridge {settings.default_bridge}, nftables table ip {settings.table}; published ports: {mode}",
              "nft on PATH"),
        Probe("forwarding firewall", True, fw.describe(),
              "nft -j list chain ip filter FORWARD and DOCKER-USER; net.bridge.bridge-nf-call-iptables"),
        Probe("ip_forward", fwd, forwarding, "/proc/sys/net/ipv4/ip_forward"),
    ]
