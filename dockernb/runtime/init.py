"""The container's init stage: everything between clone and execve, ending in execve (L4).

Runs in the cloned child (PID 1 of the new pid namespace), never returns into the caller's
stack: it ends in ``execve`` or ``os._exit``. The parent computed everything it needs into an
:class:`InitPlan` before cloning, so the child only makes system calls. Failures travel back as
``ERROR {kind, message}``; the parent turns them into docker's errors:

- ``not_found``      -> CommandNotFound (exit 127): ``exec: "x": executable file not found in $PATH``
- ``not_executable`` -> CommandNotExecutable (exit 126): ``exec: "/etc/passwd": permission denied``
- anything else      -> ContainerStartFailed (exit 125)

The lookup of argv[0] follows Go's exec.LookPath (what runc does, before waiting for START), so
a missing command is a create-time error with runc's wording.
"""

from __future__ import annotations

# Everything the child stages use is imported here, in the caller, before any clone: after
# pivot_root (or setns into a container's mount namespace) an import would read Python files
# from the container's image, inside a process that still holds every capability.
# seal_imports() makes that impossible as a second line of defence.
import array  # noqa: F401 - socket.send_fds/recv_fds import it lazily
import fcntl
import importlib.machinery
import os
import resource
import signal
import socket
import stat
import struct
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from dockernb.errors import InvalidArgument
from dockernb.linux import caps as capmod
from dockernb.linux import rootfs
from dockernb.linux import syscalls as sc
from dockernb.linux.syscalls import Syscalls
from dockernb.runtime import console
from dockernb.runtime.messages import Channel, Msg
from dockernb.runtime.users import ExecUser, additional_gids, resolve_user
from dockernb.spec.runtime import Process, env_get

__all__ = ["InitError", "InitPlan", "ProcessPlan", "init_main", "look_path", "resolve_process_user", "seal_imports"]


class InitError(Exception):
    """A failure in the init stage, with the kind the parent maps to an error class."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(slots=True, kw_only=True)
class ProcessPlan:
    """What the last steps before execve need; shared by the container's init and by exec."""

    process: Process
    short_id: str
    title: str
    #: a docker ``-u`` spec to resolve inside the container (None: use process.user as numbers)
    user_spec: str | None = None
    #: ``--group-add`` names or numbers, resolved against the container's /etc/group
    group_add: tuple[str, ...] = ()
    #: supplementary gids a rootless bundle carries in an annotation (see runtime.keys)
    additional_gids: tuple[str, ...] = ()
    seccomp_bpf: bytes | None = None
    #: rlimits as (resource number, soft, hard, OCI type name)
    rlimits: list[tuple[int, int, int, str]] = field(default_factory=list)
    stdio: tuple[int | None, int | None, int | None] = (None, None, None)
    create_cwd: bool = True
    userns: bool = False


@dataclass(slots=True, kw_only=True)
class InitPlan:
    """Everything the init needs, computed by the parent before clone (the child only acts)."""

    proc: ProcessPlan
    rootfs: rootfs.RootfsPlan
    hostname: str = ""
    set_hostname: bool = False
    new_userns: bool = False
    cgroupns: bool = False
    loopback_up: bool = False
    oom_score_adj: int | None = None
    #: rootless, a fresh pid namespace: dumpable while created, so that its (unprivileged) creator
    #: can open /proc/<pid>/ns/* to plumb the network before start; no container process exists yet
    inspectable_until_start: bool = False


# --- exec lookup (Go's exec.LookPath) ---------------------------------------------------------------


def _find_executable(path: str) -> str | None:
    """None when ``path`` is a runnable file, else Go's error text for it."""
    try:
        st = os.stat(path)
    except OSError as err:
        return f"stat {path}: {(err.strerror or '').lower()}"
    if not stat.S_ISDIR(st.st_mode) and st.st_mode & 0o111:
        return None
    return "permission denied"


