"""The NetworkDriver conformance suite: what every network mode must do (testing helper).

``check_driver(networks, mode, files_dir)`` drives one mode through the lifecycle the engine
uses (create_sandbox -> a stand-in container -> attach -> start -> teardown, twice) and checks
the contract of ``dockernb.network.base``: the plan fits the mode, the three files exist, the
sandbox lists its networks while attached, and teardown is complete and idempotent.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockernb.network.base import NetnsMode, SandboxRequest
from dockernb.network.manager import Networks
from dockernb.testing.standin import StandIn

__all__ = ["check_driver"]

EXPECTED_MODE = {"none": NetnsMode.NEW, "host": NetnsMode.HOST, "bridge": NetnsMode.NEW}


def check_driver(networks: Networks, mode: str, files_dir: Path) -> None:
    cid = os.urandom(32).hex()
    req = SandboxRequest(container_id=cid, name=f"suite-{mode}", hostname=cid[:12], files_dir=files_dir,
                         network_mode=mode)
    sb = networks.create_sandbox(req)
    assert sb.plan.mode == EXPECTED_MODE.get(mode, NetnsMode.NEW), (mode, sb.plan)
    rootless_bridge = networks.settings.rootless and mode not in ("none", "host")
    assert bool(sb.plan.userns_path) == rootless_bridge, sb.plan
    for path in (sb.hosts_path, sb.resolv_path, sb.hostname_path):
        assert Path(path).is_file(), path
    assert Path(sb.hostname_path).read_text() == f"{cid[:12]}\n"
    proc = StandIn(sb.plan, ["/bin/true"])
    try:
        networks.attach(cid, proc.pid)
        names = [net.name for net, _ep in networks.inspect(cid)]
        assert names == [mode], names  # the mode is the network's name (bridge, host, none or a user network)
        if mode not in ("none", "host"):
            assert all(ep is not None and ep.ip for _net, ep in networks.inspect(cid))
        proc.start()
        os.waitpid(proc.pid, 0)
    finally:
        proc.stop()
        networks.teardown(cid)
    networks.teardown(cid)  # idempotent
    assert networks.sandbox(cid) is None and networks.inspect(cid) == [] and networks.ports(cid) == []
    for net in networks.networks():
        assert all(ep.container_id != cid for ep in networks.endpoints(net.id))
