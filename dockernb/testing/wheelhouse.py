"""A local pip wheelhouse for RUN steps in tests and benches (test support; not part of the engine).

Why: ``RUN pip3 install "fastapi[all]"`` (the seed's lab) fetches ~60 wheels from PyPI in every
build, every test pass. :func:`ensure` downloads them once, on the host, into a cache directory
that later runs reuse (offline too); :class:`WheelIndex` serves that directory as a PEP 503
"simple" index over plain HTTP on the host, so a build reaches it like any other server::

    wheels = ensure(["fastapi[all]"])                      # ~/.cache/dockernb/wheelhouse/<key>
    with WheelIndex(wheels) as index:
        args = index.build_args(host)                     # PIP_INDEX_URL, PIP_TRUSTED_HOST
        # docker build --build-arg ...; the Dockerfile declares ``ARG PIP_INDEX_URL`` and
        # ``ARG PIP_TRUSTED_HOST``: the classic builder hands a RUN no undeclared build argument

``host`` is the host as a container sees it: the default bridge's gateway as root; rootless, the
uplink's address of the host's loopback (``DOCKERNB_ROOTLESS_HOST_LOOPBACK=1``, off by default as
in docker). Nothing is faked: pip in the container downloads real wheels over HTTP and installs
them; only where they come from changes. The wheels are the host interpreter's (the kit's
python:3.11 is Debian bookworm's Python 3.11, the same ABI and glibc as this host's).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

__all__ = ["WheelIndex", "cache_root", "ensure"]

_COMPLETE = ".complete"


def cache_root() -> Path:
    """``$DOCKERNB_WHEELHOUSE`` or ``$XDG_CACHE_HOME/dockernb/wheelhouse`` (``~/.cache/...``)."""
    if os.environ.get("DOCKERNB_WHEELHOUSE"):
        return Path(os.environ["DOCKERNB_WHEELHOUSE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dockernb" / "wheelhouse"


def ensure(requirements: Sequence[str], root: Path | None = None, *, timeout: float = 600) -> Path:
    """The directory holding the wheels of ``requirements`` and all they depend on, downloaded once.

    A directory is used only once a download into it completed (a marker file); a failed or
    interrupted download is redone. Raises ``subprocess.CalledProcessError`` (pip failed: offline
    with nothing cached) or ``subprocess.TimeoutExpired``.
    """
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:16]
    where = (root or cache_root()) / key
    if (where / _COMPLETE).exists():
        return where
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--dest", str(where), *requirements],
                   check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    (where / _COMPLETE).write_text("\n".join(requirements) + "\n")
    return where


def _project(filename: str) -> str:
    """A distribution file's normalized project name (PEP 503), from a wheel's or an sdist's name."""
    stem = filename[: -len(".whl")] if filename.endswith(".whl") else re.sub(r"\.(tar\.gz|zip)$", "", filename)
    name = stem.split("-")[0] if filename.endswith(".whl") else stem.rsplit("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pages(wheels: Path) -> dict[str, bytes]:
    """The index's pages: ``/simple/`` and ``/simple/<project>/`` (links carry the sha256, as PyPI's)."""
    projects: dict[str, list[str]] = {}
    for entry in sorted(os.listdir(wheels)):
        if entry.endswith((".whl", ".tar.gz", ".zip")):
            projects.setdefault(_project(entry), []).append(entry)
    pages: dict[str, bytes] = {}
    for project, files in projects.items():
        links = []
        for name in files:
            digest = hashlib.sha256((wheels / name).read_bytes()).hexdigest()
            links.append(f'<a href="/files/{html.escape(name)}#sha256={digest}">{html.escape(name)}</a><br>')
        pages[f"/simple/{project}/"] = ("<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>").encode()
    index = "".join(f'<a href="/simple/{p}/">{p}</a><br>' for p in sorted(projects))
    pages["/simple/"] = f"<!DOCTYPE html><html><body>{index}</body></html>".encode()
    return pages


class _Handler(SimpleHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if not path.endswith("/") and path + "/" in self.pages:
            path += "/"
        if path in self.pages:
            body = self.pages[path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path.startswith("/files/") and "/" not in path[len("/files/") :]:
            self.path = "/" + path[len("/files/") :]
            super().do_GET()
            return
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        self.server.requests += 1  # type: ignore[attr-defined]


class WheelIndex:
    """The wheelhouse served as a PEP 503 index on ``bind`` (all addresses: the bridge's gateway and
    the host's loopback must both reach it), in a daemon thread, until the ``with`` block ends."""

    def __init__(self, wheels: Path, bind: str = "0.0.0.0") -> None:
        self.wheels = wheels
        handler = type("Handler", (_Handler,), {"pages": _pages(wheels)})
        self._server = ThreadingHTTPServer((bind, 0), partial(handler, directory=str(wheels)))
        self._server.daemon_threads = True
        self._server.requests = 0  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="dockernb-wheelhouse", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def requests(self) -> int:
        """Requests served so far (the proof that a build used the index)."""
        return int(self._server.requests)  # type: ignore[attr-defined]

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}/simple/"

    def build_args(self, host: str) -> list[str]:
        """``--build-arg`` pairs pointing pip at this index as ``host`` (plain HTTP: a trusted host)."""
        return ["--build-arg", f"PIP_INDEX_URL={self.url(host)}", "--build-arg", f"PIP_TRUSTED_HOST={host}"]

    def __enter__(self) -> WheelIndex:
        self._thread.start()
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
