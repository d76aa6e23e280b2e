"""Hand-made layer tars for the extractor tests (stdlib tarfile writes whatever we ask)."""

from __future__ import annotations

import gzip
import io
import tarfile

import zstandard


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = int(kw.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644))  # type: ignore[call-overload]
    ti.mtime = int(kw.pop("mtime", 1_000_000_000))  # type: ignore[call-overload]
    for k, v in kw.items():
        setattr(ti, k, v)
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        ti.size = len(data)
    return ti, data


def d(name: str, **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.DIRTYPE, **kw)


def f(name: str, data: bytes = b"x", **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.REGTYPE, data, **kw)


def sym(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.SYMTYPE, linkname=target)


def hard(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.LNKTYPE, linkname=target)


def make(*entries: tuple[tarfile.TarInfo, bytes], compress: str = "none", fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    raw = buf.getvalue()
    if compress == "gzip":
        return gzip.compress(raw)
    if compress == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw
