"""Networking configuration: docker's daemon.json keys and the environment; per-root names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockernb.config import load_config
from dockernb.errors import InvalidConfig
from dockernb.network.settings import NetSettings


def test_keys_from_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"bip": "10.99.0.1/24", "default-address-pools": [{"base": "10.100.0.0/16",
                                                                               "size": 26}],
                               "userland-proxy": True, "rootless-network": "slirp4netns"}))
    c = load_config({"DOCKERNB_CONFIG": str(cfg), "HOME": str(tmp_path)}, uid=1000)
    assert (c.bip, c.address_pools, c.userland_proxy, c.rootless_network) == (
        "10.99.0.1/24", (("10.100.0.0/16", 26),), True, "slirp4netns")
    env = {"DOCKERNB_CONFIG": str(cfg), "HOME": str(tmp_path), "DOCKERNB_ADDRESS_POOLS": "10.50.0.0/16:24",
           "DOCKERNB_USERLAND_PROXY": "0", "DOCKERNB_ROOTLESS_NETWORK": "pasta", "DOCKERNB_ROOTLESS_HOST_LOOPBACK": "1"}
    c = load_config(env, uid=1000)
    assert (c.address_pools, c.userland_proxy, c.rootless_network, c.rootless_host_loopback) == (
        (("10.50.0.0/16", 24),), False, "pasta", True)


@pytest.mark.parametrize("env", [{"DOCKERNB_BIP": "nonsense"}, {"DOCKERNB_ADDRESS_POOLS": "10.0.0.0/8:33"},
                                 {"DOCKERNB_ADDRESS_POOLS": "10.0.0.0/8"}, {"DOCKERNB_ROOTLESS_NETWORK": "vpnkit"}])
def test_bad_values_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(InvalidConfig):
        load_config({"HOME": str(tmp_path), "DOCKERNB_CONFIG": str(tmp_path / "none.json"), **env}, uid=1000)


def test_names_carry_a_tag_except_for_the_default_root(tmp_path: Path) -> None:
    default = NetSettings(False, "", (), "", False, "", False)
    assert (default.default_bridge, default.table) == ("dnb0", "dockernb")
    tagged = NetSettings(False, "1a2b3", (), "", False, "", False)
    assert (tagged.default_bridge, tagged.table) == ("dnb1a2b30", "dockernb_1a2b3")
    assert len(tagged.bridge_name("f" * 64)) == 15 and tagged.bridge_name("f" * 64).startswith("dnb1a2b3-")
    assert default.bridge_name("ab" * 32) == "dnb-" + ("ab" * 32)[:11]


def test_tag_derivation(tmp_path: Path) -> None:
    import os

    s = NetSettings.from_config(load_config({"HOME": str(tmp_path), "DOCKERNB_ROOT": str(tmp_path)}))
    if os.geteuid() == 0:  # another root beside the default one: its own names
        assert len(s.tag) == 5 and s.table == f"dockernb_{s.tag}"
    else:  # rootless roots have their own hub namespace: no tag needed
        assert s.tag == "" and s.rootless
