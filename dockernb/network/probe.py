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

from dockernb.linux.probe import Probe

__all__ = ["Uplink", "choose_uplink", "tun_probe"]

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
