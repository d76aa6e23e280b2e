"""Start a real Jupyter server (``jupyter lab`` or ``jupyter server``) for a test, and stop it.

Each server gets a free port, a random token, and its own config, data, runtime and root
directories plus a private DOCKERNB_ROOT, all removed afterwards; its log goes to
``tests/artifacts/<name>.log``. The server extension is enabled the way an install enables it:
by ``etc/jupyter/jupyter_server_config.d/dockernb.json`` in the venv (``pip install`` puts it there).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Jupyter:
    """A running server: where it listens, its token, its root directory (the file browser's /)."""

    url: str
    token: str
    root: Path
    engine_root: Path
    log: Path

    def api(self, path: str, *, method: str = "GET", body: Any = None, token: bool = True,
            headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """One request; returns (status, decoded JSON or text or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, _decode(resp.read(), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read(), err.headers.get("Content-Type", ""))


def _decode(raw: bytes, ctype: str) -> Any:
    if not raw:
        return None
    if "json" in ctype and "ndjson" not in ctype:
        return json.loads(raw)
    return raw.decode()


@contextmanager
def jupyter(
    name: str,
    *,
    app: str = "server",
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    lab_settings: Mapping[str, Any] | None = None,
) -> Iterator[Jupyter]:
    """Run ``jupyter <app>`` (``server`` or ``lab``) until the block ends."""
    base = Path(tempfile.mkdtemp(prefix=f"dockernb-test-jupyter-{name}-", dir="/var/tmp"))
    dirs = {k: base / k for k in ("config", "data", "runtime", "root", "engine")}
    for d in dirs.values():
        d.mkdir()
    for plugin, values in (lab_settings or {}).items():
        # user settings: @scope/package:plugin -> lab/user-settings/@scope/package/plugin.jupyterlab-settings
        package, _, short = plugin.partition(":")
        path = dirs["config"] / "lab" / "user-settings" / package / f"{short}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{name}.log"
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab" if app == "lab" else "jupyter_server",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={dirs['root']}", *args,
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "DOCKERNB_ROOT": str(dirs["engine"]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        **(env or {}),
    }
    with log.open("wb") as out:
        # its own session: stopping it by pid also ends its kernels and terminals
        proc = subprocess.Popen(cmd, env=full_env, cwd=dirs["root"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Jupyter(f"http://127.0.0.1:{port}", token, dirs["root"], dirs["engine"], log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:  # e.g. the jupyter extra is missing: the log says why
                tail = log.read_text()[-3000:]
                raise RuntimeError(f"jupyter {app} exited with {proc.returncode}; see {log}:\n{tail}")
            try:
                if server.api("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not answer within 90 s; see {log}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels and terminals down
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # anything the server left in its session (a kernel, a terminal's shell)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
