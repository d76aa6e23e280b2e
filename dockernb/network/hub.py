"""The rootless hub: one user namespace and one network namespace per state root (layer L3).

Without root, the host's network namespace is off limits, so the bridges of a rootless root
live in a namespace of its own, like rootless docker's (rootlesskit) and podman's
rootless-netns::

    host netns  ── pasta or slirp4netns ──  hub netns H (owned by user namespace U)
                                             ├── dnb0 (10.210.0.1/24) ── veth ── container netns
                                             └── dnb-… (user networks)     (owned by U as well)

U maps the user to root, plus the user's /etc/subuid and /etc/subgid range (newuidmap), the
same mapping containers use. A veth between H and a container's namespace needs CAP_NET_ADMIN
over both owning user namespaces, so **rootless containers on bridge networks must live in U**:
the runtime joins U (``NamespacePlan.userns_path``; OCI ``{"type": "user", "path": ...}``) or
makes its user namespace a child of U, instead of a sibling.

A tiny process holds U and H: a forked child that unshares them, waits for its maps, turns on
forwarding inside H and execs ``sleep infinity`` (under its own session, so it outlives its
caller). The uplink attaches to it. Both are recorded in ``networks/hub.json`` with their start
times; ``ensure`` restarts a dead hub, ``stop`` ends both.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dockernb.errors import ProbeFailed
from dockernb.linux import netns, pids
from dockernb.linux.netlink import Netlink
from dockernb.network.place import HubPlace
from dockernb.network.probe import choose_uplink
from dockernb.network.records import NetworkStore
from dockernb.store.locks import FileLock

__all__ = ["Hub", "HubState"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HubState:
    pid: int
    start: int
    uplink: str
    uplink_pid: int
    uplink_start: int
    host_loopback: str  # address in H that reaches the host's loopback ("" = disabled)
    reason: str

    @property
    def alive(self) -> bool:
        return pids.alive(self.pid, self.start)


def _subid(path: str, names: tuple[str, ...]) -> tuple[int, int] | None:
    try:
        for line in Path(path).read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] in names and parts[1].isdigit() and parts[2].isdigit():
                return int(parts[1]), int(parts[2])
    except OSError:
        pass
    return None


def _map_ids(pid: int) -> str:
    """Write the hub's uid/gid maps: user -> 0, subordinate range -> 1..N (newuidmap), else one id."""
    import pwd

    uid, gid = os.geteuid(), os.getegid()
    names = (pwd.getpwuid(uid).pw_name, str(uid))
    sub_u, sub_g = _subid("/etc/subuid", names), _subid("/etc/subgid", names)
    tools = shutil.which("newuidmap"), shutil.which("newgidmap")
    if sub_u and sub_g and all(tools):
        for tool, own, sub in ((tools[0], uid, sub_u), (tools[1], gid, sub_g)):
            r = subprocess.run([str(tool), str(pid), "0", str(own), "1", "1", str(sub[0]), str(sub[1])],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise OSError(errno.EPERM, f"{tool}: {r.stderr.strip()}")
        return f"0->{uid}, 1..{sub_u[1]}->{sub_u[0]} (newuidmap)"
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("deny")
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(f"0 {gid} 1")
    return f"0->{uid} only (no subordinate ids)"


def _holder() -> tuple[int, int]:
    """Fork the namespace holder; returns (pid, write end of a pipe it keeps open until it dies)."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    life_r, life_w = os.pipe()  # the holder keeps life_w; slirp4netns's --exit-fd reads life_r
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            os.close(to_child_w)
            os.close(to_parent_r)
            os.close(life_r)
            netns.unshare(netns.CLONE_NEWUSER | netns.CLONE_NEWNET)
            os.write(to_parent_w, b"u")
            if os.read(to_child_r, 1) != b"m":
                os._exit(1)
            with Netlink() as nl:  # we are root in U now: bring up lo in H
                nl.set_link(1, up=True)
            # H forwards between its bridges and the uplink; only H, never the host
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write("1")
            os.write(to_parent_w, b"r")
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, life_w)
            os.closerange(life_w + 1, 65536)
            os.set_inheritable(life_w, True)
            os.execv(sleep, ["dockernb-netns-hub", "infinity"])
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            try:
                os.write(to_parent_w, f"e{err}".encode()[:500])
            except OSError:
                pass
        os._exit(code)
    os.close(to_child_r)
    os.close(to_parent_w)
    os.close(life_w)
    try:
        first = os.read(to_parent_r, 512)
        if first != b"u":
            raise OSError(errno.EPERM, f"hub: {first[1:].decode(errors='replace') or 'died'}")
        try:
            _map_ids(pid)
        except OSError:
            os.kill(pid, 9)
            raise
        os.write(to_child_w, b"m")
        ready = os.read(to_parent_r, 512)
        if ready != b"r":
            raise OSError(errno.EPERM, f"hub: {ready[1:].decode(errors='replace') or 'died'}")
    except BaseException:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(life_r)
        raise
    finally:
        os.close(to_child_w)
        os.close(to_parent_r)
    return pid, life_r


def spawn_detached(argv: list[str], log_path: Path, keep: tuple[int, ...] = ()) -> int:
    """Start ``argv`` in a session of its own, re-parented at once (no zombie under a long-lived
    engine, nothing killed with the caller's process group); returns its pid."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.setsid()
            grandchild = os.fork()
            if grandchild:
                os.write(w, str(grandchild).encode())
                os._exit(0)
            logf = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(logf, 1)
            os.dup2(logf, 2)
            # Python ignores SIGPIPE; restore it as subprocess does (pasta 2023-03 even refuses to start:
            # it treats signal(SIGPIPE, SIG_IGN) returning the old SIG_IGN as a failure)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_DFL)
            for fd in keep:
                os.set_inheritable(fd, True)
            for name in os.listdir("/proc/self/fd"):
                if int(name) > 2 and int(name) not in keep:
                    with contextlib.suppress(OSError):
                        os.close(int(name))
            os.execv(argv[0], argv)
        except BaseException as err:  # noqa: BLE001 - the parent sees no pid; the log says why
            with contextlib.suppress(OSError):
                os.write(2, f"dockernb: could not start {argv[0]}: {err!r}\n".encode())
        os._exit(127)
    os.close(w)
    data = b""
    while chunk := os.read(r, 32):
        data += chunk
    os.close(r)
    os.waitpid(child, 0)
    if not data:
        raise OSError(errno.ECHILD, f"could not start {argv[0]}")
    return int(data)


class Hub:
    def __init__(self, store: NetworkStore, *, prefer: str = "", host_loopback: bool = False) -> None:
        self.store = store
        self.prefer = prefer
        self.host_loopback = host_loopback

    def state(self) -> HubState | None:
        data = self.store.state("hub")
        if not data or data.get("boot_id") != pids.boot_id():
            return None
        try:
            return HubState(**{k: data[k] for k in HubState.__dataclass_fields__})
        except KeyError:
            return None

    def place(self) -> HubPlace | None:
        st = self.state()
        return HubPlace(st.pid) if st and st.alive else None

    def ensure(self) -> HubPlace:
        """The hub's place, starting the hub and its uplink if they are not running.

        Raises:
            ProbeFailed: no uplink can run here (the message says why), or the hub failed.
        """
        self.store.ensure()
        with FileLock(self.store.layout.lock("network-hub"), timeout=30):
            st = self.state()
            if st and st.alive:
                return HubPlace(st.pid)
            if st:
                self._stop(st)
            uplink = choose_uplink(self.prefer)
            if not uplink.kind:
                raise ProbeFailed(uplink.reason, probe="rootless uplink",
                                  hint="bridge networking needs pasta or slirp4netns; --network none or host works")
            try:
                pid, life_r = _holder()
            except OSError as err:
                raise ProbeFailed(f"cannot create the rootless network namespace: {err}",
                                  probe="unshare(CLONE_NEWUSER|CLONE_NEWNET)") from err
            try:
                up_pid, loopback = self._start_uplink(uplink.kind, uplink.path, pid, life_r)
            except BaseException:
                pids.terminate(pid, pids.start_time(pid))
                raise
            finally:
                os.close(life_r)
            st = HubState(pid, pids.start_time(pid), uplink.kind, up_pid, pids.start_time(up_pid), loopback,
                          uplink.reason)
            self.store.save_state("hub", {**asdict(st), "boot_id": pids.boot_id()})
            log.debug("hub %d with %s %d", pid, uplink.kind, up_pid)
            return HubPlace(pid)

    def _start_uplink(self, kind: str, exe: str, pid: int, life_r: int) -> tuple[int, str]:
        log_path = self.store.dir / f"{kind}.log"
        user, net = f"/proc/{pid}/ns/user", f"/proc/{pid}/ns/net"
        ready_r = -1
        if kind == "pasta":
            argv = [exe, "--config-net", "--netns", net, "--userns", user, "-f", "-q",
                    "-t", "none", "-u", "none", "-T", "none", "-U", "none"]
            if not self.host_loopback:
                argv.append("--no-map-gw")
            keep: tuple[int, ...] = ()
        else:
            ready_r, ready_w = os.pipe()
            argv = [exe, "--configure", "--mtu=65520", "--netns-type=path", f"--userns-path={user}",
                    f"--ready-fd={ready_w}", f"--exit-fd={life_r}", net, "tap0"]
            if not self.host_loopback:
                argv.insert(1, "--disable-host-loopback")
            keep = (ready_w, life_r)
        try:
            up_pid = spawn_detached(argv, log_path, keep)
        finally:
            if ready_r >= 0:
                os.close(keep[0])
        if ready_r >= 0:
            try:
                os.read(ready_r, 1)
            finally:
                os.close(ready_r)
        place = HubPlace(pid)
        gateway = self._wait_default_route(place, up_pid)
        loopback = ""
        if self.host_loopback:
            loopback = "10.0.2.2" if kind == "slirp4netns" else gateway
        return up_pid, loopback

    def _wait_default_route(self, place: HubPlace, up_pid: int) -> str:
        started = pids.start_time(up_pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not pids.alive(up_pid, started):
                raise ProbeFailed(f"the rootless uplink exited: {self._log_tail()}", probe="uplink start")
            with place.netlink() as nl:
                gw = nl.default_gateway()
            if gw:
                return gw
            time.sleep(0.02)
        pids.terminate(up_pid, started)
        raise ProbeFailed("the rootless uplink did not configure the hub in 5 s", probe="uplink start")

    def _log_tail(self) -> str:
        lines: list[str] = []
        for kind in ("pasta", "slirp4netns"):
            with contextlib.suppress(OSError):
                lines += (self.store.dir / f"{kind}.log").read_text(errors="replace").strip().splitlines()[-3:]
        return " | ".join(lines) or "no output"

    def stop(self) -> None:
        with FileLock(self.store.layout.lock("network-hub"), timeout=30):
            st = self.state()
            if st:
                self._stop(st)
            (self.store.dir / "hub.json").unlink(missing_ok=True)

    def _stop(self, st: HubState) -> None:
        pids.terminate(st.uplink_pid, st.uplink_start)
        pids.terminate(st.pid, st.start)
