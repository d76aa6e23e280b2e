"""Seccomp: docker's default profile as data, compiled to BPF once through libseccomp (layer L1).

:func:`default_profile` gives an allow-list at least as strict as docker's default profile
(moby ``profiles/seccomp``): everything not listed fails with EPERM, so ``keyctl``, ``add_key``,
``request_key``, ``kexec_load``, the module calls, ``open_by_handle_at``, ``reboot``, ``swapon``,
``mount`` and friends are refused unless the matching capability is granted, ``clone``/``unshare``
cannot make namespaces without CAP_SYS_ADMIN, ``clone3`` says ENOSYS so libc falls back to clone.
One deliberate difference: ``io_uring_*`` stays blocked (newer docker blocks it too).

:func:`compile_bpf` turns an OCI seccomp profile into classic BPF bytes through pyseccomp and keeps
them in a per-process cache keyed by the profile's content: a container start then costs one
seccomp(2) call (see :meth:`dockernb.linux.syscalls.Syscalls.seccomp_load`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
from collections.abc import Iterable
from pathlib import Path

from dockernb.spec.runtime import SeccompArg, SeccompProfile, SeccompRule, seccomp_to_json

__all__ = ["compile_bpf", "default_profile"]


def _words(text: str) -> list[str]:
    return text.split()


_ALWAYS = _words(
    """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64
ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr
lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat
mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync
munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl
pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64
send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev process_vm_readv process_vm_writev
ptrace
"""
)

_PER_ARCH = {
    "amd64": ["arch_prctl", "modify_ldt"],
    "arm64": ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
}

#: syscalls allowed only with a capability (docker's "includes: caps")
_BY_CAP = {
    "CAP_DAC_READ_SEARCH": ["open_by_handle_at"],
    "CAP_SYS_ADMIN": _words(
        """
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
        umount umount2 unshare
        """
    ),
    "CAP_SYS_BOOT": ["reboot"],
    "CAP_SYS_CHROOT": ["chroot"],
    "CAP_SYS_MODULE": ["delete_module", "init_module", "finit_module"],
    "CAP_SYS_PACCT": ["acct"],
    "CAP_SYS_PTRACE": ["kcmp", "pidfd_getfd", "process_madvise"],
    "CAP_SYS_RAWIO": ["iopl", "ioperm"],
    "CAP_SYS_TIME": ["settimeofday", "stime", "clock_settime", "clock_settime64"],
    "CAP_SYS_TTY_CONFIG": ["vhangup"],
    "CAP_SYS_NICE": ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
    "CAP_SYSLOG": ["syslog"],
    "CAP_BPF": ["bpf"],
    "CAP_PERFMON": ["perf_event_open"],
}

_NS_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP
_AF_VSOCK = 40

_ARCHES = {
    "amd64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}


def _go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def default_profile(capabilities: Iterable[str], arch: str | None = None) -> SeccompProfile:
    """Docker's default profile resolved for a container holding ``capabilities`` (as docker does)."""
    caps = set(capabilities)
    arch = arch or _go_arch()
    allowed: list[str] = list(_ALWAYS) + _PER_ARCH.get(arch, [])
    for cap, names in _BY_CAP.items():
        if cap in caps:
            allowed.extend(n for n in names if n not in allowed)
    rules: list[SeccompRule] = [SeccompRule(names=tuple(allowed), action="SCMP_ACT_ALLOW")]
    rules.append(
        SeccompRule(
            names=("socket",),
            action="SCMP_ACT_ALLOW",
            args=(SeccompArg(index=0, value=_AF_VSOCK, op="SCMP_CMP_NE"),),
        )
    )
    for persona in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF):
        rules.append(
            SeccompRule(
                names=("personality",),
                action="SCMP_ACT_ALLOW",
                args=(SeccompArg(index=0, value=persona, op="SCMP_CMP_EQ"),),
            )
        )
    if "CAP_SYS_ADMIN" not in caps:
        rules.append(
            SeccompRule(
                names=("clone",),
                action="SCMP_ACT_ALLOW",
                args=(SeccompArg(index=0, value=_NS_FLAGS, value_two=0, op="SCMP_CMP_MASKED_EQ"),),
            )
        )
        rules.append(SeccompRule(names=("clone3",), action="SCMP_ACT_ERRNO", errno_ret=errno.ENOSYS))
    return SeccompProfile(
        default_action="SCMP_ACT_ERRNO",
        default_errno_ret=errno.EPERM,
        architectures=_ARCHES.get(arch, ()),
        syscalls=tuple(rules),
    )


