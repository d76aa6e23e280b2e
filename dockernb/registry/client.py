"""RegistryClient: what the pull/push orchestration and ``login`` call (layer L3).

One client per engine: it keeps pinged sessions, Bearer tokens and idle connections, and is safe
to use from several threads at once (parallel layer downloads).

Pull: :meth:`RegistryClient.resolve` turns a reference into a :class:`Resolved` (the manifest for
the platform, its config, and the :class:`Source` endpoint that served them), trying docker.io's
mirrors before Docker Hub; :meth:`RegistryClient.open_blob` then streams each layer from that same
source. :meth:`RegistryClient.head` is the cheap "is my copy up to date" question.
Push: :meth:`~RegistryClient.push_blob` (HEAD to skip, mount, upload) and
:meth:`~RegistryClient.put_manifest`. Login: :meth:`~RegistryClient.login` checks the credentials
against ``/v2/`` (and the token server) and saves them; :meth:`~RegistryClient.logout` forgets them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dockernb.config import Config, default_credentials_file
from dockernb.errors import (
    DockernbError,
    InvalidManifest,
    ManifestUnknown,
    NotFound,
    RegistryAuthRequired,
    RegistryError,
    RegistryUnreachable,
    VerificationFailed,
)
from dockernb.registry.auth import TokenCache, pull_scope
from dockernb.registry.blobs import BlobReader, Hasher, ProgressFn, Retry
from dockernb.registry.credentials import AuthConfig, CredentialStore, DockerConfigFile, MemoryCredentials
from dockernb.registry.endpoints import Endpoint, lookup_endpoints
from dockernb.registry.errcode import Problem, problem
from dockernb.registry.login import LoginResult, LogoutResult, login, logout
from dockernb.registry.session import Session
from dockernb.registry.transport import HTTPTransport, Response, Transport
from dockernb.registry.upload import (
    BlobSource,
    PushOutcome,
    blob_exists,
    cancel_upload,
    push_error,
    start_upload,
    upload_blob,
)
from dockernb.registry.upload import put_manifest as _put_manifest
from dockernb.spec.digest import Digest
from dockernb.spec.oci import (
    CONFIG_TYPES,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    MediaType,
    Platform,
    parse_document,
    parse_image_config,
    select_manifest,
)
from dockernb.spec.reference import Reference

__all__ = ["MANIFEST_ACCEPT", "RegistryClient", "Resolved", "Source"]

log = logging.getLogger(__name__)

#: every manifest type we can pull, as docker 20.10 asks for them
MANIFEST_ACCEPT = ", ".join(
    (MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_MANIFEST, MediaType.OCI_INDEX)
)
MANIFEST_LIMIT = 4 << 20  # docker's maxManifestBodySize
CONFIG_LIMIT = 8 << 20
#: how long an endpoint that failed its ping is skipped (an insecure host's https, typically)
DEAD_ENDPOINT_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Source:
    """Where an image was resolved: the endpoint (a mirror or the registry) and the repository in it."""

    endpoint: Endpoint
    ref: Reference

    @property
    def path(self) -> str:
        return self.ref.path


@dataclass(frozen=True, slots=True)
class Resolved:
    """A reference resolved for one platform.

    ``descriptor`` is what the tag points to (an index or a manifest): its digest is the repo digest
    docker shows (``busybox@sha256:...``). ``manifest_descriptor``/``manifest`` are the platform's
    image; ``config`` its parsed config, whose digest is the image ID.
    """

    source: Source
    descriptor: Descriptor
    index: Index | None
    index_bytes: bytes | None
    manifest_descriptor: Descriptor
    manifest: Manifest
    manifest_bytes: bytes
    config: ImageConfig
    config_bytes: bytes


def pull_error(p: Problem, ref: Reference) -> DockernbError:
    """docker's TranslatePullError, in its words."""
    if p.code == "DENIED":
        return RegistryAuthRequired(
            f"pull access denied for {ref.familiar_name}, repository does not exist or may require 'docker login': "
            f"{p.text}"
        )
    if p.code == "MANIFEST_UNKNOWN":
        return ManifestUnknown(ref.familiar, p.message)
    if p.code == "NAME_UNKNOWN":
        return NotFound(f"repository {ref.familiar_name} not found: {p.text}")
    if p.code == "UNAUTHORIZED":
        return RegistryAuthRequired(p.text)
    return RegistryError(p.text)


