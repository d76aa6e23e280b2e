from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from dockernb.store.atomic import read_json, write_json
from dockernb.store.layout import Layout
from dockernb.store.locks import FileLock, LockTimeout


def test_atomic_json_roundtrip_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert read_json(target) == {"a": 2}
    assert os.listdir(tmp_path) == ["state.json"]
    assert (target.stat().st_mode & 0o777) == 0o600


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"a": object()})
    assert read_json(target) == {"a": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def _hold(path: str, seconds: float) -> None:
    with FileLock(Path(path)):
        time.sleep(seconds)


def test_lock_excludes_other_processes_and_dies_with_holder(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    p = multiprocessing.get_context("fork").Process(target=_hold, args=(str(lock), 30))
    p.start()
    try:
        for _ in range(200):
            try:
                with FileLock(lock, timeout=0):
                    time.sleep(0.01)
            except LockTimeout:
                break
        else:
            pytest.fail("the child never took the lock")
        with pytest.raises(LockTimeout):
            FileLock(lock, timeout=0.05).acquire()
    finally:
        p.kill()  # SIGKILL: the kernel drops the flock with the process
        p.join()
    with FileLock(lock, timeout=1):
        pass


def test_layout_paths(tmp_path: Path) -> None:
    lay = Layout(tmp_path / "root")
    lay.ensure()
    assert lay.blobs == tmp_path / "root/content/blobs"
    assert lay.container("abc") == tmp_path / "root/containers/abc"
    assert lay.lock("images").parent.is_dir()
