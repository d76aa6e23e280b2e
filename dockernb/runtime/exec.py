"""``exec``: a new process inside a running container's namespaces, cgroups, caps and seccomp (L4).

Same shape as create: a helper forked from the caller writes itself into the container's
cgroups, joins the container's namespaces (user first, mount last: every ``/proc/<pid>/ns/*``
of the init that differs from the caller's own), then clones the process with CLONE_PARENT, so
it lands in the container's pid namespace as the *caller's* child. The process resolves its
user inside the container, gets its own pty from the container's devpts when asked, and
reports READY; :func:`exec_process` returns once execve succeeded (or raises with docker's
words: ``OCI runtime exec failed: exec failed: unable to start container process: ...``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockernb.errors import ContainerStateConflict, InvalidConfig
from dockernb.linux import caps as capmod
from dockernb.linux import ns, seccomp
from dockernb.linux import syscalls as sc
from dockernb.runtime import console
from dockernb.runtime import keys as ann
from dockernb.runtime import record as st
from dockernb.runtime.create import EXEC_PREFIX, RLIMITS, Stdio, load_config, reap, spawn, start_error
from dockernb.runtime.init import (
    InitError,
    ProcessPlan,
    close_inherited,
    exec_now,
    finish_process,
    resolve_process_user,
    seal_imports,
)
from dockernb.runtime.messages import Channel, Msg
from dockernb.spec.runtime import Capabilities, Spec

__all__ = ["Exec", "exec_process"]


@dataclass(slots=True)
class Exec:
    """A process started in a container: the caller's child, already past execve."""

    pid: int
    pty_master: int | None = None

    def wait(self) -> int | None:
        """Reap it; its exit code (128+N when killed by signal N)."""
        return reap(self.pid)


def _container_spec(s: st.State) -> Spec:
    return load_config(Path(s.config))


def _merge_env(base: Sequence[str], extra: Sequence[str]) -> tuple[str, ...]:
    """docker's ReplaceOrAppendEnvValues: ``extra`` replaces same-named entries, else appends."""
    out = list(base)
    index = {item.partition("=")[0]: i for i, item in enumerate(out)}
    for item in extra:
        key = item.partition("=")[0]
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return tuple(out)


def exec_process(
    state_dir: Path,
    args: Sequence[str],
    *,
    env: Sequence[str] = (),
    cwd: str | None = None,
    user: str | None = None,
    tty: bool = False,
    console_size: tuple[int, int] | None = None,
    privileged: bool = False,
    stdio: Stdio | None = None,
) -> Exec:
    """Run ``args`` in the running container at ``state_dir`` (like ``docker exec``/``runc exec``).

    Defaults come from the container's own process (env, cwd, user, capabilities, rlimits,
    no-new-privileges, its seccomp filter); ``env`` adds to or replaces its variables, ``user``
    is a docker ``-u`` spec resolved against the container's /etc/passwd, ``privileged`` grants
    every capability of the caller's bounding set (seccomp stays, as in docker).

    Raises:
        ContainerStateConflict: the container is not running (or paused).
        CommandNotFound / CommandNotExecutable / ContainerStartFailed: the process could not start.
    """
    if not args:
        raise InvalidConfig("exec needs a command")
    s = st.load(state_dir)
    status = st.status(s)
    if status == "paused":
        raise ContainerStateConflict(f"Container {s.id} is paused, unpause the container before exec")
    if status != "running":
        raise ContainerStateConflict(f"Container {s.id} is not running")
    spec = _container_spec(s)
    base = spec.process
    caps = base.capabilities
    if privileged:
        every = capmod.bounding_set()
        caps = Capabilities(bounding=every, effective=every, permitted=every)
    process = dataclasses.replace(
        base,
        args=tuple(args),
        env=_merge_env(base.env, env),
        cwd=cwd or base.cwd,
        terminal=tty,
        console_size=console_size,
        capabilities=caps,
    )
    user_spec = user if user is not None else spec.annotations.get(ann.USER)
    bpf = seccomp.compile_bpf(spec.linux.seccomp) if spec.linux.seccomp is not None else None
    plan = ProcessPlan(
        process=process,
        short_id=s.id[:12],
        title=f"dockernb-exec {s.id[:12]}",
        user_spec=user_spec,
        group_add=tuple(g for g in spec.annotations.get(ann.GROUP_ADD, "").split(",") if g),
        additional_gids=tuple(g for g in spec.annotations.get(ann.ADDITIONAL_GIDS, "").split(",") if g),
        seccomp_bpf=bpf,
        rlimits=[(RLIMITS[r.type], r.soft, r.hard, r.type) for r in process.rlimits if r.type in RLIMITS],
        stdio=(stdio or Stdio()).fds(),
        create_cwd=False,
        userns=s.rootless or spec.linux.namespace("user") is not None,
    )
    return _spawn_exec(s, spec, plan)