def look_path(name: str, env: Sequence[str]) -> str:
    """Resolve argv[0] as Go's exec.LookPath does; raises InitError with runc's wording."""
    if "/" in name:
        err = _find_executable(name)
        if err is None:
            return name
        kind = "not_executable" if err == "permission denied" else "not_found"
        raise InitError(kind, f'exec: "{name}": {err}')
    for d in (env_get(env, "PATH") or "").split(":") if env_get(env, "PATH") else []:
        candidate = os.path.join(d or ".", name)
        if _find_executable(candidate) is None:
            return candidate
    raise InitError("not_found", f'exec: "{name}": executable file not found in $PATH')


# --- helpers -----------------------------------------------------------------------------------------


def seal_imports() -> None:
    """From here on, ``import`` finds only modules already loaded or built into the interpreter.

    Called first thing in every process the runtime forks or clones: they go on to pivot_root or
    to setns into a container's mount namespace, where sys.path names the *image's* files.
    """
    sys.path[:] = []
    sys.path_importer_cache.clear()
    keep = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter)
    sys.meta_path[:] = [f for f in sys.meta_path if f in keep]


def close_inherited(keep: set[int]) -> None:
    """Close every fd the caller had open except ``keep``: nothing of the host leaks inside."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _read_file(path: str) -> str | None:
    try:
        with open(path, "rb") as f:  # binary: no codec lookup (and so no import) in a sealed child
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def resolve_process_user(proc: ProcessPlan) -> ExecUser:
    """The user to become: the ``-u`` spec resolved here, or the numbers with passwd's HOME."""
    passwd, group = _read_file("/etc/passwd"), _read_file("/etc/group")
    try:
        extra = additional_gids(proc.group_add, group) if proc.group_add else ()
        if proc.user_spec is not None:
            found = resolve_user(proc.user_spec, passwd, group)
            gids = tuple(dict.fromkeys((found.gid, *found.sgids, *extra)))  # docker lists the primary gid too
            return ExecUser(found.uid, found.gid, gids, found.home, found.name)
        u = proc.process.user
        listed = tuple(u.additional_gids) + tuple(int(g) for g in proc.additional_gids)
        home = "/"
        try:
            home = resolve_user(str(u.uid), passwd, None).home
        except InvalidArgument:
            pass
        return ExecUser(u.uid, u.gid, listed + extra, home)
    except InvalidArgument as err:
        raise InitError("user", str(err)) from err


def _setup_stdio(stdio: tuple[int | None, int | None, int | None]) -> None:
    # copy the given fds above 2 first: stdout may be the caller's fd 0, and so on
    null = -1
    if None in stdio:
        low = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        null = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(low)
    moved = [null if fd is None else fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in stdio]
    for target, fd in enumerate(moved):
        os.dup2(fd, target)
    for fd in set(moved):
        os.close(fd)


def _fix_stdio_owner(uid: int, gid: int) -> None:
    """Give the container's user its stdio pipes (runc's fixStdioPermissions), /dev/null excepted."""
    try:
        null_rdev = os.stat("/dev/null").st_rdev
    except OSError:
        null_rdev = -1
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if st.st_uid == uid or (stat.S_ISCHR(st.st_mode) and st.st_rdev == null_rdev):
                continue
            os.fchown(fd, uid, st.st_gid)
        except OSError:
            pass


def _loopback_up() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, ifreq))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1, b""))  # SIOCSIFFLAGS, IFF_UP
    finally:
        s.close()


def _reset_signals() -> None:
    """Default dispositions and an empty mask: SIG_IGN (Python ignores SIGPIPE) survives execve."""
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP) or 32 <= sig <= 33:
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def apply_rlimits(limits: list[tuple[int, int, int, str]]) -> None:
    if not any(number == resource.RLIMIT_NOFILE for number, *_ in limits):
        # what runc's children get (Go raises its soft NOFILE limit to the hard one at start-up)
        _soft, hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard_nofile, hard_nofile))
        except (OSError, ValueError):
            pass
    for number, soft, hard, _name in limits:
        try:
            resource.setrlimit(number, (soft, hard))
        except (OSError, ValueError) as err:
            denied = isinstance(err, PermissionError) or "not allowed" in str(err)
            why = "operation not permitted" if denied else str(err)
            raise InitError(
                "rlimit", f"error setting rlimits for ready process: error setting rlimit type {number}: {why}"
            ) from err


