"""Capabilities, the seccomp profile and its compilation, id maps (no root)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument
from dockernb.linux import caps, ns, seccomp
from dockernb.spec.runtime import IDMapping, SeccompProfile, SeccompRule

pytestmark = pytest.mark.rootless

ALL = caps.ALL_NAMES[: caps.last_cap() + 1]


def test_docker_default_mask() -> None:
    assert caps.mask(caps.DOCKER_DEFAULT) == 0xA80425FB
    assert caps.names(0xA80425FB) == tuple(sorted(caps.DOCKER_DEFAULT, key=caps.ALL_NAMES.index))
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        caps.mask(["CAP_NOPE"])


def test_tweak_follows_docker() -> None:
    base = caps.DOCKER_DEFAULT
    assert caps.tweak(base, available=ALL) == base
    assert caps.tweak(base, ["NET_ADMIN"], ["chown"], available=ALL) == (
        *[c for c in base if c != "CAP_CHOWN"], "CAP_NET_ADMIN")
    assert caps.tweak(base, ["kill"], ["ALL"], available=ALL) == ("CAP_KILL",)
    assert set(caps.tweak(base, ["ALL"], ["CAP_SYS_ADMIN"], available=ALL)) == set(ALL) - {"CAP_SYS_ADMIN"}
    # "all" and --privileged never exceed what the caller holds
    short = [c for c in ALL if c != "CAP_SYS_RESOURCE"]
    assert caps.tweak(base, privileged=True, available=short) == tuple(short)
    with pytest.raises(InvalidArgument, match="CAP_SYS_RESOURCE is not available"):
        caps.tweak(base, ["SYS_RESOURCE"], available=short)
    with pytest.raises(InvalidArgument, match="unknown capability"):
        caps.tweak(base, ["BOGUS"], available=ALL)


def test_default_profile_blocks_dockers_list() -> None:
    profile = seccomp.default_profile(caps.DOCKER_DEFAULT, arch="amd64")
    assert profile.default_action == "SCMP_ACT_ERRNO" and profile.default_errno_ret == errno.EPERM
    allowed = {n for r in profile.syscalls if r.action == "SCMP_ACT_ALLOW" and not r.args for n in r.names}
    for name in ("keyctl", "add_key", "request_key", "kexec_load", "init_module", "finit_module",
                 "delete_module", "open_by_handle_at", "reboot", "swapon", "swapoff", "mount", "umount2",
                 "unshare", "setns", "pivot_root", "bpf", "ptrace_unused", "io_uring_setup", "clone", "clone3"):
        assert name not in allowed, name
    assert {"read", "execve", "chroot", "ptrace"} <= allowed
    clone = [r for r in profile.syscalls if r.names == ("clone",)]
    assert clone and clone[0].args[0].op == "SCMP_CMP_MASKED_EQ" and clone[0].args[0].value == 0x7E020000
    clone3 = [r for r in profile.syscalls if r.names == ("clone3",)]
    assert clone3[0].action == "SCMP_ACT_ERRNO" and clone3[0].errno_ret == errno.ENOSYS
    admin = seccomp.default_profile([*caps.DOCKER_DEFAULT, "CAP_SYS_ADMIN"], arch="amd64")
    admin_allowed = {n for r in admin.syscalls if r.action == "SCMP_ACT_ALLOW" for n in r.names}
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= admin_allowed


def test_compile_is_cached_bpf() -> None:
    profile = seccomp.default_profile(caps.DOCKER_DEFAULT)
    bpf = seccomp.compile_bpf(profile)
    assert len(bpf) % 8 == 0 and len(bpf) > 8 * 100
    assert seccomp.compile_bpf(profile) is bpf  # compiled once per process
    tiny = seccomp.compile_bpf(SeccompProfile(default_action="SCMP_ACT_ALLOW",
                                              syscalls=(SeccompRule(names=("keyctl",), action="SCMP_ACT_ERRNO"),)))
    assert 0 < len(tiny) < len(bpf)
    with pytest.raises(ValueError, match="unsupported action"):
        seccomp.compile_bpf(SeccompProfile(default_action="SCMP_ACT_BOGUS"))


def test_subid_ranges_and_rootless_maps(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text("someone:100000:65536\n1001:300000:1000\nbroken\nother:1:2\n")
    assert ns.subid_ranges("someone", 1001, str(sub)) == (
        ns.SubIdRange(100000, 65536), ns.SubIdRange(300000, 1000))
    assert ns.subid_ranges("nobody-here", 4242, str(sub)) == ()
    uids, gids = ns.rootless_mappings(1001, 1001, subuid=str(sub), subgid=str(sub))
    if ns.shutil.which("newuidmap") and ns.shutil.which("newgidmap"):
        assert uids == gids == (IDMapping(container_id=0, host_id=1001, size=1),
                                IDMapping(container_id=1, host_id=300000, size=1000))
    else:
        assert uids == (IDMapping(container_id=0, host_id=1001, size=1),)
    none_uids, none_gids = ns.rootless_mappings(4242, 4242, subuid=str(sub), subgid=str(tmp_path / "missing"))
    assert none_uids == (IDMapping(container_id=0, host_id=4242, size=1),)  # single mapping fallback
    assert none_gids == (IDMapping(container_id=0, host_id=4242, size=1),)
    maps = (IDMapping(container_id=0, host_id=1001, size=1), IDMapping(container_id=1, host_id=100000, size=65536))
    assert ns.host_id_for(0, maps) == 1001 and ns.host_id_for(5, maps) == 100004 and ns.host_id_for(70000, maps) is None


def test_disk_cache_is_private_and_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = seccomp.default_profile(["CAP_CHOWN"], arch="amd64")
    cache = tmp_path / "cache"
    monkeypatch.setattr(seccomp, "_CACHE", {})
    bpf = seccomp.compile_bpf(profile, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert files[0].read_bytes() == bpf

    def no_compile(p: SeccompProfile) -> bytes:
        raise AssertionError("compiled although a trusted cache file exists")

    monkeypatch.setattr(seccomp, "_CACHE", {})
    monkeypatch.setattr(seccomp, "_compile", no_compile)
    assert seccomp.compile_bpf(profile, cache_dir=cache) == bpf
    # a file others could have written is not trusted
    files[0].chmod(0o666)
    monkeypatch.setattr(seccomp, "_CACHE", {})
    with pytest.raises(AssertionError, match="compiled although"):
        seccomp.compile_bpf(profile, cache_dir=cache)


def test_device_filter_program_shape() -> None:
    import struct

    from dockernb.linux import devfilter
    from dockernb.spec.runtime import DeviceRule

    prog = devfilter.program((DeviceRule(allow=False, access="rwm"),
                              DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm")))
    insns = [struct.unpack("<BBhi", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    assert insns[-2] == (0xB7, 0, 0, 0) and insns[-1][0] == 0x95  # default: deny, exit
    tests = {(op, regs, imm) for op, regs, _off, imm in insns}
    # the allow rule: type c (2) in r2, major 1 in r4, minor 3 in r5, then return 1
    assert {(0x55, 2, 2), (0x55, 4, 1), (0x55, 5, 3), (0xB7, 0, 1)} <= tests
    allow_all = devfilter.program((DeviceRule(allow=True, access="rwm"),))
    assert struct.unpack("<BBhi", allow_all[-16:-8]) == (0xB7, 0, 0, 1)
