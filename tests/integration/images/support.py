"""Helpers for the image integration tests: in-process CLI runs, engines on a test root, a plain private registry."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockernb.config import load_config
from dockernb.engine import Engine
from dockernb.present.context import Context
from dockernb.present.dispatch import dispatch

KIT_USER, KIT_PASSWORD = "student", "dockernb-lab"


def engine(env: dict[str, str]) -> Engine:
    return Engine(load_config({**env}))


def cli(env: dict[str, str], *argv: str, stdin: bytes | None = None, eng: Engine | None = None) -> tuple[int, str, str]:
    """Run one dockernb command line in this process (the shared dispatcher), as the CLI would."""
    out, err = io.StringIO(), io.StringIO()
    own = eng is None
    eng = eng or engine(env)
    ctx = Context(prog="dockernb", out=out, err=err, stdin=io.BytesIO(stdin) if stdin is not None else None,
                  _engine=eng)  # fmt: skip
    try:
        code = dispatch(list(argv), ctx)
    finally:
        if own:
            eng.close()
    return code, out.getvalue(), err.getvalue()


def read_in(env: dict[str, str], image: str, path: str) -> Any:  # noqa: ANN401
    """Read ``path`` from the image's filesystem as a container would see it (a read-only view, mounted in a
    private namespace): its text, or None when it does not exist."""
    from dockernb.testing.suites.snapshotter import with_mounted

    images = engine(env).images
    chain = images.ensure_unpacked(images.get(image).id)
    key = f"test-view-{os.urandom(4).hex()}"
    mounts = images.snapshotter.view(key, chain)
    try:
        def fn(mnt: str) -> Any:  # noqa: ANN401
            full = os.path.join(mnt, path.lstrip("/"))
            if not os.path.lexists(full):
                return None
            if os.path.islink(full):
                return "-> " + os.readlink(full)
            with open(full, "rb") as f:
                return f.read().decode("latin-1")

        return with_mounted(mounts, images.idmap, fn)
    finally:
        images.snapshotter.remove(key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def plain_registry() -> Iterator[str]:
    """A private docker-registry without auth on 127.0.0.1 (for documents the kit has no reason to hold)."""
    base = Path(tempfile.mkdtemp(prefix="dockernb-test-registry-", dir=os.environ.get("XDG_RUNTIME_DIR") or None))
    port = _free_port()
    (base / "config.yml").write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {base}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: dockernb-test-not-secret
""")
    log = open(base / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"test registry did not start: {(base / 'registry.log').read_text()}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def put(host: str, path: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    """A raw registry upload: a blob (``<repo>/blobs/<digest>``) or a manifest (``<repo>/manifests/<tag>``)."""
    if "/blobs/" in path:
        repo, _, digest = path.partition("/blobs/")
        req = urllib.request.Request(f"http://{host}/v2/{repo}/blobs/uploads/", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            location = r.headers["Location"]
        sep = "&" if "?" in location else "?"
        url = location if "://" in location else f"http://{host}{location}"
        req = urllib.request.Request(f"{url}{sep}digest={digest}", data=data, method="PUT",
                                     headers={"Content-Type": content_type})  # fmt: skip
    else:
        req = urllib.request.Request(f"http://{host}/v2/{path}", data=data, method="PUT",
                                     headers={"Content-Type": content_type})  # fmt: skip
    urllib.request.urlopen(req, timeout=10).close()


_PROXY = r"""
import json, sys
from dockernb.testing.faultproxy import FaultProxy
faults = json.loads(sys.argv[1])
proxy = FaultProxy(("127.0.0.1", int(sys.argv[2])), host=sys.argv[3]).start()
for kind, at, times in faults:
    if kind == "throttle":
        proxy.throttle(at)
    else:
        getattr(proxy, kind)(at, times=times)
print(proxy.address, flush=True)
sys.stdin.read()  # until the test closes our stdin
proxy.stop()
"""


@contextmanager
def proxy_process(faults: list[tuple[str, int, int]] = (), *, port: int = 5000, host: str = "127.0.0.1"
                  ) -> Iterator[str]:  # fmt: skip
    """A FaultProxy in its own process: the engine forks children (rootless unpacking) that would
    otherwise inherit the proxy's sockets and keep a dropped connection from ever resetting."""
    proc = subprocess.Popen([sys.executable, "-c", _PROXY, json.dumps(list(faults)), str(port), host],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        if not address:
            raise RuntimeError("the fault proxy did not start")
        yield address
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
