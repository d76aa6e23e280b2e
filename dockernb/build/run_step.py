"""RUN: one command in a throwaway container on a step's snapshot, its output streamed (layer L5).

:func:`run_container` is the runtime side of a RUN (the caller prepared the snapshot and turns it
into a layer afterwards)::

    sandbox = networks.create_sandbox(...)      # the default bridge (or none/host/a network)
    created = runtime.create(...)               # our child, stdout/stderr on two pipes, stdin /dev/null
    networks.attach(id, created.pid)
    stubs   = MountStubs.record(...)             # mount points the runtime had to make in the snapshot
    runtime.start(...); yield output; exit code = runtime.wait(pid)
    runtime.delete(...); networks.teardown(id)  # always, whatever happened (BuildKit's rule)

Nothing outlives the step: no container state, cgroup, process, veth or published port, even
when the caller stops iterating (KeyboardInterrupt, a closed generator): the ``finally`` blocks
kill and reap the container and tear its network down.

:class:`MountStubs`: to bind /etc/hosts, /etc/resolv.conf, /etc/hostname, /proc, /sys, /dev
onto the rootfs, the runtime creates whichever of them the image lacks, in the snapshot. docker
hides those in an "init layer" below the container's; here they are removed again before the
diff (as BuildKit's mount-stub cleaner does), so a RUN's layer holds only what the command did.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import stat
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dockernb import runtime
from dockernb.build.executor import RunSpec
from dockernb.runtime.bundle import ContainerIntent, build_spec
from dockernb.spec.events import BuildOutput, Stream
from dockernb.spec.mount import Mount

if TYPE_CHECKING:
    from dockernb.network.manager import Networks

__all__ = ["MountStubs", "RunOutcome", "run_container", "top_level"]


def top_level(targets: Sequence[str]) -> list[str]:
    """Mount destinations that are not below another one (the only ones made in the rootfs itself)."""
    clean = sorted({"/" + "/".join(p for p in t.split("/") if p) for t in targets})
    out: list[str] = []
    for t in clean:
        if t == "/" or any(t.startswith(o.rstrip("/") + "/") for o in out):
            continue
        out.append(t)
    return out


@dataclass(slots=True)
class MountStubs:
    """The mount-point stubs a container's runtime made in the snapshot, and how to take them out.

    ``changes`` is the directory holding the snapshot's own changes: an overlay upper (where
    anything present right after create was made by the runtime: the image's own files stay
    below) or, for a copying driver, the whole tree, compared with ``base``, the parent's tree.
    """

    stubs: list[str] = field(default_factory=list)  # relative paths, made by the runtime
    parents: list[str] = field(default_factory=list)  # their directories as they were (overlay: copied up)

    @classmethod
    def record(cls, changes: str, base: str, targets: Sequence[str]) -> MountStubs:
        found = cls()
        for target in top_level(targets):
            rel = target.lstrip("/")
            if not os.path.lexists(os.path.join(changes, rel)):
                continue
            if base and os.path.lexists(os.path.join(base, rel)):
                continue  # the image has it: the runtime mounted over it, made nothing
            found.stubs.append(rel)
            parent = os.path.dirname(rel)
            while parent:
                if parent not in found.parents:
                    found.parents.append(parent)
                parent = os.path.dirname(parent)
        return found

    def tidy(self, changes: str, base: str) -> None:
        """Remove the stubs still empty (the command could not touch a covered path), then directories
        that only held them; a parent that stays gets its times back from ``base`` (copying drivers)."""
        for rel in sorted(self.stubs, key=len, reverse=True):
            path = os.path.join(changes, rel)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                with contextlib.suppress(OSError):
                    os.rmdir(path)  # not empty: something else lives there now, keep it
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(path)
        for rel in sorted(self.parents, key=len, reverse=True):
            path = os.path.join(changes, rel)
            if base:
                try:
                    before = os.lstat(os.path.join(base, rel))
                    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
                except OSError:
                    pass
                continue
            with contextlib.suppress(OSError):
                os.rmdir(path)  # an overlay copy-up made only for the stubs


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int
    stubs: MountStubs


def _network_mode(network: str) -> str:
    return "bridge" if network in ("", "default") else network


def run_container(
    spec: RunSpec,
    *,
    mounts: Sequence[Mount],
    networks: Networks,
    scratch: Path,
    rootless: bool,
    changes: str,
    base: str = "",
) -> Generator[BuildOutput, None, RunOutcome]:
    """Run ``spec`` on the snapshot ``mounts`` (whose own changes are in ``changes``) and wait for it.

    ``scratch`` is an empty directory for the container's runtime state, mount point and network
    files (the caller removes it). Yields the command's output; returns its exit code (128+N
    for signal N) and the stubs to tidy before the diff. Raises CommandNotFound,
    CommandNotExecutable, ContainerStartFailed (the command could not start), the network's
    errors (NoSuchNetwork...).
    """
    from dockernb.network.base import SandboxRequest

    cid = spec.container_id
    state_dir = scratch / "runtime"
    rootfs = scratch / "rootfs"
    rootfs.mkdir(mode=0o755)
    files_dir = scratch / "files"
    files_dir.mkdir(mode=0o755)
    extra: list[Mount] = []
    for i, (target, data) in enumerate(sorted(spec.files.items())):
        # RUN <<EOF with a #! line: the document is an executable file in the container (BuildKit's)
        doc = files_dir / f"doc{i}"
        doc.write_bytes(data)
        doc.chmod(0o755)
        extra.append(Mount("bind", str(doc), target, ("rbind", "ro")))
    sandbox = networks.create_sandbox(SandboxRequest(
        container_id=cid, name=f"build-{cid[:12]}", hostname=cid[:12], files_dir=files_dir,
        network_mode=_network_mode(spec.network),
    ))  # fmt: skip
    try:
        plan = sandbox.plan
        intent = ContainerIntent(
            container_id=cid,
            entrypoint=(),
            cmd=tuple(spec.argv),
            env=tuple(spec.env),
            user=spec.user or None,
            workdir=spec.workdir or "/",
            hostname=cid[:12],
            mounts=tuple(extra),
            etc_files={k: v for k, v in {"/etc/hosts": sandbox.hosts_path, "/etc/resolv.conf": sandbox.resolv_path,
                                         "/etc/hostname": sandbox.hostname_path}.items() if v},
            network={"new": "new", "host": "host"}.get(str(plan.mode), plan.path),
            rootless=rootless,
            userns_path=plan.userns_path,
        )  # fmt: skip
        rt_spec = build_spec(intent, root_path=str(rootfs))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            created = runtime.create(cid, state_dir=state_dir, spec=rt_spec,
                                     stdio=runtime.Stdio(None, out_w, err_w), root_mounts=tuple(mounts))  # fmt: skip
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        reaped = False
        try:
            networks.attach(cid, created.pid)
            stubs = MountStubs.record(changes, base, [m.target for m in rt_spec.mounts])
            runtime.start(state_dir)
            yield from _pump(out_r, err_r)
            code = runtime.wait(created.pid)
            reaped = True
        finally:
            os.close(out_r)
            os.close(err_r)
            with contextlib.suppress(Exception):
                runtime.delete(state_dir, force=True)  # kills whatever is left, removes the cgroups
            if not reaped:
                runtime.wait(created.pid)
    finally:
        networks.teardown(cid)
    return RunOutcome(255 if code is None else code, stubs)


def _pump(out_r: int, err_r: int) -> Generator[BuildOutput, None, None]:
    """The command's stdout and stderr as they come, until both are closed (every process is gone)."""
    sel = selectors.DefaultSelector()
    decoders = {
        out_r: (codecs.getincrementaldecoder("utf-8")("replace"), Stream.STDOUT),
        err_r: (codecs.getincrementaldecoder("utf-8")("replace"), Stream.STDERR),
    }
    for fd in decoders:
        sel.register(fd, selectors.EVENT_READ)
    try:
        while sel.get_map():
            for key, _ in sel.select():
                fd = key.fd
                assert isinstance(fd, int)
                data = os.read(fd, 65536)
                decoder, stream = decoders[fd]
                text = decoder.decode(data, final=not data)
                if not data:
                    sel.unregister(fd)
                if text:
                    yield BuildOutput(text=text, stream=stream)
    finally:
        sel.close()