_CACHE: dict[str, bytes] = {}


_FORMAT = "1"


def _profile_key(profile: SeccompProfile) -> str:
    # the compiled bytes depend on libseccomp's build and the machine, not only on the profile
    ident = [_FORMAT, platform.machine(), _libseccomp_identity()]
    text = json.dumps([ident, seccomp_to_json(profile)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _libseccomp_identity() -> str:
    """The installed libseccomp as path+size+mtime, without loading it (pyseccomp's import runs
    ldconfig through ctypes.util.find_library: ~30 ms, more than the cache saves)."""
    import glob

    for pattern in ("/usr/lib/*/libseccomp.so.2*", "/lib/*/libseccomp.so.2*", "/usr/lib*/libseccomp.so.2*"):
        for path in sorted(glob.glob(pattern)):
            try:
                real = os.path.realpath(path)
                st = os.stat(real)
            except OSError:
                continue
            return f"{real}:{st.st_size}:{st.st_mtime_ns}"
    return "unknown"


def compile_bpf(profile: SeccompProfile, *, cache_dir: Path | None | bool = True) -> bytes:
    """The classic-BPF program (``struct sock_filter`` array) for ``profile``.

    Compiling docker's profile takes ~20 ms, so the bytes are kept per process and on disk
    (``cache_dir``; True = the default location, None/False = memory only). A cache file is
    trusted only if the caller owns it and its directory and nobody else can write them.

    Raises:
        ValueError: an action, operator or architecture this subset does not know.
        OSError: libseccomp refused the filter.
    """
    key = _profile_key(profile)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    directory = _default_cache_dir() if cache_dir is True else cache_dir or None
    bpf = _read_cached(directory, key) if directory else None
    if bpf is None:
        bpf = _compile(profile)
        if directory:
            _write_cached(directory, key, bpf)
    _CACHE[key] = bpf
    return bpf


def _default_cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/dockernb/seccomp")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dockernb" / "seccomp"


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _read_cached(directory: Path, key: str) -> bytes | None:
    try:
        if not _private(os.stat(directory)):
            return None
        fd = os.open(directory / f"{key}.bpf", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not _private(os.fstat(fd)):
            return None
        data = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    return data if data and len(data) % 8 == 0 else None


def _write_cached(directory: Path, key: str, bpf: bytes) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(os.stat(directory)):
            return
        tmp = directory / f".{key}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, bpf)
        finally:
            os.close(fd)
        os.replace(tmp, directory / f"{key}.bpf")
    except OSError:
        pass  # a cache, never a failure


def _action(name: str, errno_ret: int | None) -> int:
    import pyseccomp as sc

    if name == "SCMP_ACT_ALLOW":
        return int(sc.ALLOW)
    if name == "SCMP_ACT_ERRNO":
        return int(sc.ERRNO(errno.EPERM if errno_ret is None else errno_ret))
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return int(sc.KILL_THREAD)
    if name == "SCMP_ACT_KILL_PROCESS":
        return int(sc.KILL_PROCESS)
    if name == "SCMP_ACT_TRAP":
        return int(sc.TRAP)
    if name == "SCMP_ACT_LOG":
        return int(sc.LOG)
    raise ValueError(f"seccomp: unsupported action {name}")


_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}


def _compile(profile: SeccompProfile) -> bytes:
    import pyseccomp as sc

    flt = sc.SyscallFilter(_action(profile.default_action, profile.default_errno_ret))
    native = sc.system_arch()
    for name in profile.architectures:
        arch = getattr(sc.Arch, name.removeprefix("SCMP_ARCH_"), None)
        if arch is None:
            raise ValueError(f"seccomp: unsupported architecture {name}")
        if arch != native:
            flt.add_arch(arch)
    for rule in profile.syscalls:
        action = _action(rule.action, rule.errno_ret)
        if action == _action(profile.default_action, profile.default_errno_ret):
            continue  # libseccomp refuses rules equal to the default action
        args = []
        for a in rule.args:
            if a.op not in _OPS:
                raise ValueError(f"seccomp: unsupported operator {a.op}")
            args.append(sc.Arg(a.index, _OPS[a.op], a.value, a.value_two))
        for name in rule.names:
            try:
                number = sc.resolve_syscall(sc.Arch.NATIVE, name)
            except OSError:
                continue
            if number < 0:
                continue  # unknown to this libseccomp/arch: nothing to allow (runc skips them too)
            flt.add_rule(action, number, *args)
    fd = os.memfd_create("dockernb-seccomp", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()
