"""Blob downloads as verifying, resuming streams (layer L3).

:class:`BlobReader` is a readable binary stream over ``GET /v2/<name>/blobs/<digest>``. Its bytes
are hashed as they pass, so the caller can extract and store them in one read; a connection that
drops (or stalls past the timeout) is reopened with ``Range: bytes=<offset>-`` after a backoff;
``offset`` starts a download part way (resuming a partial ingest), given the hash of the prefix.
The digest is checked the moment the last byte arrives, before that byte is handed out: a mismatch
raises :class:`~dockernb.errors.VerificationFailed` from that read, so whatever the caller wrote from
this stream must be discarded, never registered. Read to the end (or call :meth:`drain`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dockernb.errors import RegistryAuthRequired, RegistryError, RegistryUnreachable, VerificationFailed
from dockernb.registry.auth import pull_scope
from dockernb.registry.errcode import problem
from dockernb.registry.transport import Response
from dockernb.spec.oci import Descriptor

if TYPE_CHECKING:
    from dockernb.registry.session import Session

__all__ = ["BlobReader", "Hasher", "ProgressFn", "Retry"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int], None]
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Retry:
    """Attempts per failure streak (a streak ends when bytes arrive) and the exponential backoff between them."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, failures: int) -> float:
        return float(min(self.backoff * 2 ** (failures - 1), self.max_backoff))


class BlobReader(io.RawIOBase):
    """A download of one blob; see the module docstring. ``offset`` is how many bytes are delivered so far."""

    def __init__(
        self,
        session: Session,
        path: str,
        descriptor: Descriptor,
        *,
        offset: int = 0,
        hasher: Hasher | None = None,
        progress: ProgressFn | None = None,
        retry: Retry = Retry(),  # noqa: B008 - frozen
        what: str = "filesystem layer",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if not 0 <= offset <= descriptor.size:
            raise ValueError(f"offset {offset} outside blob of {descriptor.size} bytes")
        if offset and hasher is None:
            raise ValueError("resuming at an offset needs the hash of the bytes before it")
        self.session = session
        self.path = path
        self.descriptor = descriptor
        self.offset = offset
        self.size = descriptor.size
        self._hasher: Hasher = hasher if hasher is not None else hashlib.new(descriptor.digest.algorithm)
        self._progress = progress
        self._retry = retry
        self._what = what
        self._sleep = sleep
        self._resp: Response | None = None
        self._failures = 0
        self._opens = 0
        if self.offset == self.size:
            self._verify()

    @property
    def reconnects(self) -> int:
        """How many times the download was reopened after a failure (for tests and logs)."""
        return max(0, self._opens - 1)

    # --- io.RawIOBase ------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed blob stream")
        want = min(len(buffer), self.size - self.offset)
        if want <= 0:
            return 0
        view = memoryview(buffer)[:want]
        while True:
            if self._resp is None:
                self._open()
                continue
            try:
                n = self._resp.readinto(view)
            except OSError as err:
                self._failed(err)
                continue
            if n == 0:
                self._failed(ConnectionResetError("unexpected EOF"))
                continue
            break
        self._failures = 0
        self._hasher.update(view[:n])
        self.offset += n
        if self.offset == self.size:
            self._verify()
        if self._progress is not None:
            self._progress(self.offset)
        return n

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        super().close()

    def drain(self, chunk: int = 1 << 20) -> None:
        """Read (and verify) what the caller did not need, e.g. a gzip trailer after the end of a tar."""
        buf = bytearray(chunk)
        while self.readinto(buf):
            pass

    # --- internals ---------------------------------------------------------------

    @property
    def _url(self) -> str:
        return f"/v2/{self.path}/blobs/{self.descriptor.digest}"

    def _verify(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        if self._hasher.hexdigest() != self.descriptor.digest.hex:
            raise VerificationFailed(f"{self._what} verification failed for digest {self.descriptor.digest}")

    def _failed(self, err: Exception) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        self._failures += 1
        if self._failures >= self._retry.attempts:
            if isinstance(err, RegistryError):
                raise err
            raise RegistryUnreachable(f'Get "{self.session.url(self._url)}": {err}') from err
        delay = self._retry.delay(self._failures)
        log.info("blob %s: %s at byte %d of %d; retrying in %.2fs", self.descriptor.digest.short, err, self.offset,
                 self.size, delay)  # fmt: skip
        self._sleep(delay)

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        self._opens += 1
        try:
            resp = self.session.send("GET", self._url, scopes=(pull_scope(self.path),), headers=headers,
                                     follow_redirects=True)  # fmt: skip
        except RegistryUnreachable as err:
            self._failed(err)
            return
        expected = self.size - self.offset
        if resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range"))
            if m is None or int(m.group(1)) != self.offset:
                resp.close()
                raise RegistryError(
                    f"registry answered range request at {self.offset} with {resp.headers.get('Content-Range')!r}"
                )
        elif resp.status == 200:
            if self.offset:  # Range ignored: skip what we have, unhashed
                expected = self.size
                try:
                    self._skip(resp, self.offset)
                except OSError as err:
                    resp.close()
                    self._failed(err)
                    return
        elif resp.status in (429,) or resp.status >= 500:
            p = problem(resp)
            self._failed(RegistryError(p.text))
            return
        else:
            p = problem(resp)
            cls = RegistryAuthRequired if p.code in ("UNAUTHORIZED", "DENIED") else RegistryError
            raise cls(p.text)
        length = resp.headers.get("Content-Length")
        if length.isdigit() and int(length) != expected:
            resp.close()
            raise VerificationFailed(f"{self._what} verification failed for digest {self.descriptor.digest}")
        self._resp = resp

    def _skip(self, resp: Response, count: int) -> None:
        buf = bytearray(1 << 16)
        while count:
            n = resp.readinto(memoryview(buf)[: min(count, len(buf))])
            if n == 0:
                raise ConnectionResetError("unexpected EOF")
            count -= n
