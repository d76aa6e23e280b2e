"""Pushing: blob existence checks, cross-repository mounts, monolithic and chunked uploads, manifest PUT (L3).

The distribution protocol, on a :class:`~dockernb.registry.session.Session` with push scope:

* ``HEAD /v2/<name>/blobs/<digest>``: 200 means the registry has it (docker skips the upload);
* ``POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>``: 201 mounted, 202 an upload
  session to use instead;
* monolithic: ``POST`` then ``PUT <location>&digest=<digest>`` with the whole body;
* chunked: ``POST``, ``PATCH`` per chunk (``Content-Range: start-end``), then an empty ``PUT``;
* ``PUT /v2/<name>/manifests/<tag or digest>`` with the manifest's media type.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import BinaryIO
from urllib.parse import quote, urljoin

from dockernb.errors import RegistryAuthRequired, RegistryError, RegistryUnreachable, VerificationFailed
from dockernb.registry.auth import pull_scope, push_scope
from dockernb.registry.errcode import problem
from dockernb.registry.session import Session
from dockernb.registry.transport import Response
from dockernb.spec.digest import Digest
from dockernb.spec.oci import Descriptor

__all__ = ["BlobSource", "PushOutcome", "blob_exists", "push_error", "put_manifest", "start_upload", "upload_blob"]

log = logging.getLogger(__name__)

#: the bytes of a blob, or a function opening them afresh (called again if an upload must restart)
BlobSource = bytes | Callable[[], BinaryIO]
ProgressFn = Callable[[int], None]


class PushOutcome(StrEnum):
    EXISTS = "exists"  # docker: "Layer already exists"
    MOUNTED = "mounted"  # docker: "Mounted from <repo>"
    PUSHED = "pushed"  # docker: "Pushed"


def push_error(resp: Response) -> RegistryError | RegistryAuthRequired:
    """A failed push response in docker's words (``denied: requested access to the resource is denied``)."""
    p = problem(resp)
    if p.code in ("DENIED", "UNAUTHORIZED"):
        return RegistryAuthRequired(p.text)
    return RegistryError(p.text)


def blob_exists(session: Session, path: str, digest: Digest) -> bool:
    with session.send("HEAD", f"/v2/{path}/blobs/{digest}", scopes=(push_scope(path),)) as resp:
        if resp.status == 200:
            return True
        if resp.status == 404:
            return False
        raise push_error(resp)


def start_upload(session: Session, path: str, *, mount: tuple[Digest, str] | None = None) -> str | None:
    """Open an upload session; with ``mount=(digest, from_path)`` try a cross-repository mount first.

    Returns the upload location, or None when the blob was mounted.
    """
    scopes: tuple[str, ...] = (push_scope(path),)
    target = f"/v2/{path}/blobs/uploads/"
    if mount is not None:
        digest, source = mount
        scopes += (pull_scope(source),)
        target += f"?mount={quote(str(digest), safe=':')}&from={quote(source, safe='/')}"
    resp = session.send("POST", target, scopes=scopes)
    with resp:
        if resp.status == 201 and mount is not None:
            return None
        if resp.status != 202:
            raise push_error(resp)
        location = resp.headers.get("Location")
    if not location:
        raise RegistryError(f"registry started an upload to {path} without a Location")
    return urljoin(session.url("/"), location)


def _with_query(location: str, key: str, value: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}{key}={quote(value, safe=':')}"


class _Counting:
    """A file wrapper reporting bytes read (http.client reads request bodies through ``read``)."""

    def __init__(self, raw: BinaryIO, progress: ProgressFn | None, start: int = 0) -> None:
        self.raw, self.progress, self.done = raw, progress, start

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.done += len(data)
        if self.progress is not None and data:
            self.progress(self.done)
        return data


def _open_source(source: BlobSource) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    return source()


def upload_blob(
    session: Session,
    path: str,
    location: str,
    descriptor: Descriptor,
    source: BlobSource,
    *,
    chunk_size: int | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Send the blob's bytes to an upload session (one PUT, or PATCHes of ``chunk_size`` then a PUT).

    Raises:
        VerificationFailed: the registry computed another digest than the descriptor's.
        RegistryError / RegistryAuthRequired / RegistryUnreachable: as the registry or network said.
    """
    scopes = (push_scope(path),)
    digest = str(descriptor.digest)
    raw = _open_source(source)
    try:
        counting = _Counting(raw, progress)
        if chunk_size is None:
            resp = session.send("PUT", _with_query(location, "digest", digest), scopes=scopes,
                                headers={"Content-Type": "application/octet-stream"}, body=counting,
                                content_length=descriptor.size)  # fmt: skip
        else:
            offset = 0
            while offset < descriptor.size:
                chunk = counting.read(min(chunk_size, descriptor.size - offset))
                if not chunk:
                    raise RegistryError(f"blob {descriptor.digest}: source ended at {offset} of {descriptor.size}")
                headers = {"Content-Type": "application/octet-stream",
                           "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}  # fmt: skip
                with session.send("PATCH", location, scopes=scopes, headers=headers, body=chunk) as patched:
                    if patched.status != 202:
                        raise push_error(patched)
                    location = urljoin(location, patched.headers.get("Location") or location)
                offset += len(chunk)
            resp = session.send("PUT", _with_query(location, "digest", digest), scopes=scopes)
    finally:
        raw.close()
    with resp:
        if resp.status not in (201, 204):
            raise push_error(resp)
        answered = resp.headers.get("Docker-Content-Digest")
    if answered and answered != digest:
        raise VerificationFailed(f"registry stored {path} blob as {answered}, not {digest}")


def cancel_upload(session: Session, path: str, location: str) -> None:
    """Best effort: abandon an upload session (so the registry can drop its partial data)."""
    try:
        session.send("DELETE", location, scopes=(push_scope(path),)).close()
    except (RegistryError, RegistryAuthRequired, RegistryUnreachable) as err:
        log.debug("cancelling upload %s: %s", location, err)


def put_manifest(session: Session, path: str, reference: str, media_type: str, data: bytes) -> Digest:
    """PUT a manifest or index under a tag (or its digest); returns its digest, checked against the registry's."""
    digest = Digest.of(data)
    with session.send("PUT", f"/v2/{path}/manifests/{reference}", scopes=(push_scope(path),),
                      headers={"Content-Type": media_type}, body=data) as resp:  # fmt: skip
        if resp.status not in (200, 201, 202):
            raise push_error(resp)
        answered = resp.headers.get("Docker-Content-Digest")
    if answered and answered != str(digest):
        raise VerificationFailed(f"manifest verification failed for digest {digest} (registry says {answered})")
    return digest
