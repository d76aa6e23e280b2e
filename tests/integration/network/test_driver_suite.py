"""Every network mode passes the NetworkDriver conformance suite (root and rootless)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockernb.network.manager import Networks
from dockernb.testing.suites.network import check_driver

pytestmark = pytest.mark.rootless


@pytest.mark.parametrize("mode", ["none", "host", "bridge", "user-defined"])
def test_driver_conformance(nets: Networks, root_dir: Path, mode: str) -> None:
    if mode == "user-defined":
        nets.create("suite-net")
        mode = "suite-net"
    check_driver(nets, mode, root_dir / "containers" / mode)


def test_a_users_path_without_sbin(nets: Networks, root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian users' PATH lacks /usr/sbin, where nft and iptables live: the tools are found anyway."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    nets.create("plain-path")
    check_driver(nets, "plain-path", root_dir / "containers" / "plain-path")