class RegistryClient:
    """The distribution client (see the module docstring).

    ``credentials`` looks logins up by registry host (Docker Hub: ``https://index.docker.io/v1/``);
    ``transport`` is the HTTP seam (a fake in unit tests); ``retry`` paces blob download retries.
    """

    def __init__(
        self,
        config: Config,
        credentials: CredentialStore | None = None,
        *,
        transport: Transport | None = None,
        retry: Retry = Retry(),  # noqa: B008 - frozen
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.credentials: CredentialStore = credentials if credentials is not None else MemoryCredentials()
        self.transport: Transport = transport if transport is not None else HTTPTransport()
        self.retry = retry
        self.timeout = timeout
        self.clock = clock
        self.tokens = TokenCache(clock)
        self._sessions: dict[tuple[Endpoint, AuthConfig | None], Session] = {}
        self._dead: dict[Endpoint, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, **kw: object) -> RegistryClient:
        """The engine's client: logins from docker's config.json (``config.credentials_file``)."""
        path = config.credentials_file or default_credentials_file()
        return cls(config, DockerConfigFile(path), **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if callable(close):
            close()

    # --- sessions and endpoint fallback ---------------------------------------------

    def _auth(self, endpoint: Endpoint) -> AuthConfig | None:
        key = "https://index.docker.io/v1/" if endpoint.host == "docker.io" else endpoint.host
        return self.credentials.get(key)

    def session(self, endpoint: Endpoint) -> Session:
        """A pinged session for the endpoint (cached).

        Raises:
            RegistryUnreachable: the ping failed.
        """
        auth = self._auth(endpoint)
        with self._lock:
            cached = self._sessions.get((endpoint, auth))
        if cached is not None:
            return cached
        session = Session(self.transport, endpoint, auth, self.tokens, timeout=self.timeout)
        session.ping()
        with self._lock:
            self._sessions[(endpoint, auth)] = session
        return session

    def _on_endpoints(self, domain: str, action: Callable[[Session], T], *, push: bool = False) -> T:
        """Run ``action`` on the first endpoint that answers, falling through as docker does.

        An endpoint whose ping fails is skipped; an error from a mirror falls back to the next
        endpoint. When the last one is unreachable, the first error a reachable endpoint gave is
        reported instead (docker would report the unreachable upstream: useless offline).
        """
        endpoints = lookup_endpoints(domain, self.config, push=push)
        last: DockernbError | None = None
        answered: DockernbError | None = None
        for i, endpoint in enumerate(endpoints):
            final = i == len(endpoints) - 1
            dead = self._dead.get(endpoint)
            if dead is not None and self.clock() - dead < DEAD_ENDPOINT_SECONDS and not final:
                continue
            try:
                session = self.session(endpoint)
            except RegistryUnreachable as err:
                self._dead[endpoint] = self.clock()
                log.debug("endpoint %s: %s", endpoint.url, err)
                last = err
                continue
            self._dead.pop(endpoint, None)
            try:
                return action(session)
            except DockernbError as err:
                if isinstance(err, RegistryUnreachable):  # ping again next time
                    with self._lock:
                        self._sessions.pop((endpoint, session.auth), None)
                    if answered is not None:
                        raise answered from err
                if not endpoint.mirror or final:
                    raise
                log.info("mirror %s: %s; trying the next endpoint", endpoint.url, err)
                last = err
                if answered is None and not isinstance(err, RegistryUnreachable):
                    answered = err
        if isinstance(last, RegistryUnreachable) and answered is not None:
            raise answered
        assert last is not None
        raise last

    # --- pull ---------------------------------------------------------------------

    def _manifest_request(self, session: Session, ref: Reference, reference: str, method: str) -> Response:
        resp = session.send(method, f"/v2/{ref.path}/manifests/{reference}", scopes=(pull_scope(ref.path),),
                            headers={"Accept": MANIFEST_ACCEPT})  # fmt: skip
        if resp.status == 200:
            return resp
        if method == "HEAD":  # no body to explain the failure: ask again with GET, as docker does
            return self._manifest_request(session, ref, reference, "GET")
        raise pull_error(problem(resp), ref)

    def _fetch_manifest(self, session: Session, ref: Reference, reference: str) -> tuple[Descriptor, bytes]:
        """GET a manifest or index; its digest is checked against the one asked for, or the registry's header."""
        resp = self._manifest_request(session, ref, reference, "GET")
        try:
            data = resp.read(limit=MANIFEST_LIMIT)
        except ValueError:
            raise InvalidManifest(f"manifest for {ref.familiar} is larger than {MANIFEST_LIMIT} bytes") from None
        except OSError as err:
            raise RegistryUnreachable(f'Get "{session.url(f"/v2/{ref.path}/manifests/{reference}")}": {err}') from err
        expected = reference if reference.startswith("sha") and ":" in reference else resp.headers.get(
            "Docker-Content-Digest")  # fmt: skip
        algorithm = expected.split(":", 1)[0] if expected else "sha256"
        if algorithm not in ("sha256", "sha384", "sha512"):
            algorithm = "sha256"
        digest = Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
        if expected and str(digest) != expected:
            raise VerificationFailed(f"manifest verification failed for digest {expected}")
        media_type = resp.headers.get("Content-Type").split(";", 1)[0].strip()
        return Descriptor(media_type, digest, len(data)), data

    def _head_on(self, session: Session, ref: Reference) -> tuple[Descriptor, bytes | None]:
        """HEAD the tag (docker does, first); GET it when the registry's answer lacks the digest."""
        with self._manifest_request(session, ref, ref.reference, "HEAD") as resp:
            digest = resp.headers.get("Docker-Content-Digest")
            length = resp.headers.get("Content-Length")
            media_type = resp.headers.get("Content-Type").split(";", 1)[0].strip()
        if digest and length.isdigit():
            try:
                return Descriptor(media_type, Digest.parse(digest), int(length)), None
            except DockernbError:
                pass
        return self._fetch_manifest(session, ref, ref.reference)

    def head(self, ref: Reference) -> Descriptor:
        """What the reference points to now (``HEAD`` of the manifest): digest, media type, size.

        Raises:
            ManifestUnknown, RegistryAuthRequired, RegistryUnreachable, RegistryError: as for resolve.
        """
        ref = ref.with_default_tag()
        return self._on_endpoints(ref.domain, lambda session: self._head_on(session, ref)[0])

    def resolve(self, ref: Reference, platform: Platform | None = None) -> Resolved:
        """Fetch and verify what ``ref`` names for ``platform`` (the host's by default).

        Raises:
            ManifestUnknown: unknown repository or tag (``manifest for X not found: ...``).
            RegistryAuthRequired: ``pull access denied for X, ...``, missing or wrong credentials.
            NoMatchingPlatform: an index without the platform.
            InvalidManifest: malformed documents, schema 1, unsupported media or config types.
            VerificationFailed: a document that does not hash to its digest.
            RegistryUnreachable: the registry (and every mirror) is down or speaks no HTTP we know.
        """
        ref = ref.with_default_tag()
        wanted = platform or Platform.host()
        return self._on_endpoints(ref.domain, lambda session: self._resolve_on(session, ref, wanted))

    def _resolve_on(self, session: Session, ref: Reference, wanted: Platform) -> Resolved:
        data: bytes | None = None
        if ref.digest is None:
            top, data = self._head_on(session, ref)
            reference = str(top.digest)
        else:
            reference = str(ref.digest)
        if data is None:
            top, data = self._fetch_manifest(session, ref, reference)
        top_bytes = data
        document = parse_document(top_bytes, top.media_type)
        top = Descriptor(document.media_type, top.digest, top.size)
        index: Index | None = None
        if isinstance(document, Index):
            index = document
            chosen = select_manifest(document, wanted)
            child, manifest_bytes = self._fetch_manifest(session, ref, str(chosen.digest))
            document = parse_document(manifest_bytes, child.media_type or chosen.media_type)
            if isinstance(document, Index):
                raise InvalidManifest(f"manifest list entry {chosen.digest} for {wanted} is itself a manifest list")
            manifest_descriptor = Descriptor(document.media_type, chosen.digest, child.size, platform=chosen.platform)
        else:
            manifest_descriptor, manifest_bytes = top, top_bytes
        manifest = document
        if manifest.config.media_type not in CONFIG_TYPES:
            raise InvalidManifest(f'Encountered remote "{manifest.config.media_type}"(unknown) when fetching')
        source = Source(session.endpoint, ref)
        config_bytes = self._read_blob(session, source, manifest.config, limit=CONFIG_LIMIT, what="image config")
        config = parse_image_config(config_bytes)
        if len(config.diff_ids) != len(manifest.layers):
            raise InvalidManifest("layers from manifest don't match image configuration")
        return Resolved(source, top, index, top_bytes if index is not None else None, manifest_descriptor, manifest,
                        manifest_bytes, config, config_bytes)  # fmt: skip

    def _read_blob(self, session: Session, source: Source, desc: Descriptor, *, limit: int, what: str) -> bytes:
        if desc.size > limit:
            raise InvalidManifest(f"{what} {desc.digest} is larger than {limit} bytes")
        with BlobReader(session, source.path, desc, retry=self.retry, what=what) as reader:
            return reader.read()

    def fetch_blob(self, source: Source, descriptor: Descriptor, *, limit: int = CONFIG_LIMIT) -> bytes:
        """A small blob (a config), whole and verified."""
        return self._read_blob(self.session(source.endpoint), source, descriptor, limit=limit, what="blob")

    def open_blob(
        self,
        source: Source,
        descriptor: Descriptor,
        *,
        offset: int = 0,
        hasher: Hasher | None = None,
        progress: ProgressFn | None = None,
    ) -> BlobReader:
        """Stream a layer from where it was resolved: verified as it passes, resumed when the connection drops.

        ``offset``/``hasher`` resume a partial download: ``hasher`` must already hold the first
        ``offset`` bytes. ``progress(bytes_so_far)`` is called after every chunk. Close the reader.
        """
        return BlobReader(self.session(source.endpoint), source.path, descriptor, offset=offset, hasher=hasher,
                          progress=progress, retry=self.retry)  # fmt: skip

    def list_tags(self, ref: Reference) -> list[str]:
        """The repository's tags (``GET /v2/<name>/tags/list``, following ``Link: <...>; rel="next"`` pages).

        Raises:
            ManifestUnknown, RegistryAuthRequired, RegistryUnreachable, RegistryError: as for resolve.
        """

        def action(session: Session) -> list[str]:
            tags: list[str] = []
            path: str | None = f"/v2/{ref.path}/tags/list"
            while path:
                with session.send("GET", path, scopes=(pull_scope(ref.path),)) as resp:
                    if resp.status != 200:
                        raise pull_error(problem(resp), ref.with_default_tag())
                    try:
                        doc = json.loads(resp.read(limit=MANIFEST_LIMIT))
                    except ValueError as err:
                        raise RegistryError(f"invalid tags list for {ref.familiar_name}: {err}") from None
                    link = resp.headers.get("Link")
                found = doc.get("tags") if isinstance(doc, dict) else None
                tags += [t for t in (found or []) if isinstance(t, str)]
                nxt = re.match(r'^\s*<([^>]+)>\s*;\s*rel="?next"?', link) if link else None
                path = nxt.group(1) if nxt else None
            return tags

        return self._on_endpoints(ref.domain, action)

    # --- push ---------------------------------------------------------------------

    def _push(self, target: Reference, action: Callable[[Session], T]) -> T:
        return self._on_endpoints(target.domain, action, push=True)

    def blob_exists(self, target: Reference, digest: Digest) -> bool:
        """Does the target repository have this blob already (``HEAD``)?"""
        return self._push(target, lambda s: blob_exists(s, target.path, digest))

    def mount_blob(self, target: Reference, descriptor: Descriptor, from_ref: Reference) -> bool:
        """Cross-repository mount on the same registry; False (and nothing left open) when refused."""
        if from_ref.domain != target.domain:
            return False

        def action(session: Session) -> bool:
            location = start_upload(session, target.path, mount=(descriptor.digest, from_ref.path))
            if location is None:
                return True
            cancel_upload(session, target.path, location)
            return False

        return self._push(target, action)

    def push_blob(
        self,
        target: Reference,
        descriptor: Descriptor,
        source: BlobSource,
        *,
        mount_from: Reference | None = None,
        chunk_size: int | None = None,
        progress: ProgressFn | None = None,
        check_exists: bool = True,
    ) -> PushOutcome:
        """Make the blob exist in ``target``'s repository: skip it if there (HEAD), mount it from
        ``mount_from`` on the same registry, else upload it (one PUT, or PATCHes of ``chunk_size``).

        Raises:
            RegistryAuthRequired: ``denied: requested access to the resource is denied`` and kin.
            VerificationFailed: the registry stored other bytes than the descriptor names.
            RegistryError, RegistryUnreachable: as the registry or the network said.
        """

        def action(session: Session) -> PushOutcome:
            if check_exists and blob_exists(session, target.path, descriptor.digest):
                return PushOutcome.EXISTS
            mount = None
            if mount_from is not None and mount_from.domain == target.domain and mount_from.path != target.path:
                mount = (descriptor.digest, mount_from.path)
            location = start_upload(session, target.path, mount=mount)
            if location is None:
                return PushOutcome.MOUNTED
            try:
                upload_blob(session, target.path, location, descriptor, source, chunk_size=chunk_size,
                            progress=progress)  # fmt: skip
            except BaseException:
                cancel_upload(session, target.path, location)
                raise
            return PushOutcome.PUSHED

        return self._push(target, action)

    def put_manifest(self, target: Reference, data: bytes, media_type: str) -> Digest:
        """PUT a manifest (or index) under the target's tag, or its digest when it has none."""
        reference = target.tag or str(Digest.of(data))
        return self._push(target, lambda s: _put_manifest(s, target.path, reference, media_type, data))

    def delete_manifest(self, target: Reference, digest: Digest) -> None:
        """DELETE a manifest by digest (registries with deletion enabled; used to clean up tests)."""

        def action(session: Session) -> None:
            path = f"/v2/{target.path}/manifests/{digest}"
            with session.send("DELETE", path, scopes=(f"repository:{target.path}:delete",)) as resp:
                if resp.status not in (200, 202, 404):
                    raise push_error(resp)

        self._push(target, action)

    # --- login --------------------------------------------------------------------

    def login(self, server: str, username: str, password: str) -> LoginResult:
        """Check the credentials against the registry (``/v2/`` and its token server), then save them.

        Like the daemon side of ``docker login``; ``server`` as the user typed it (empty: Docker Hub).

        Raises:
            RegistryAuthRequired: ``Get "http://.../v2/": unauthorized: incorrect username or password``,
                ``login attempt to http://.../v2/ failed with status: 401 Unauthorized``.
            RegistryUnreachable: ``Get "https://.../v2/": dial tcp ...: connect: connection refused``.
        """
        return login(self.transport, self.config, self.credentials, self.tokens, server, username, password,
                     timeout=self.timeout)  # fmt: skip

    def logout(self, server: str) -> LogoutResult:
        """Forget the login for ``server`` (docker prints ``Removing login credentials for <server>``)."""
        return logout(self.credentials, server)
