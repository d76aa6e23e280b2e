"""The kit's three real registries (Debian's docker-registry, distribution 2.8) and the token issuer.

- ``open``  (127.0.0.1:5000): no auth, every kit image; the mirror for docker.io.
- ``basic`` (127.0.0.1:5001): htpasswd basic auth (bcrypt hashes).
- ``token`` (127.0.0.1:5002): Bearer token auth against the kit's issuer on 127.0.0.1:5003.

Each runs detached (setsid) with a PID file under the kit directory; starting is idempotent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dockernb.labkit.token_server import ISSUER, SERVICE, ensure_keys

__all__ = ["KIT_PASSWORD", "KIT_USER", "Registry", "registries", "start_all", "stop_all"]

KIT_USER = "student"
KIT_PASSWORD = "dockernb-lab"


@dataclass(frozen=True)
class Registry:
    name: str  # open | basic | token
    port: int
    kit_dir: Path

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dir(self) -> Path:
        return self.kit_dir / "registry" / self.name

    @property
    def pidfile(self) -> Path:
        return self.kit_dir / "run" / f"registry-{self.name}.pid"

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.name == "open" else (KIT_USER, KIT_PASSWORD)


def ports() -> dict[str, int]:
    """Ports from ``DOCKERNB_KIT_PORTS`` ("open,basic,token,issuer"), default 5000-5003."""
    raw = os.environ.get("DOCKERNB_KIT_PORTS", "5000,5001,5002,5003").split(",")
    names = ["open", "basic", "token", "issuer"]
    return {n: int(p) for n, p in zip(names, raw, strict=True)}


def registries(kit_dir: Path) -> dict[str, Registry]:
    p = ports()
    return {n: Registry(n, p[n], kit_dir) for n in ("open", "basic", "token")}


def _alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"registry" in cmdline or b"token_server" in cmdline


def _write_config(reg: Registry, issuer_port: int) -> Path:
    reg.dir.mkdir(parents=True, exist_ok=True)
    auth = ""
    if reg.name == "basic":
        auth = f"""auth:
  htpasswd:
    realm: dockernb-kit
    path: {reg.kit_dir}/auth/htpasswd
"""
    elif reg.name == "token":
        auth = f"""auth:
  token:
    realm: http://127.0.0.1:{issuer_port}/token
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: {reg.kit_dir}/auth/token.crt
"""
    config = reg.dir / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {reg.dir}/data
  delete:
    enabled: true
http:
  addr: {reg.addr}
  secret: dockernb-kit-not-secret-{reg.name}
{auth}""")
    return config


def _write_auth(kit_dir: Path) -> None:
    auth = kit_dir / "auth"
    auth.mkdir(parents=True, exist_ok=True)
    ensure_keys(auth)
    users = auth / "users.json"
    htpasswd = auth / "htpasswd"
    if users.exists() and htpasswd.exists():
        return
    import bcrypt

    hashed = bcrypt.hashpw(KIT_PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    htpasswd.write_text(f"{KIT_USER}:{hashed}\n")
    users.write_text(json.dumps({KIT_USER: hashed}))


def _spawn(cmd: list[str], pidfile: Path, log: Path) -> None:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    pidfile.write_text(str(proc.pid))


def _wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401 means it is up
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {url}") from None
            time.sleep(0.1)


def start_all(kit_dir: Path) -> dict[str, Registry]:
    """Start what is not running; leave running ones alone."""
    _write_auth(kit_dir)
    p = ports()
    regs = registries(kit_dir)
    run = kit_dir / "run"
    issuer_pid = run / "token-issuer.pid"
    if not _alive(issuer_pid):
        _spawn([sys.executable, "-m", "dockernb.labkit.token_server", "--listen", f"127.0.0.1:{p['issuer']}",
                "--auth-dir", str(kit_dir / "auth")], issuer_pid, run / "token-issuer.log")
    for reg in regs.values():
        config = _write_config(reg, p["issuer"])
        if not _alive(reg.pidfile):
            _spawn(["docker-registry", "serve", str(config)], reg.pidfile, run / f"registry-{reg.name}.log")
    _wait_http(f"http://127.0.0.1:{p['issuer']}/token")
    for reg in regs.values():
        _wait_http(f"http://{reg.addr}/v2/")
    return regs


def stop_all(kit_dir: Path) -> list[str]:
    stopped = []
    for pidfile in sorted((kit_dir / "run").glob("*.pid")):
        if _alive(pidfile):
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            stopped.append(pidfile.stem)
        pidfile.unlink(missing_ok=True)
    return stopped


def status(kit_dir: Path) -> dict[str, bool]:
    return {f.stem: _alive(f) for f in sorted((kit_dir / "run").glob("*.pid"))}
