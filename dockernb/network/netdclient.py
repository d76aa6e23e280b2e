"""The engine's side of netd: start it on demand, talk to it over its control socket (layer L3)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockernb.errors import InternalError
from dockernb.network.place import Place
from dockernb.network.records import NetworkStore
from dockernb.store.locks import FileLock

__all__ = ["NetdClient"]

# netd needs a dozen modules; ``dockernb/__init__`` imports the whole engine (20 MB PSS for a
# process that lives as long as the containers). Register a bare package object instead, so
# ``dockernb.network.netd`` and what it imports load without the package's __init__ (8 MB).
_LAUNCH = (
    "import sys, types\n"
    "pkg = types.ModuleType('dockernb'); pkg.__path__ = [sys.argv[1] + '/dockernb']\n"
    "sys.modules['dockernb'] = pkg\n"
    "sys.argv[0] = 'dockernb-netd'\n"
    "from dockernb.network.netd import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def dockernb_dir() -> str:
    return str(Path(__file__).resolve().parents[1])  # .../dockernb (this file: dockernb/network/netdclient.py)


class NetdClient:
    def __init__(self, store: NetworkStore) -> None:
        self.store = store
        self.path = store.dir / "netd.sock"

    def call(self, msg: dict[str, Any], fds: Sequence[int] = (), *, timeout: float = 5.0) -> dict[str, Any]:
        """One request; raises OSError when netd is not there."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as s:
            s.settimeout(timeout)
            s.connect(str(self.path))
            socket.send_fds(s, [json.dumps(msg).encode()], list(fds))
            data = s.recv(1 << 20)
        reply: dict[str, Any] = json.loads(data or b"{}")
        return reply

    def alive(self) -> bool:
        try:
            return bool(self.call({"op": "ping"}, timeout=2).get("ok"))
        except (OSError, ValueError):
            return False

    def ensure(self, place: Place) -> None:
        """Start netd for this root (in ``place``'s namespaces) unless it answers already."""
        if self.alive():
            return
        with FileLock(self.store.layout.lock("network-netd"), timeout=30):
            if self.alive():
                return
            argv = [sys.executable, "-c", _LAUNCH, str(Path(dockernb_dir()).parent), "--root",
                    str(self.store.layout.root)]
            if place.userns_path:
                argv += ["--userns", place.userns_path]
            if place.netns_path:
                argv += ["--netns", place.netns_path]
            self.store.dir.mkdir(parents=True, exist_ok=True)
            with open(self.store.dir / "netd.log", "ab") as log:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=True, close_fds=True,
                                        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            proc.wait(10)  # netd forks once and its first process exits: no zombie under a long-lived engine
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.alive():
                    return
                time.sleep(0.005)
            raise InternalError(f"netd did not start; see {self.store.dir / 'netd.log'}")

    def pid(self) -> int:
        try:
            return int((self.store.dir / "netd.pid").read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self) -> None:
        pid = self.pid()
        try:
            self.call({"op": "shutdown"}, timeout=2)
        except (OSError, ValueError):
            pass
        if pid:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}") and _cmd_is_netd(pid):
                time.sleep(0.01)


def _cmd_is_netd(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"dockernb.network.netd" in f.read()
    except OSError:
        return False
