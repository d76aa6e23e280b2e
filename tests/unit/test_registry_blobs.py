"""Blob streams: hashing while reading, resume with Range, retries with backoff, digest mismatches."""

from __future__ import annotations

import hashlib

import pytest

from dockernb.errors import RegistryError, RegistryUnreachable, VerificationFailed
from dockernb.registry import RegistryClient, Retry
from dockernb.registry.client import Source
from dockernb.registry.endpoints import lookup_endpoints
from dockernb.spec.digest import Digest
from dockernb.spec.oci import Descriptor, MediaType
from dockernb.spec.reference import parse_reference
from dockernb.testing.registry import BlobFault, MemoryRegistry
from tests.unit.registry_fakes import client, config, layer

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged

DATA = layer(7, 400_000)


def setup(fault: BlobFault | None = None, **kw: object) -> tuple[MemoryRegistry, RegistryClient, Source, Descriptor]:
    reg = MemoryRegistry(**kw)  # type: ignore[arg-type]
    digest = reg.add_blob("library/app", DATA)
    if fault is not None:
        reg.faults[digest] = [fault]
    c = client(reg)
    ref = parse_reference("registry.test/library/app")
    source = Source(lookup_endpoints(ref.domain, c.config)[0], ref)
    return reg, c, source, Descriptor(MediaType.OCI_LAYER_GZIP, Digest.parse(digest), len(DATA))


def read_all(reader: object, chunk: int = 65536) -> bytes:
    out = bytearray()
    while data := reader.read(chunk):  # type: ignore[attr-defined]
        out += data
    return bytes(out)


def test_streams_and_reports_progress() -> None:
    reg, c, source, desc = setup()
    seen: list[int] = []
    with c.open_blob(source, desc, progress=seen.append) as reader:
        assert read_all(reader, 10_000) == DATA
        assert reader.reconnects == 0 and reader.offset == len(DATA)
        assert reader.read(10) == b""
    assert seen == sorted(seen) and seen[-1] == len(DATA) and len(seen) >= len(DATA) // 10_000


def test_dropped_connection_resumes_with_range() -> None:
    reg, c, source, desc = setup(BlobFault(drop_at=150_000, times=2))
    with c.open_blob(source, desc) as reader:
        assert read_all(reader) == DATA
        assert reader.reconnects == 2
    gets = [e for e in reg.log if e.method == "GET" and "/blobs/" in e.path]
    assert "Range" not in gets[0].headers
    assert gets[1].headers["Range"] == "bytes=150000-"
    assert gets[2].headers["Range"] == "bytes=300000-"


def test_resume_when_the_server_ignores_range() -> None:
    reg, c, source, desc = setup(BlobFault(drop_at=100_000))
    reg.faults[str(desc.digest)].append(BlobFault(ignore_range=True))
    with c.open_blob(source, desc) as reader:
        assert read_all(reader) == DATA and reader.reconnects == 1


def test_garbled_bytes_raise_at_the_last_read() -> None:
    reg, c, source, desc = setup(BlobFault(garble=True))
    with c.open_blob(source, desc) as reader:
        got = bytearray()
        with pytest.raises(VerificationFailed) as info:
            while data := reader.read(65536):
                got += data
        assert len(got) < len(DATA)  # the failing read handed nothing out
    assert str(info.value) == f"filesystem layer verification failed for digest {desc.digest}"


def test_a_blob_of_the_wrong_size_is_rejected() -> None:
    reg, c, source, desc = setup()
    short = Descriptor(desc.media_type, desc.digest, desc.size - 1)
    with pytest.raises(VerificationFailed), c.open_blob(source, short) as reader:
        read_all(reader)


def test_starting_at_an_offset_needs_the_prefix_hash() -> None:
    reg, c, source, desc = setup()
    with pytest.raises(ValueError, match="needs the hash"):
        c.open_blob(source, desc, offset=10)
    hasher = hashlib.sha256(DATA[:123_456])
    with c.open_blob(source, desc, offset=123_456, hasher=hasher) as reader:
        assert read_all(reader) == DATA[123_456:]
    assert reg.log[-1].headers["Range"] == "bytes=123456-"
    wrong = hashlib.sha256(b"not the prefix")
    with pytest.raises(VerificationFailed), c.open_blob(source, desc, offset=123_456, hasher=wrong) as reader:
        read_all(reader)
    complete = hashlib.sha256(DATA)
    with c.open_blob(source, desc, offset=len(DATA), hasher=complete) as reader:
        assert reader.read() == b""


def test_retries_with_backoff_then_gives_up() -> None:
    reg, _, source, desc = setup(BlobFault(status=503, times=2))
    sleeps: list[float] = []
    c = RegistryClient(config(), transport=reg.transport(), retry=Retry(attempts=3, backoff=0.25))
    with c.open_blob(source, desc) as reader:
        reader._sleep = sleeps.append  # type: ignore[attr-defined]
        assert read_all(reader) == DATA
    assert sleeps == [0.25, 0.5]
    reg.faults[str(desc.digest)] = [BlobFault(drop_at=0, times=10)]  # no progress at all
    c = RegistryClient(config(), transport=reg.transport(), retry=Retry(attempts=3, backoff=0.0))
    with pytest.raises(RegistryUnreachable) as info, c.open_blob(source, desc) as reader:
        read_all(reader)
    assert "unexpected EOF" in str(info.value) and str(desc.digest) in str(info.value)


def test_unknown_blob() -> None:
    reg, c, source, desc = setup()
    missing = Descriptor(desc.media_type, Digest.of(b"nothing"), 7)
    with pytest.raises(RegistryError) as info, c.open_blob(source, missing) as reader:
        reader.read()
    assert str(info.value) == "blob unknown: blob unknown to registry"


def test_fetch_blob_and_token_refresh_mid_download() -> None:
    now = [0.0]
    reg, c, source, desc = setup(BlobFault(drop_at=200_000), auth="bearer", clock=lambda: now[0], token_lifetime=60)
    c.tokens.clock = lambda: now[0]
    reader = c.open_blob(source, desc)
    assert len(reader.read(100_000)) == 100_000
    now[0] += 3600  # the token expires while we download; the resume fetches a new one
    assert reader.read(100_000) and read_all(reader) and reader.offset == len(DATA)
    reader.close()
    assert len(reg.token_requests) == 2
    assert c.fetch_blob(source, desc, limit=1 << 20) == DATA
