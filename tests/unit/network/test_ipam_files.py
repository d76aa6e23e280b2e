"""Subnet and address choice; the hosts and resolv.conf a container gets."""

from __future__ import annotations

import pytest

from dockernb.errors import AddressExhausted, InvalidArgument, SubnetUnavailable
from dockernb.network import files, ipam


def test_subnets_avoid_taken_and_routes() -> None:
    pools = (("10.210.0.0/16", 24),)
    assert ipam.choose_subnet(pools, [], ["0.0.0.0/0", "192.0.2.0/24"]) == ("10.210.0.0/24", "10.210.0.1")
    assert ipam.choose_subnet(pools, ["10.210.0.0/24"], []) == ("10.210.1.0/24", "10.210.1.1")
    # another engine's bridge (a route) is skipped too, and the default route is not an overlap
    assert ipam.choose_subnet(pools, [], ["10.210.0.0/23", "0.0.0.0/0"])[0] == "10.210.2.0/24"
    with pytest.raises(SubnetUnavailable):
        ipam.choose_subnet((("10.9.0.0/24", 25),), [], ["10.9.0.0/24"])


def test_user_subnet_and_gateway() -> None:
    assert ipam.choose_subnet((), [], [], want="172.30.0.0/16") == ("172.30.0.0/16", "172.30.0.1")
    assert ipam.choose_subnet((), [], [], want="172.30.0.0/16", gateway="172.30.9.9") == ("172.30.0.0/16", "172.30.9.9")
    with pytest.raises(SubnetUnavailable, match="Pool overlaps with other one on this address space"):
        ipam.choose_subnet((), ["172.30.5.0/24"], [], want="172.30.0.0/16")
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway"):
        ipam.choose_subnet((), [], [], want="172.30.0.0/16", gateway="10.0.0.1")
    with pytest.raises(InvalidArgument):
        ipam.choose_subnet((), [], [], want="not-a-subnet")


def test_addresses_lowest_free_and_exhaustion() -> None:
    assert ipam.allocate_address("10.1.0.0/29", "10.1.0.1", []) == "10.1.0.2"
    assert ipam.allocate_address("10.1.0.0/29", "10.1.0.1", ["10.1.0.2", "10.1.0.4"]) == "10.1.0.3"
    assert ipam.allocate_address("10.1.0.0/29", "10.1.0.1", [], want="10.1.0.6") == "10.1.0.6"
    with pytest.raises(InvalidArgument):
        ipam.allocate_address("10.1.0.0/29", "10.1.0.1", ["10.1.0.6"], want="10.1.0.6")
    with pytest.raises(AddressExhausted):
        ipam.allocate_address("10.1.0.0/30", "10.1.0.1", ["10.1.0.2"], network="n1")


def test_hosts_like_docker() -> None:
    text = files.hosts_text(hostname="3f4e5d6c7b8a", ip="10.210.0.2", extra_hosts=[("db", "10.0.0.9")])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert lines[1] == "::1\tlocalhost ip6-localhost ip6-loopback"
    assert lines[-2] == "10.0.0.9\tdb"
    assert lines[-1] == "10.210.0.2\t3f4e5d6c7b8a"
    assert "10.210" not in files.hosts_text(hostname="x")  # --network none: no address line


def test_resolv_conf_per_network_kind(tmp_path) -> None:
    src = tmp_path / "resolv.conf"
    src.write_text("# host\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n"
                   "search lab.example\noptions edns0 ndots:2\n")
    host = files.read_host_resolv(str(src))
    assert host.reachable_nameservers == ("10.255.255.53",)
    # default bridge: the host's reachable resolvers, search and options
    assert files.resolv_text(host) == "nameserver 10.255.255.53\nsearch lab.example\noptions edns0\n"
    # user-defined network: the gateway's DNS responder, ndots:0 as docker's embedded DNS
    assert files.resolv_text(host, nameservers=["10.210.1.1"], embedded=True) == (
        "nameserver 10.210.1.1\nsearch lab.example\noptions edns0 ndots:0\n")
    # only loopback resolvers on the host: docker's fallback
    only_local = files.HostResolv(("127.0.0.53",))
    assert files.resolv_text(only_local).startswith("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    # --dns wins
    assert files.resolv_text(host, dns=["1.1.1.1"]).startswith("nameserver 1.1.1.1\n")


def test_write_files(tmp_path) -> None:
    paths = files.write_files(tmp_path / "c", hosts="h\n", resolv="r\n", hostname="web")
    assert (tmp_path / "c" / "hostname").read_text() == "web\n"
    assert set(paths) == {"hosts", "resolv.conf", "hostname"}
    assert oct((tmp_path / "c" / "hosts").stat().st_mode & 0o777) == "0o644"
