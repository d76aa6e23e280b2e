"""Helpers for the registry integration tests: kit configs, a private token-auth registry, a counting transport."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockernb.config import Config, load_config
from dockernb.registry import HTTPTransport, Request, Response, Retry

KIT_USER, KIT_PASSWORD = "student", "dockernb-lab"
TEST_RETRY = Retry(attempts=5, backoff=0.05)


def kit_config(kit_env: dict[str, str], root: Path, **extra: str) -> Config:
    env = {"HOME": os.environ.get("HOME", "/nonexistent"), **kit_env, "DOCKERNB_ROOT": str(root), **extra}
    return load_config(env=env)


class CountingTransport:
    """The real transport, recording every request (to count token fetches, scopes, connections)."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.inner = HTTPTransport(timeout=timeout)
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return self.inner.handle(request)

    def close(self) -> None:
        self.inner.close()

    def token_requests(self) -> list[Request]:
        return [r for r in self.requests if "/token" in r.url]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def token_registry(kit_dir: Path) -> Iterator[str]:
    """A private docker-registry trusting the kit's token issuer: pushes here leave the kit untouched."""
    ports = os.environ.get("DOCKERNB_KIT_PORTS", "5000,5001,5002,5003").split(",")
    issuer = int(ports[3])
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
auth:
  token:
    realm: http://127.0.0.1:{issuer}/token
    service: dockernb-kit
    issuer: dockernb-kit-issuer
    rootcertbundle: {kit_dir}/auth/token.crt
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
                break  # 401: it is up
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
