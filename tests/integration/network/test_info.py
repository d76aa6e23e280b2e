"""`dockernb info` says how containers get their network here, and why."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.rootless
def test_info_explains_networking(root_dir: object) -> None:
    r = subprocess.run([sys.executable, "-m", "dockernb", "info"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "DOCKERNB_ROOT": str(root_dir)})
    assert r.returncode == 0, r.stderr
    if os.geteuid() == 0:
        assert "  bridge network: yes - bridge dnb" in r.stdout
        assert "published ports: kernel DNAT (nftables), IPv6 through netd's proxy" in r.stdout
        assert "  forwarding firewall: yes - " in r.stdout
        assert "  ip_forward: " in r.stdout
    else:
        # this machine: /dev/net/tun made 0666 by .ci/setup.sh, both uplinks installed: pasta chosen
        assert "  /dev/net/tun: yes - mode 0666, usable" in r.stdout
        assert ("  rootless network: yes - pasta: found; preferred (socket-level forwarding, faster than "
                "slirp4netns's user-mode TCP/IP stack)") in r.stdout