def become_user(calls: Syscalls, proc: ProcessPlan, user: ExecUser) -> None:
    """Bounding set, groups, ids, then the capability sets (keeping caps across setuid)."""
    caps = proc.process.capabilities
    if caps is not None:
        capmod.apply_bounding(calls, caps.bounding)
    calls.prctl(sc.PR_SET_KEEPCAPS, 1)
    try:
        with open("/proc/self/setgroups") as f:
            groups_allowed = f.read().strip() != "deny"
    except OSError:
        groups_allowed = True
    if groups_allowed:
        os.setgroups(list(user.sgids))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    calls.prctl(sc.PR_SET_KEEPCAPS, 0)
    if caps is not None:
        capmod.apply_sets(
            calls,
            effective=caps.effective,
            permitted=caps.permitted,
            inheritable=caps.inheritable,
            ambient=caps.ambient,
        )


def finish_process(calls: Syscalls, proc: ProcessPlan, user: ExecUser, *, stdio_ready: bool) -> tuple[str, list[str]]:
    """Shared tail of init and exec: limits, user, caps, seccomp (without NNP), cwd, lookup.

    Returns (path to execute, environment). Leaves NNP+seccomp to :func:`exec_now`.
    """
    p = proc.process
    apply_rlimits(proc.rlimits)
    # runc's default when the spec gives none: a monitor's private umask must not reach the container
    os.umask(p.user.umask if p.user.umask is not None else 0o022)
    env = list(p.env)
    if env_get(env, "HOME") is None:
        env.append(f"HOME={user.home}")
    if proc.create_cwd and not os.path.isdir(p.cwd):
        try:
            os.makedirs(p.cwd, 0o755, exist_ok=True)
        except OSError as err:
            raise InitError("setup", f"mkdir {p.cwd}: {(err.strerror or '').lower()}") from err
    if not stdio_ready:
        _setup_stdio(proc.stdio)
    _fix_stdio_owner(user.uid, user.gid)
    chdir_error: OSError | None = None
    try:
        os.chdir(p.cwd)
    except OSError as err:
        chdir_error = err
    if proc.seccomp_bpf is not None and not p.no_new_privileges:
        # without NNP, loading a filter needs CAP_SYS_ADMIN: do it before the caps go
        calls.seccomp_load(proc.seccomp_bpf)
    become_user(calls, proc, user)
    if chdir_error is not None:
        try:
            os.chdir(p.cwd)
        except OSError as err:
            raise InitError("setup", f"chdir to cwd ({p.cwd!r}) set in config.json failed: "
                                     f"{(err.strerror or '').lower()}") from err
    if p.no_new_privileges:
        calls.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    path = look_path(p.args[0], env)
    return path, env


def exec_now(calls: Syscalls, proc: ProcessPlan, path: str, env: list[str], report: Channel) -> NoReturn:
    """The last step: NNP seccomp, default signals, execve; a failure is reported and exits."""
    p = proc.process
    if proc.seccomp_bpf is not None and p.no_new_privileges:
        calls.seccomp_load(proc.seccomp_bpf)
    _reset_signals()
    sc.close_range(3, flags=4)  # CLOSE_RANGE_CLOEXEC: nothing but stdio crosses execve
    try:
        os.execve(path, list(p.args), dict(_env_pairs(env)))
    except OSError as err:
        kind = "not_found" if err.errno == 2 else "not_executable" if err.errno == 13 else "exec"
        try:
            report.send(Msg.EXEC_FAILED, {"kind": kind, "message": f'exec: "{p.args[0]}": '
                                                                    f"{(err.strerror or '').lower()}"})
        finally:
            os._exit(127 if kind == "not_found" else 126)