def _ns_fds(s: st.State, spec: Spec) -> list[tuple[str, int]]:
    """fds of the init's namespaces that differ from ours, in join order (pinned against pid reuse)."""
    out: list[tuple[str, int]] = []
    try:
        for kind in ns.JOIN_ORDER:
            if spec.linux.namespace(kind) is None:
                continue
            name = ns.PROC_NAMES[kind]
            fd = os.open(f"/proc/{s.pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            if os.fstat(fd).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                os.close(fd)
                continue
            out.append((kind, fd))
    except OSError as err:
        for _, fd in out:
            os.close(fd)
        raise ContainerStateConflict(f"Container {s.id} is not running") from err
    if not st.alive(s):
        for _, fd in out:
            os.close(fd)
        raise ContainerStateConflict(f"Container {s.id} is not running")
    return out


def _cgroup_procs(s: st.State) -> list[str]:
    return [os.path.join(d, "cgroup.procs") for d in dict.fromkeys(s.cgroup_paths.values())]


def _spawn_exec(s: st.State, spec: Spec, plan: ProcessPlan) -> Exec:
    fds = _ns_fds(s, spec)
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def child() -> None:
        parent_sock.close()
        _exec_main(plan, Channel(child_sock))

    pid = 0
    pty_master: int | None = None
    chan = Channel(parent_sock)
    try:
        helper = spawn(child, 0, [(k, f"/proc/self/fd/{fd}") for k, fd in fds], child_sock, _cgroup_procs(s))
        child_sock.close()
        for _, fd in fds:
            os.close(fd)
        fds = []
        error: tuple[str, str] | None = None
        ready = False
        while True:
            kind, payload, got = chan.recv()
            if kind is Msg.PTY and got:
                pty_master = got[0]
                got = got[1:]
            for fd in got:
                os.close(fd)
            if kind is Msg.INIT_PID:
                pid = int(payload["pid"])
            elif kind in (Msg.ERROR, Msg.EXEC_FAILED):
                error = (payload.get("kind", "setup"), payload.get("message", ""))
            elif kind is Msg.READY:
                ready = True
            elif kind is None:
                break
        reap(helper)
        if error or not ready or not pid:
            kind_, message = error or ("setup", "the exec process exited before it started")
            if pid:
                reap(pid)
                pid = 0
            raise start_error(kind_, message, prefix=EXEC_PREFIX)
        return Exec(pid=pid, pty_master=pty_master)
    except BaseException:
        if pid:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            reap(pid)
        if pty_master is not None:
            os.close(pty_master)
        raise
    finally:
        for _, fd in fds:
            os.close(fd)
        chan.close()


def _exec_main(plan: ProcessPlan, chan: Channel) -> None:
    """The exec'd process between clone and execve (inside every namespace already)."""
    try:
        seal_imports()
        calls = sc.LinuxSyscalls()
        # a copy of the caller's memory inside the container: nobody there may ptrace or read it
        calls.prctl(sc.PR_SET_DUMPABLE, 0)
        close_inherited({chan.sock.fileno()} | {fd for fd in plan.stdio if fd is not None})
        sc.set_title(plan.title)
        os.setsid()
        user = resolve_process_user(plan)
        stdio_ready = False
        if plan.process.terminal:
            master, slave = console.open_master()
            chan.send(Msg.PTY, {}, [master])
            os.close(master)
            console.attach_slave(slave, uid=user.uid, gid=user.gid, size=plan.process.console_size)
            stdio_ready = True
        path, env = finish_process(calls, plan, user, stdio_ready=stdio_ready)
        chan.send(Msg.READY)
        exec_now(calls, plan, path, env, chan)
    except InitError as err:
        _send(chan, err.kind, err.message)
    except OSError as err:
        _send(chan, "setup", str(err.strerror or err))
    except BaseException as err:  # noqa: BLE001
        _send(chan, "setup", f"{type(err).__name__}: {err}")
    os._exit(126)


def _send(chan: Channel, kind: str, message: str) -> None:
    try:
        chan.send(Msg.ERROR, {"kind": kind, "message": message})
    except OSError:
        pass

