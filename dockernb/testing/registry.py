"""Fakes for the registry client's transport seam: :class:`FakeTransport` and :class:`MemoryRegistry`.

``FakeTransport(handler)`` is httpx's MockTransport: every request goes to ``handler(request)``.
``MemoryRegistry`` is such a handler: an in-memory distribution registry (``/v2/`` ping, manifests,
blobs with Range, uploads with mounts and chunks, deletes) behind no auth, Basic or a Bearer
token server, with a request log and fault hooks (drop a blob response after N bytes, ignore
Range, garble bytes, make a host unreachable) so unit tests exercise the client without a network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from dockernb.registry.transport import Headers, Request, Response
from dockernb.spec.oci import MediaType

__all__ = ["BlobFault", "FakeImage", "FakeTransport", "MemoryRegistry", "Recorded", "Router"]

Handler = Callable[[Request], Response]


class FakeTransport:
    """Send every request to ``handler``; count them. Raise OSError from the handler to fake a network failure."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        pass


class Router:
    """Send each request to the fake registry serving its host (mirrors, token servers, upstreams)."""

    def __init__(self, *registries: MemoryRegistry) -> None:
        self.registries = list(registries)
        self.down: set[str] = set()

    def handle(self, request: Request) -> Response:
        netloc = urlsplit(request.url).netloc
        if netloc in self.down:
            raise ConnectionRefusedError(f"dial tcp {netloc}: connect: connection refused")
        for registry in self.registries:
            if netloc == registry.host or request.url.startswith(registry.TOKEN_URL):
                return registry.handle(request)
        raise ConnectionError(f"dial tcp: lookup {urlsplit(request.url).hostname} on 127.0.0.53:53: no such host")

    def transport(self) -> FakeTransport:
        return FakeTransport(self.handle)


class _FlakyBody:
    """Body bytes that fail with ``ConnectionResetError`` after ``fail_at`` bytes (if given)."""

    def __init__(self, data: bytes, fail_at: int | None) -> None:
        self.data, self.fail_at, self.pos = data, fail_at, 0

    def readinto(self, buffer: memoryview | bytearray) -> int:
        end = len(self.data) if self.fail_at is None else min(len(self.data), self.fail_at)
        if self.pos >= end and self.fail_at is not None and self.pos < len(self.data):
            raise ConnectionResetError("unexpected EOF")
        n = min(len(buffer), end - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n

    def close(self) -> None:
        self.pos = len(self.data)


@dataclass
class BlobFault:
    """What the next GETs of one blob do: ``drop_at`` bytes into the response the connection dies;
    ``garble`` flips a byte; ``ignore_range`` answers 200 with the whole blob; ``status`` fails outright."""

    drop_at: int | None = None
    garble: bool = False
    ignore_range: bool = False
    status: int | None = None
    times: int = 1


@dataclass
class FakeImage:
    """Digests of an image stored by :meth:`MemoryRegistry.add_image` (``index`` only with platforms)."""

    repo: str
    tag: str | None
    layers: list[str]
    configs: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    index: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class _Repo:
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # digest -> (media type, bytes)
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest
    blobs: set[str] = field(default_factory=set)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(status: int, doc: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc).encode()
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
    return Response(status, Headers(hdrs), body)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"errors": [{"code": code, "message": message}]}, headers)


