"""The one written list of capabilities a test may lack here, each with the probe behind it.

In CI (``CI=true``) a skipped test is a failure unless it was skipped through
:func:`require` for one of these keys and the probe really says the capability is missing.
Where a capability is missing, a test asserts what ``dockernb info`` reports instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from dockernb.linux import probe


def _cgroup_v2_controllers() -> tuple[bool, str]:
    layout = probe.cgroup_layout()
    useful = {"memory", "pids", "cpu"} & set(layout.v2_controllers)
    return bool(useful), f"cgroup2 controllers: {' '.join(layout.v2_controllers) or 'none'}"


def _cgroup_delegation() -> tuple[bool, str]:
    layout = probe.cgroup_layout()
    if os.geteuid() == 0:
        return True, "root"
    return layout.writable, "no cgroup hierarchy is writable by this user"


def _path(path: str) -> Callable[[], tuple[bool, str]]:
    return lambda: (os.path.exists(path), f"{path} {'exists' if os.path.exists(path) else 'is absent'}")


#: key -> probe returning (available, detail)
MISSING_OK: dict[str, Callable[[], tuple[bool, str]]] = {
    "cgroup-v2-controllers": _cgroup_v2_controllers,
    "cgroup-delegation": _cgroup_delegation,
    "proc-kcore": _path("/proc/kcore"),
    "proc-sysrq-trigger": _path("/proc/sysrq-trigger"),
}

SKIP_PREFIX = "missing capability: "


def available(key: str) -> bool:
    return MISSING_OK[key]()[0]


def require(key: str) -> None:
    """Skip the calling test (allowed in CI) when the listed capability ``key`` is missing."""
    ok, detail = MISSING_OK[key]()
    if not ok:
        pytest.skip(f"{SKIP_PREFIX}{key} ({detail})")