def _env_pairs(env: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in env:
        key, sep, value = item.partition("=")
        if sep and key:
            out.append((key, value))
    return out


# --- the init ---------------------------------------------------------------------------------------


def init_main(plan: InitPlan, chan: Channel, listener: socket.socket) -> NoReturn:
    """Entry point of the cloned child. Never returns."""
    code = 1
    try:
        seal_imports()
        _init(plan, chan, listener)
    except InitError as err:
        _report(chan, err.kind, err.message)
    except OSError as err:
        _report(chan, "setup", _oserror_text(err) + _debug())
    except BaseException as err:  # noqa: BLE001 - anything must reach the parent, not a traceback
        _report(chan, "setup", f"{type(err).__name__}: {err}" + _debug())
    os._exit(code)


def _debug() -> str:
    """The traceback, when DOCKERNB_RUNTIME_DEBUG is set (for developing the runtime itself)."""
    if not os.environ.get("DOCKERNB_RUNTIME_DEBUG"):
        return ""
    return "\n" + traceback.format_exc()


def _oserror_text(err: OSError) -> str:
    text = str(err.strerror or err)
    if err.filename:
        text = f"{err.filename}: {text}"
    return text[:1].lower() + text[1:] if text else "error"


def _report(chan: Channel, kind: str, message: str) -> None:
    try:
        chan.send(Msg.ERROR, {"kind": kind, "message": message})
    except OSError:
        pass


def _init(plan: InitPlan, chan: Channel, listener: socket.socket) -> None:
    calls = sc.LinuxSyscalls()
    proc = plan.proc
    keep = {chan.sock.fileno(), listener.fileno()} | {fd for fd in proc.stdio if fd is not None}
    close_inherited(keep)
    sc.set_title(proc.title)
    # mount points and /dev nodes are made with runc's umask, whatever the caller's was (a monitor's is 077)
    os.umask(0o022)
    kind, _, _ = chan.recv()
    if kind is not Msg.GO:
        os._exit(1)  # the parent went away before we were set up
    # Not dumpable from here to execve (which resets it): this process is a copy of the caller's
    # memory and runs the caller's interpreter, so no process of the container may ptrace it or
    # open its /proc/<pid>/mem or /proc/<pid>/exe (CVE-2019-5736). Only now: the parent had to
    # write our id maps through /proc/<pid> first.
    calls.prctl(sc.PR_SET_DUMPABLE, 0)
    if plan.new_userns:
        # still the caller's host ids, which a remapping user namespace does not map: become
        # the namespace's root, whose host ids the maps name (and drop the caller's groups)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        try:
            os.setgroups([])
        except PermissionError:
            pass  # setgroups is denied with a single-id map
    if plan.cgroupns:
        calls.unshare(sc.CLONE_NEWCGROUP)
    os.setsid()
    if plan.set_hostname:
        calls.sethostname(plan.hostname)
    rp = plan.rootfs
    rootfs.prepare(calls, rp)
    rootfs.mount_all(calls, rp)
    rootfs.create_devices(calls, rp)
    rootfs.dev_links(rp)
    rootfs.pivot(calls, rp)
    user = resolve_process_user(proc)
    stdio_ready = False
    if proc.process.terminal:
        master, slave = console.open_master()
        chan.send(Msg.PTY, {}, [master])
        os.close(master)
        rootfs.mount_console(calls, rp, slave)
        console.attach_slave(slave, uid=user.uid, gid=user.gid, size=proc.process.console_size)
        stdio_ready = True
    rootfs.finalize(calls, rp)
    if plan.loopback_up:
        _loopback_up()
    if plan.oom_score_adj is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(plan.oom_score_adj))
        except OSError as err:
            raise InitError("setup", f"write /proc/self/oom_score_adj: {_oserror_text(err)}") from err
    path, env = finish_process(calls, proc, user, stdio_ready=stdio_ready)
    if plan.inspectable_until_start:
        # an unprivileged creator has no CAP_SYS_PTRACE over a non-dumpable process: without this,
        # /proc/<pid>/ns/net stays closed to the engine that must put the veth in (see InitPlan)
        calls.prctl(sc.PR_SET_DUMPABLE, 1)
    chan.send(Msg.CREATED)
    chan.close()
    while True:
        conn, _ = listener.accept()
        starter = Channel(conn)
        try:
            kind, _, fds = starter.recv()
        except OSError:
            conn.close()
            continue
        for fd in fds:
            os.close(fd)
        if kind is Msg.START:
            break
        conn.close()
    if plan.inspectable_until_start:
        calls.prctl(sc.PR_SET_DUMPABLE, 0)  # closed again until execve (CVE-2019-5736)
    listener.close()
    exec_now(calls, proc, path, env, starter)