class MemoryRegistry:
    """An in-memory registry at ``http://<host>`` (see the module docstring). Use ``transport()`` for a client.

    ``auth``: ``"none"``, ``"basic"`` or ``"bearer"`` (token server at ``http://auth.test/token``);
    ``users`` maps user names to passwords; repositories under ``public`` prefixes pull anonymously.
    """

    TOKEN_URL = "http://auth.test/token"

    def __init__(
        self,
        host: str = "registry.test",
        *,
        auth: str = "none",
        users: dict[str, str] | None = None,
        public: tuple[str, ...] = ("library/",),
        token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.auth = auth
        self.users = dict(users or {})
        self.public = public
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.blobs: dict[str, bytes] = {}
        self.repos: dict[str, _Repo] = {}
        self.uploads: dict[str, tuple[str, bytearray]] = {}  # uuid -> (repo, data)
        self.tokens: dict[str, tuple[set[tuple[str, str]], float, str]] = {}  # token -> (grants, expiry, account)
        self.faults: dict[str, list[BlobFault]] = {}
        self.log: list[Recorded] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.down: set[str] = set()  # hosts that refuse connections
        self._ids = itertools.count(1)

    # --- content ---------------------------------------------------------------------

    def add_blob(self, repo: str, data: bytes) -> str:
        digest = _digest(data)
        self.blobs[digest] = data
        self.repos.setdefault(repo, _Repo()).blobs.add(digest)
        return digest

    def add_manifest(self, repo: str, media_type: str, data: bytes, tag: str | None = None) -> str:
        digest = _digest(data)
        r = self.repos.setdefault(repo, _Repo())
        r.manifests[digest] = (media_type, data)
        if tag:
            r.tags[tag] = digest
        return digest

    def add_image(
        self,
        repo: str,
        tag: str | None,
        layers: list[bytes],
        *,
        platforms: tuple[str, ...] = (),
        docker: bool = False,
        config: dict[str, object] | None = None,
    ) -> FakeImage:
        """Store an image: each layer blob as given (gzip is detected for the diff_id), a config, a manifest;
        with ``platforms`` (``"linux/amd64"``...) one manifest per platform under an index. Returns digests."""
        layer_type = MediaType.DOCKER_LAYER_GZIP if docker else MediaType.OCI_LAYER_GZIP
        manifest_type = MediaType.DOCKER_MANIFEST if docker else MediaType.OCI_MANIFEST
        config_type = MediaType.DOCKER_CONFIG if docker else MediaType.OCI_CONFIG
        index_type = MediaType.DOCKER_MANIFEST_LIST if docker else MediaType.OCI_INDEX
        layer_descs = []
        diff_ids = []
        for blob in layers:
            layer_descs.append({"mediaType": layer_type, "digest": self.add_blob(repo, blob), "size": len(blob)})
            raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
            diff_ids.append(_digest(raw))
        image = FakeImage(repo=repo, tag=tag, layers=[str(d["digest"]) for d in layer_descs])
        entries = []
        for spec in platforms or ("",):
            os_name, _, arch = spec.partition("/")
            arch, _, variant = arch.partition("/")
            doc: dict[str, object] = {"architecture": arch or "amd64", "os": os_name or "linux",
                                      "rootfs": {"type": "layers", "diff_ids": diff_ids}, **(config or {})}  # fmt: skip
            if variant:
                doc["variant"] = variant
            config_bytes = json.dumps(doc).encode()
            config_desc = {"mediaType": config_type, "digest": self.add_blob(repo, config_bytes),
                           "size": len(config_bytes)}  # fmt: skip
            manifest = json.dumps({"schemaVersion": 2, "mediaType": manifest_type, "config": config_desc,
                                   "layers": layer_descs}).encode()  # fmt: skip
            digest = self.add_manifest(repo, manifest_type, manifest, None if platforms else tag)
            image.configs.append(str(config_desc["digest"]))
            image.manifests.append(digest)
            platform: dict[str, str] = {"architecture": arch, "os": os_name}
            if variant:
                platform["variant"] = variant
            entries.append({"mediaType": manifest_type, "digest": digest, "size": len(manifest), "platform": platform})
        if platforms:
            index = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}).encode()
            image.index = self.add_manifest(repo, index_type, index, tag)
        return image

    def transport(self) -> FakeTransport:
        return FakeTransport(self.handle)

    # --- auth ------------------------------------------------------------------------

    def _account(self, header: str) -> tuple[str | None, bool]:
        if not header.startswith("Basic "):
            return None, True
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        ok = self.users.get(user) == password
        return (user if ok else None), ok

    def _token(self, request: Request) -> Response:
        query = parse_qs(urlsplit(request.url).query)
        self.token_requests.append(query)
        account, ok = self._account(request.headers.get("Authorization", ""))
        if not ok:
            return _json(401, {"details": "incorrect username or password"})
        grants: set[tuple[str, str]] = set()
        for scope in (s for value in query.get("scope", []) for s in value.split(" ")):
            _, name, actions = scope.split(":")
            for action in actions.split(","):
                if account or (action == "pull" and name.startswith(self.public)):
                    grants.add((name, action))
        token = f"tok{next(self._ids)}"
        self.tokens[token] = (grants, self.clock() + self.token_lifetime, account or "")
        return _json(200, {"token": token, "expires_in": self.token_lifetime})

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _challenge(self, scope: str = "", error: str = "") -> dict[str, str]:
        if self.auth == "basic":
            return {"WWW-Authenticate": 'Basic realm="memory"'}
        value = f'Bearer realm="{self.TOKEN_URL}",service="{self.host}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return {"WWW-Authenticate": value}

    def _authorized(self, request: Request, repo: str, action: str) -> Response | None:
        """None when allowed, else the 401 the registry answers."""
        if self.auth == "none":
            return None
        header = request.headers.get("Authorization", "")
        scope = f"repository:{repo}:{action}" if repo else ""
        if self.auth == "basic":
            account, ok = self._account(header)
            if account and ok:
                return None
            return _error(401, "UNAUTHORIZED", "authentication required", self._challenge())
        if not header.startswith("Bearer "):
            return _error(401, "UNAUTHORIZED", "authentication required", self._challenge(scope))
        grant = self.tokens.get(header[7:])
        if grant is None or grant[1] <= self.clock():
            return _error(401, "UNAUTHORIZED", "authentication required", self._challenge(scope, "invalid_token"))
        if repo and (repo, action) not in grant[0]:
            return _error(401, "UNAUTHORIZED", "authentication required",
                          self._challenge(scope, "insufficient_scope"))  # fmt: skip
        return None

    # --- the HTTP API ----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        url = urlsplit(request.url)
        if url.netloc in self.down:
            raise ConnectionRefusedError(f"dial tcp {url.netloc}: connect: connection refused")
        self.log.append(Recorded(request.method, url.path, url.query, dict(request.headers)))
        if request.url.startswith(self.TOKEN_URL):
            return self._token(request)
        if url.netloc != self.host:
            raise ConnectionError(f"dial tcp: lookup {url.hostname} on 127.0.0.53:53: no such host")
        if url.path == "/v2/":
            denied = self._authorized(request, "", "")
            return denied or _json(200, {}, {"Docker-Distribution-Api-Version": "registry/2.0"})
        tags = re.match(r"^/v2/(.+)/tags/list$", url.path)
        if tags is not None and request.method == "GET":
            denied = self._authorized(request, tags.group(1), "pull")
            if denied is not None:
                return denied
            if tags.group(1) not in self.repos:
                return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
            return _json(200, {"name": tags.group(1), "tags": sorted(self.repos[tags.group(1)].tags)})
        m = re.match(r"^/v2/(.+)/(manifests|blobs)/(uploads/)?([^/]*)$", url.path)
        if not m:
            return _error(404, "NOT_FOUND", "not found")
        repo, kind, uploads, ref = m.group(1), m.group(2), m.group(3), m.group(4)
        action = "pull" if request.method in ("GET", "HEAD") else "push"
        if request.method == "DELETE" and not uploads:
            action = "delete"
        query = parse_qs(url.query)
        if uploads and "mount" in query:
            denied = self._authorized(request, query["from"][0], "pull")
            if denied is not None:
                query.pop("mount")  # like distribution: no access to the source, a plain upload instead
        denied = self._authorized(request, repo, action)
        if denied is not None:
            return denied
        if kind == "manifests":
            return self._manifests(request, repo, ref)
        if uploads:
            return self._uploads(request, repo, ref, query)
        return self._blobs(request, repo, ref)

    def _manifests(self, request: Request, repo: str, ref: str) -> Response:
        r = self.repos.setdefault(repo, _Repo())
        if request.method == "PUT":
            assert isinstance(request.body, bytes)
            media_type = request.headers.get("Content-Type", "")
            digest = self.add_manifest(repo, media_type, request.body, None if ref.startswith("sha256:") else ref)
            location = f"/v2/{repo}/manifests/{digest}"
            return Response(201, Headers({"Docker-Content-Digest": digest, "Location": location}))
        digest = ref if ref.startswith("sha256:") else r.tags.get(ref, "")
        if request.method == "DELETE":
            if r.manifests.pop(digest, None) is None:
                return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            for tag in [t for t, d in r.tags.items() if d == digest]:
                del r.tags[tag]
            return Response(202, Headers())
        if digest not in r.manifests:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, data = r.manifests[digest]
        accept = request.headers.get("Accept", "")
        if media_type not in accept and "application/vnd.oci.image.index" in media_type:
            return _error(404, "MANIFEST_UNKNOWN", "OCI index found, but accept header does not support OCI indexes")
        headers = {"Content-Type": media_type, "Content-Length": str(len(data)), "Docker-Content-Digest": digest}
        return Response(200, Headers(headers), b"" if request.method == "HEAD" else data)

    def _blobs(self, request: Request, repo: str, digest: str) -> Response:
        r = self.repos.get(repo)
        if r is None or digest not in r.blobs:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if request.method == "DELETE":
            r.blobs.discard(digest)
            return Response(202, Headers())
        data = self.blobs[digest]
        if request.method == "HEAD":
            return Response(200, Headers({"Content-Length": str(len(data)), "Docker-Content-Digest": digest}))
        fault = None
        queue = self.faults.get(digest)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
        if fault is not None and fault.status is not None:
            return _error(fault.status, "UNKNOWN", "injected failure")
        start = 0
        m = re.match(r"^bytes=(\d+)-$", request.headers.get("Range", ""))
        if m and not (fault and fault.ignore_range):
            start = int(m.group(1))
        body = data[start:]
        if fault is not None and fault.garble and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        headers = {"Content-Length": str(len(body)), "Docker-Content-Digest": digest,
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return Response(status, Headers(headers), _FlakyBody(body, fault.drop_at if fault else None))

    def _uploads(self, request: Request, repo: str, upload_id: str, query: dict[str, list[str]]) -> Response:
        r = self.repos.setdefault(repo, _Repo())
        if request.method == "POST":
            if "mount" in query:
                source = self.repos.get(query["from"][0])
                digest = query["mount"][0]
                if source is not None and digest in source.blobs:
                    r.blobs.add(digest)
                    return Response(201, Headers({"Docker-Content-Digest": digest,
                                                  "Location": f"/v2/{repo}/blobs/{digest}"}))  # fmt: skip
            uuid = f"u{next(self._ids)}"
            self.uploads[uuid] = (repo, bytearray())
            return Response(202, Headers({"Location": f"/v2/{repo}/blobs/uploads/{uuid}?_state=s{uuid}",
                                          "Range": "0-0", "Docker-Upload-UUID": uuid}))  # fmt: skip
        if upload_id not in self.uploads:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        _, buf = self.uploads[upload_id]
        body = request.body
        chunk = body if isinstance(body, bytes) else (body.read() if body is not None else b"")
        if request.method == "DELETE":
            del self.uploads[upload_id]
            return Response(204, Headers())
        if request.method == "PATCH":
            rng = request.headers.get("Content-Range", "")
            if rng and int(rng.split("-")[0]) != len(buf):
                return _error(416, "BLOB_UPLOAD_INVALID", "invalid content range")
            buf += chunk
            return Response(202, Headers({"Location": f"/v2/{repo}/blobs/uploads/{upload_id}?_state=p{len(buf)}",
                                          "Range": f"0-{len(buf) - 1}"}))  # fmt: skip
        buf += chunk  # PUT
        digest = query.get("digest", [""])[0]
        if _digest(bytes(buf)) != digest:
            del self.uploads[upload_id]
            return _error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        self.blobs[digest] = bytes(buf)
        r.blobs.add(digest)
        del self.uploads[upload_id]
        return Response(201, Headers({"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/blobs/{digest}"}))
