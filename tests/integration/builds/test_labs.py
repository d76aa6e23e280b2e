"""The labs' builds end to end, root and rootless: the seed's FastAPI image serving HTTP on a published port,
and a multi-stage build that compiles a C program with gcc installed from Debian's mirror.

Both need the network from inside a RUN (the default bridge with outbound NAT as root, the
rootless hub's uplink otherwise). The FastAPI lab's ``pip3 install`` takes its wheels from the
session's wheelhouse (a pip index served on the host, :mod:`dockernb.testing.wheelhouse`): the
seed's Dockerfile plus the two ``ARG`` lines that let a RUN see ``--build-arg PIP_INDEX_URL``
(the classic builder passes it nothing undeclared). That PyPI itself answers a RUN, over HTTPS
with the host's CA bundle the kit's images carry, is checked by a small ``pip3 download``;
``apt-get`` reaches deb.debian.org in the multi-stage build. About 20 s and 40 s here.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from dockernb.testing.wheelhouse import WheelIndex
from tests.integration.builds.conftest import BuildCli, host_from_containers, write_context

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

# the seed's lab (../shared/seed/docker-tutorial.md), on the kit's python:3.11
FASTAPI_DOCKERFILE = """FROM python:3.11
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
RUN pip3 install "fastapi[all]"
WORKDIR /app
ADD main.py /app/
CMD python -m uvicorn main:app --host 0.0.0.0 --port 8000
"""
FASTAPI_MAIN = """from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def root():
    return {"message": "Hello World"}
"""


def _port(preferred: int) -> int:
    """The seed's port when it is free here (other suites may hold it), else any free one."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise AssertionError("no free port")


def _get(url: str, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local test server
                return bytes(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_fastapi_seed_lab(bcli: BuildCli, tmp_path: Path, wheelhouse: WheelIndex) -> None:
    bcli.env["DOCKERNB_ROOTLESS_HOST_LOOPBACK"] = "1"  # rootless: the wheelhouse listens on the host
    host = host_from_containers(bcli, bcli.root)
    files = {"Dockerfile": FASTAPI_DOCKERFILE, "main.py": FASTAPI_MAIN}
    ctx = write_context(tmp_path / "fastapi_simple_project", files)
    served = wheelhouse.requests
    code, out, err = bcli.in_dir(ctx, "build", ".", "-t", "fastapi_simple_project", *wheelhouse.build_args(host))
    assert code == 0, out + err
    assert f"Looking in indexes: {wheelhouse.url(host)}" in out and wheelhouse.requests > served + 10, out
    assert "Successfully installed" in out and "Successfully tagged fastapi_simple_project:latest" in out
    # as docker's classic builder: the RUN's history names the build arguments it saw, the config does not
    config = json.loads(bcli.ok("inspect", "fastapi_simple_project"))[0]["Config"]
    assert not [e for e in config["Env"] if e.startswith(("PIP_INDEX_URL=", "PIP_TRUSTED_HOST="))]
    assert "|2 PIP_INDEX_URL=" in bcli.ok("history", "--no-trunc", "fastapi_simple_project")
    port = _port(8099)
    bcli.ok("run", "-p", f"{port}:8000", "-d", "--name", "fastapi_simple_project", "fastapi_simple_project:latest")
    assert _get(f"http://127.0.0.1:{port}/") == b'{"message":"Hello World"}'
    assert "GET / HTTP/1.1" in bcli.ok("logs", "fastapi_simple_project") + bcli("logs", "fastapi_simple_project").err
    bcli.ok("rm", "-f", "fastapi_simple_project")
    # PyPI itself answers a RUN (HTTPS, the host's CA bundle in the kit's image)
    pypi = write_context(tmp_path / "pypi", {"Dockerfile": PYPI_DOCKERFILE})
    code, out, err = bcli.in_dir(pypi, "build", "-q", ".")
    assert code == 0, out + err


PYPI_DOCKERFILE = """FROM python:3.11
RUN pip3 download --no-deps --dest /tmp/wheels six && ls /tmp/wheels | grep -q '^six-.*whl$'
"""


MULTISTAGE = """FROM debian:bookworm AS builder
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
WORKDIR /src
COPY hello.c .
RUN mkdir /out && gcc -static -O2 -o /out/hello hello.c

FROM busybox
COPY --from=builder /out/hello /usr/local/bin/
COPY --from=0 /src/*.c /src/
CMD ["hello"]
"""
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from the builder stage"); return 0; }\n'


def test_multistage_compiled_artifact(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ms", {"Dockerfile": MULTISTAGE, "hello.c": HELLO_C})
    code, out, err = bcli.in_dir(ctx, "build", "-t", "hello-ms", ".")
    assert code == 0, out + err
    assert bcli.ok("run", "--rm", "hello-ms") == "hello from the builder stage\n"
    assert bcli.ok("run", "--rm", "hello-ms", "cat", "/src/hello.c") == HELLO_C
    # the final image is busybox plus the artifact: no compiler, no apt lists
    history = bcli.ok("history", "--format", "{{.Size}} {{.CreatedBy}}", "hello-ms").splitlines()
    assert len(history) == 2 + 3 and "COPY" in history[2] and history[2].startswith("7")  # ~760kB: a static binary
    # --target stops at the named stage; the cache serves it
    code, out, err = bcli.in_dir(ctx, "build", "--target", "builder", "-t", "hello-builder", ".")
    assert code == 0 and out.count("Using cache") == 4, out + err
    assert bcli.ok("run", "--rm", "hello-builder", "gcc", "--version").startswith("gcc")
