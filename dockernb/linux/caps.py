"""Linux capabilities: names, docker's default set, --cap-add/--cap-drop rules, applying sets (L1).

Capabilities are handled as names (``CAP_CHOWN``, the OCI spec's form) and as bit masks for
capset(2). "All" never means more than the caller's own bounding set: on this VM root lacks
CAP_SYS_RESOURCE, so ``--privileged`` grants everything else instead of failing as docker does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from dockernb.errors import InvalidArgument
from dockernb.linux.syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    Syscalls,
)

__all__ = [
    "ALL_NAMES",
    "DOCKER_DEFAULT",
    "apply_bounding",
    "apply_sets",
    "bounding_set",
    "last_cap",
    "mask",
    "names",
    "tweak",
]

#: capability number -> name, in kernel order (include/uapi/linux/capability.h)
ALL_NAMES: tuple[str, ...] = tuple(
    "CAP_" + n
    for n in str.split(
        """
        CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
        NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
        SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
        AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
        PERFMON BPF CHECKPOINT_RESTORE
        """
    )
)
_NUMBER = {name: i for i, name in enumerate(ALL_NAMES)}

#: docker 20.10's default set (moby oci/caps/defaults.go), in docker's order
DOCKER_DEFAULT: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


@cache
def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return len(ALL_NAMES) - 1


def bounding_set() -> tuple[str, ...]:
    """The caller's bounding set, as names (what "all capabilities" may mean here)."""
    bits = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            bits = int(line.split()[1], 16)
    return names(bits)


def names(bits: int) -> tuple[str, ...]:
    return tuple(name for i, name in enumerate(ALL_NAMES) if bits >> i & 1 and i <= last_cap())


def mask(caps: Iterable[str]) -> int:
    """Bit mask of capability names; raises InvalidArgument for an unknown name."""
    bits = 0
    for name in caps:
        number = _NUMBER.get(name)
        if number is None:
            raise InvalidArgument(f'unknown capability: "{name}"')
        if number <= last_cap():
            bits |= 1 << number
    return bits


def _normalise(items: Sequence[str]) -> list[str]:
    out = []
    for item in items:
        name = item.strip().upper()
        if name != "ALL" and not name.startswith("CAP_"):
            name = "CAP_" + name
        if name != "ALL" and name not in _NUMBER:
            raise InvalidArgument(f'unknown capability: "{item}"')
        out.append(name)
    return out


def tweak(
    base: Sequence[str] = DOCKER_DEFAULT,
    add: Sequence[str] = (),
    drop: Sequence[str] = (),
    *,
    privileged: bool = False,
    available: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """Docker's --cap-add/--cap-drop/--privileged rules over ``base``; "ALL" means ``available``.

    ``available`` defaults to the caller's bounding set. Adding a capability outside it is an
    error (the kernel would refuse it at start); privileged silently gets what is available.
    """
    avail = tuple(available) if available is not None else bounding_set()
    if privileged:
        return avail
    if not add and not drop:
        return tuple(base)
    adds, drops = _normalise(add), _normalise(drop)
    if "ALL" in adds:
        caps = [c for c in avail if c not in drops]
    elif "ALL" in drops:
        caps = [c for c in adds if c != "ALL"]
    else:
        caps = [c for c in base if c not in drops] + [c for c in adds if c not in base]
    for c in caps:
        if c not in avail:
            raise InvalidArgument(f"capability {c} is not available: it is not in this engine's bounding set")
    return tuple(dict.fromkeys(caps))


def apply_bounding(sys: Syscalls, keep: Iterable[str]) -> None:
    """Drop every capability outside ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    keep_bits = mask(keep)
    for number in range(last_cap() + 1):
        if not keep_bits >> number & 1:
            sys.prctl(PR_CAPBSET_DROP, number)


def apply_sets(
    sys: Syscalls, *, effective: Iterable[str], permitted: Iterable[str], inheritable: Iterable[str],
    ambient: Iterable[str],
) -> None:
    """capset(2) the three sets, then set the ambient set (which needs permitted and inheritable)."""
    sys.capset(mask(effective), mask(permitted), mask(inheritable))
    sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for name in ambient:
        try:
            sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, _NUMBER[name])
        except OSError:
            pass  # like runc: an ambient cap missing from permitted+inheritable is not raised
