"""The cgroup v2 device filter: docker's device rules as an eBPF program on the container's cgroup (L1).

cgroup v2 has no ``devices.allow``/``devices.deny`` files; the kernel asks a
``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to the cgroup instead (runc's devicefilter does
the same). Without it, a container holding CAP_MKNOD (a docker default) could make a node for
the host's disk and read it. :func:`program` compiles OCI device rules to eBPF, :func:`attach`
loads it and attaches it to a cgroup directory. v1 hosts use the devices controller instead.

Context the program reads (``struct bpf_cgroup_dev_ctx``): ``access_type`` (type in the low 16
bits: 1 block, 2 char; access in the high 16: 1 mknod, 2 read, 4 write), ``major``, ``minor``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from collections.abc import Sequence

from dockernb.spec.runtime import DeviceRule

__all__ = ["attach", "program"]

_TYPES = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# eBPF opcodes (linux/bpf.h, linux/bpf_common.h)
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_ALU64_AND_K = 0x57
_ALU64_RSH_K = 0x77
_ALU64_MOV_K = 0xB7
_ALU64_MOV_X = 0xBF
_JMP_JNE_K = 0x55
_JMP_EXIT = 0x95


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def program(rules: Sequence[DeviceRule]) -> bytes:
    """eBPF returning 1 (allow) or 0 (deny) for a device access; the last matching rule wins,
    as with the v1 files. Rules of type "a" with access "rwm" set the default."""
    # evaluate from the last rule back: the first match (from the end) decides
    body: list[bytes] = []
    default = 0
    blocks: list[list[bytes]] = []
    for rule in rules:
        if rule.type == "a" and rule.major is None and rule.minor is None and set(rule.access) >= set("rwm"):
            default = 1 if rule.allow else 0
            blocks = []  # an "all" rule overrides everything before it
            continue
        block: list[tuple[int, int, int, int]] = []  # (op, dst, imm, placeholder) jumps to "next"
        if rule.type in _TYPES:
            block.append((_JMP_JNE_K, 2, _TYPES[rule.type], 0))
        access = 0
        for ch in rule.access:
            access |= _ACCESS.get(ch, 0)
        if access != 7:
            block.append((-1, 0, access, 0))  # the access test, expanded below
        if rule.major is not None and rule.major >= 0:
            block.append((_JMP_JNE_K, 4, rule.major, 0))
        if rule.minor is not None and rule.minor >= 0:
            block.append((_JMP_JNE_K, 5, rule.minor, 0))
        blocks.append(_encode_block(block, 1 if rule.allow else 0))
    prologue = [
        _insn(_LDX_W, dst=2, src=1, off=0),  # r2 = access_type
        _insn(_ALU64_AND_K, dst=2, imm=0xFFFF),  # r2 = type
        _insn(_LDX_W, dst=3, src=1, off=0),
        _insn(_ALU64_RSH_K, dst=3, imm=16),  # r3 = access
        _insn(_LDX_W, dst=4, src=1, off=4),  # r4 = major
        _insn(_LDX_W, dst=5, src=1, off=8),  # r5 = minor
    ]
    body = [i for block in reversed(blocks) for i in block]
    epilogue = [_insn(_ALU64_MOV_K, dst=0, imm=default), _insn(_JMP_EXIT)]
    return b"".join(prologue + body + epilogue)


def _encode_block(tests: list[tuple[int, int, int, int]], verdict: int) -> list[bytes]:
    """Tests that jump past the block on mismatch, then ``return verdict``."""
    out: list[bytes] = []
    # each test is one instruction, except the access test (three: copy, mask, compare)
    sizes = [3 if op == -1 else 1 for op, _, _, _ in tests]
    total = sum(sizes) + 2  # + mov r0 + exit
    done = 0
    for (op, dst, imm, _), size in zip(tests, sizes, strict=True):
        done += size
        skip = total - done  # instructions left in this block after the test
        if op == -1:
            # r1 = access; r1 &= ~allowed; if r1 != 0 goto next
            out.append(_insn(_ALU64_MOV_X, dst=1, src=3))
            out.append(_insn(_ALU64_AND_K, dst=1, imm=~imm & 0xFFFF))
            out.append(_insn(_JMP_JNE_K, dst=1, imm=0, off=skip))
        else:
            out.append(_insn(op, dst=dst, imm=imm, off=skip))
    out.append(_insn(_ALU64_MOV_K, dst=0, imm=verdict))
    out.append(_insn(_JMP_EXIT))
    return out


_NR_BPF = {"x86_64": 321, "aarch64": 280}
_PROG_LOAD = 5
_PROG_ATTACH = 8
_PROG_TYPE_CGROUP_DEVICE = 15
_CGROUP_DEVICE = 6
_F_ALLOW_MULTI = 2


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise OSError(38, f"bpf: unsupported architecture {platform.machine()}")
    res = libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return int(res)


def attach(cgroup_dir: str, rules: Sequence[DeviceRule]) -> None:
    """Load the filter for ``rules`` and attach it to the v2 cgroup at ``cgroup_dir``.

    The program fd is closed after attaching: the attachment keeps it alive with the cgroup.
    """
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")  # cgroup device programs need no GPL helpers
    log = ctypes.create_string_buffer(65536)

    def load(level: int) -> int:
        # union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level, log_size, log_buf
        attr = ctypes.create_string_buffer(
            struct.pack("<IIQQIIQ", _PROG_TYPE_CGROUP_DEVICE, len(code) // 8, ctypes.addressof(insns),
                        ctypes.addressof(license_), level, len(log) if level else 0,
                        ctypes.addressof(log) if level else 0).ljust(128, b"\0"),
            128,
        )
        return _bpf(_PROG_LOAD, attr)

    try:
        prog = load(0)
    except OSError as err:
        try:
            load(1)  # again, for the verifier's words
        except OSError:
            pass
        detail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise OSError(err.errno, f"loading the device filter: {err.strerror}: {' '.join(detail)}") from err
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # BPF_PROG_ATTACH part: target_fd, attach_bpf_fd, attach_type, attach_flags
            attr = ctypes.create_string_buffer(
                struct.pack("<IIII", fd, prog, _CGROUP_DEVICE, _F_ALLOW_MULTI).ljust(128, b"\0"), 128
            )
            _bpf(_PROG_ATTACH, attr)
        finally:
            os.close(fd)
    finally:
        os.close(prog)
