"""The local content store: verified commits, resumable ingests, read-only extra stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dockernb.content.local import LocalContentStore
from dockernb.errors import DigestMismatch, IngestLocked, NoSuchContent, NotFound
from dockernb.spec.digest import Digest
from dockernb.store.layout import Layout

pytestmark = pytest.mark.rootless

DATA = os.urandom(3 << 20)


def store(root: Path, **kw: object) -> LocalContentStore:
    layout = Layout(root)
    layout.ensure()
    return LocalContentStore(layout, **kw)  # type: ignore[arg-type]


def read(s: LocalContentStore, d: Digest) -> bytes:
    with s.open_reader(d) as f:
        return f.read()


def test_commit_verifies_and_reads_back(tmp_path: Path) -> None:
    s = store(tmp_path)
    d = Digest.of(DATA)
    with s.writer("layer-1", expected=d, size=len(DATA)) as w:
        for i in range(0, len(DATA), 100_000):
            w.write(DATA[i : i + 100_000])
        assert w.offset == len(DATA)
        assert w.commit() == d
    assert s.info(d).size == len(DATA)
    with s.open_reader(d) as f:
        assert f.read() == DATA
    assert [i.digest for i in s.walk()] == [d]
    assert os.listdir(s.layout.ingest) == []
    assert s.list_statuses() == []


def test_digest_mismatch_registers_nothing(tmp_path: Path) -> None:
    s = store(tmp_path)
    wrong = Digest.of(b"something else")
    w = s.writer("layer-x", expected=wrong, size=len(DATA))
    w.write(DATA)
    with pytest.raises(DigestMismatch, match="unexpected commit digest"):
        w.commit()
    with pytest.raises(NoSuchContent):
        s.info(wrong)
    with pytest.raises(NoSuchContent):
        s.info(Digest.of(DATA))
    assert list(s.walk()) == []
    assert os.listdir(s.layout.ingest) == []


def test_size_mismatch_registers_nothing(tmp_path: Path) -> None:
    s = store(tmp_path)
    d = Digest.of(DATA)
    w = s.writer("short", expected=d, size=len(DATA))
    w.write(DATA[:10])
    with pytest.raises(DigestMismatch, match="unexpected commit size 10, expected"):
        w.commit()
    assert list(s.walk()) == []


def test_one_writer_per_ref_and_abort(tmp_path: Path) -> None:
    s = store(tmp_path)
    w = s.writer("ref-a")
    w.write(b"abc")
    with pytest.raises(IngestLocked, match="ref ref-a locked"):
        s.writer("ref-a")
    with pytest.raises(IngestLocked):
        s.abort("ref-a")
    w.close()
    assert s.status("ref-a").offset == 3
    s.abort("ref-a")
    with pytest.raises(NotFound):
        s.status("ref-a")
    with pytest.raises(NotFound):
        s.abort("ref-a")


def test_resume_after_kill_9(tmp_path: Path) -> None:
    """A writer killed mid-blob leaves its bytes; the next writer resumes at that offset."""
    s = store(tmp_path)
    d = Digest.of(DATA)
    blob = tmp_path / "src"
    blob.write_bytes(DATA)
    half = len(DATA) // 2
    code = f"""
import os, signal
from pathlib import Path
from dockernb.content.local import LocalContentStore
from dockernb.spec.digest import Digest
from dockernb.store.layout import Layout
s = LocalContentStore(Layout(Path({str(tmp_path)!r})))
w = s.writer("layer-k", expected=Digest.parse({str(d)!r}), size={len(DATA)})
w.write(Path({str(blob)!r}).read_bytes()[:{half}])
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -signal.SIGKILL
    assert s.status("layer-k").offset == half
    with s.writer("layer-k", expected=d, size=len(DATA)) as w:
        assert w.offset == half
        w.write(DATA[w.offset :])
        assert w.commit() == d
    assert read(s, d) == DATA


def test_a_different_expected_digest_restarts_the_ingest(tmp_path: Path) -> None:
    s = store(tmp_path)
    w = s.writer("r", expected=Digest.of(b"one"))
    w.write(b"on")
    w.close()
    w = s.writer("r", expected=Digest.of(b"two"))
    assert w.offset == 0
    w.write(b"two")
    assert w.commit() == Digest.of(b"two")


def test_commit_of_existing_blob_is_a_no_op(tmp_path: Path) -> None:
    s = store(tmp_path)
    d = s.put(b"config")
    assert s.put(b"config") == d
    with s.writer("again") as w:
        w.write(b"config")
        assert w.commit() == d
    assert [i.digest for i in s.walk()] == [d]
    with pytest.raises(DigestMismatch):
        s.put(b"other", expected=d)


def test_extra_stores_serve_reads_only(tmp_path: Path) -> None:
    shared = store(tmp_path / "shared")
    d = shared.put(b"shared layer")
    mine = store(tmp_path / "mine", extra_stores=[tmp_path / "shared"])
    assert mine.info(d).read_only
    assert read(mine, d) == b"shared layer"
    assert list(mine.walk()) == []
    with pytest.raises(NoSuchContent):
        mine.delete(d)
    assert shared.info(d).size == len(b"shared layer")
    mine.delete(mine.put(b"own"))
    with pytest.raises(NoSuchContent, match="content digest sha256:.*: not found"):
        read(mine, Digest.of(b"own"))


def test_from_config_reads_the_extra_stores(tmp_path: Path) -> None:
    from dockernb.config import load_config

    shared = store(tmp_path / "shared")
    d = shared.put(b"blob")
    env = {"DOCKERNB_ROOT": str(tmp_path / "mine"), "DOCKERNB_IMAGE_STORES": str(tmp_path / "shared"),
           "DOCKERNB_CONFIG": str(tmp_path / "none.json"), "DOCKERNB_STORAGE_DRIVER": "native"}
    config = load_config(env)
    assert config.storage_driver == "native"
    mine = LocalContentStore.from_config(config)
    assert read(mine, d) == b"blob"
