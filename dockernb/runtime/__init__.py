"""dockernb's small runc: an OCI bundle turned into namespaced processes (layer L4).

The contract with the engine and the monitor
============================================

Every verb takes the container's **state directory** (chosen by the caller, e.g.
``<root>/containers/<id>/runtime``; it holds ``state.json``, ``config.json`` when created from a
spec object, and ``init.sock`` while created). Nothing is global: any process may call any
verb, in any order the status allows, and a verb refreshes the status from the kernel first.

``create(container_id, *, state_dir, bundle=None | spec=None, stdio=Stdio(...), root_mounts=())``
    Makes the cgroups (under the *caller's* own cgroup, ``<own>/dockernb/<id>`` per hierarchy)
    and applies the limits, then the init: a child **of the caller** (cloned with
    CLONE_PARENT by a short-lived helper), in its new namespaces, on its pivot_root'ed rootfs,
    user/caps/seccomp applied, argv[0] looked up, blocked before execve. Returns
    :class:`Created` ``(id, pid, state_dir, pty_master, warnings)``.

    - stdio: :class:`Stdio` of fds (pipes, files, or a pty slave you own) that become 0/1/2;
      None means /dev/null. With ``process.terminal`` the init allocates a pty inside the
      container (its own devpts), makes it its controlling tty, and ``pty_master`` is the
      master fd, now the caller's to read/write/close; :func:`resize` sets its window size.
    - network: the spec says it. ``{"type": "network"}`` = a new empty netns (``none``, with
      lo up when bundle.py asked for it); ``{"type": "network", "path": "/run/netns/x"}`` =
      join the engine's netns; no network entry = the host's. Any namespace may be given by
      path (rootless: give the user namespace that owns it too, it is joined first).
    - ``root_mounts`` (a snapshot's Mount list) are mounted inside the container's own mount
      namespace: the host never sees them, and no unmount is ever needed. Fuse snapshots
      (fuse-overlayfs) are attached there too, by a helper, so their daemon is outside the
      container's pid namespace and cgroups and exits with the container's mount namespace.
    - warnings: docker's sentences for limits this host cannot apply (rootless without cgroup
      delegation: "Running in rootless-mode without cgroups...", "...Limitation discarded.").
    - raises CommandNotFound (127) / CommandNotExecutable (126) with docker's text when argv[0]
      cannot run (a create-time check, as runc does), ContainerStartFailed (125) otherwise,
      InvalidConfig for a bad spec. On failure nothing is left: init killed and reaped,
      cgroups and state directory removed.

    The caller's process between create and start: the monitor (M) calls ``create`` after
    ``setsid()`` and ``prctl(PR_SET_CHILD_SUBREAPER)``; the init is M's child whatever the
    helper does. M reports ``Created.pid`` to the engine, which may now plumb the network into
    ``/proc/<pid>/ns/net`` or adjust cgroups.

``start(state_dir)``
    From any process: connects to ``init.sock`` and releases the init to execve. Returns once
    execve succeeded; raises CommandNotFound/CommandNotExecutable/ContainerStartFailed if it
    failed (the init then exits 127/126), ContainerStateConflict unless status is created.

``wait(pid)`` / reaping
    Only the init's parent (the creator, or M via subreaping) can reap it: ``wait(pid)`` gives
    the exit code, 128+N for a signal. After ``start``, M may exec its C supervisor: the init
    stays M's child, and the pty master / stdio fds M holds are inherited by the supervisor.
    A subreaper also inherits short-lived helpers' orphans (a fuse-overlayfs daemon, for fuse
    snapshots only): the supervisor should reap any child and stop when the init's pid is reaped.

``kill(state_dir, sig, all_processes=False)``
    A signal to the init, or to every process of the container (cgroup freezer walk, or the
    pid namespace's members without cgroups). ``stop(state_dir, sig=SIGTERM, timeout=10)`` is
    docker's escalation: the stop signal, then SIGKILL to everything after the timeout.
    ``pause``/``resume`` freeze and thaw (ContainerStateConflict with the reason where no
    freezer is writable, i.e. rootless without delegation).

``exec_process(state_dir, args, *, env, cwd, user, tty, console_size, privileged, stdio)``
    A new process in the running container's namespaces, cgroups, capabilities and seccomp
    filter, a child of the caller; returns :class:`Exec` ``(pid, pty_master)`` once it
    exec'd (``Exec.wait()`` reaps it, or hand the pid to a supervisor). Failures raise with
    docker's exec wording (``OCI runtime exec failed: exec failed: ...``); docker exits 126 for
    both a missing and a non-executable command there.

``delete(state_dir, force=False)``
    Removes the cgroups and the state directory. Idempotent: a missing state is fine, so the
    engine can call it when reconciling after a monitor died. ``force`` kills a live
    container (every process) first. There are no host-side mounts to clean up.

``state(state_dir)`` → :class:`OciState` (created/running/paused/stopped, pid, bundle...);
``pids(state_dir)`` → host pids of all the container's processes; ``oom_killed(state_dir)`` →
whether the OOM killer struck (read it before ``delete``); ``stats(state_dir)`` → cgroup counters.

``bundle.build_spec(intent, rootfs=...)`` turns a :class:`~dockernb.runtime.bundle.ContainerIntent`
(docker's run flags + the image's config) into the OCI spec (docker's defaults: capabilities,
masked/read-only paths of this kernel, devices, mounts, env, argv, user) and
``bundle.write_bundle`` writes config.json that runc runs unchanged.

Processes get readable titles: ``dockernb-init <short_id>``, ``dockernb-exec <short_id>``.
"""

from __future__ import annotations

from dockernb.runtime.console import resize
from dockernb.runtime.control import (
    OciState,
    delete,
    kill,
    oom_killed,
    pause,
    pids,
    resume,
    run,
    start,
    state,
    stats,
    stop,
    update,
    wait,
)
from dockernb.runtime.create import Created, Stdio, create
from dockernb.runtime.exec import Exec, exec_process

__all__ = [
    "Created",
    "Exec",
    "OciState",
    "Stdio",
    "create",
    "delete",
    "exec_process",
    "kill",
    "oom_killed",
    "pause",
    "pids",
    "resize",
    "resume",
    "run",
    "start",
    "state",
    "stats",
    "stop",
    "update",
    "wait",
]
