"""The C supervisor's binary: compiled from ``dockernb-monitor.c`` on first use, cached by hash (L4).

The cache directory is ``$DOCKERNB_MONITOR_CACHE``, else ``/var/cache/dockernb/monitor`` for
root and ``$XDG_CACHE_HOME/dockernb/monitor`` (``~/.cache/...``) for others. The binary's name
carries the hash of the source and the compiler flags, so an upgrade compiles a new one and
running monitors keep theirs. It is compiled to a temporary name and renamed into place, so
two processes compiling at once both end with a whole binary.

Fallback: without a C compiler (``$CC``, ``cc`` or ``gcc``) :func:`supervisor_binary` returns
None and the launcher runs the Python supervisor (``dockernb.monitor.pysupervisor``): the
same protocol and files, at the memory cost of one Python process per container (about
10 MB RSS instead of about 1.5 MB). ``DOCKERNB_MONITOR_SUPERVISOR=python`` forces it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dockernb.errors import ProbeFailed

__all__ = ["CFLAGS", "SOURCE", "cache_dir", "compiler", "supervisor_binary"]

SOURCE = Path(__file__).with_name("dockernb-monitor.c")
CFLAGS = (
    "-O2",
    "-std=gnu99",
    "-Wall",
    "-Wextra",
    "-D_FORTIFY_SOURCE=2",
    "-fstack-protector-strong",
    "-fPIE",
    "-pie",
    "-Wl,-z,relro,-z,now",
)


def cache_dir(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if env.get("DOCKERNB_MONITOR_CACHE"):
        return Path(env["DOCKERNB_MONITOR_CACHE"])
    if uid == 0:
        return Path("/var/cache/dockernb/monitor")
    base = env.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(base) / "dockernb" / "monitor"


def compiler(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    for name in (env.get("CC", ""), "cc", "gcc"):
        if name and shutil.which(name, path=env.get("PATH", os.defpath)):
            return name
    return None


def _check_private(path: Path) -> None:
    """Refuse a directory or binary that someone else could swap (we exec it, maybe as root)."""
    st = path.stat()
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ProbeFailed(
            f"the monitor cache {path} is writable by another user; remove it or set DOCKERNB_MONITOR_CACHE",
            probe="owner and mode of the monitor cache",
        )


def supervisor_binary(env: Mapping[str, str] | None = None) -> Path | None:
    """The compiled supervisor (compiling it if needed), or None when no C compiler is installed.

    Raises ProbeFailed when the compiler fails or the cache is not private to this user.
    """
    env = os.environ if env is None else env
    if env.get("DOCKERNB_MONITOR_SUPERVISOR") == "python":
        return None  # asked for the Python twin (tests of the fallback use this)
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + "\0".join(CFLAGS).encode()).hexdigest()[:16]
    directory = cache_dir(env)
    target = directory / f"dockernb-monitor-{digest}"
    if target.exists():
        _check_private(directory)
        _check_private(target)
        return target
    cc = compiler(env)
    if cc is None:
        return None
    directory.mkdir(parents=True, exist_ok=True, mode=0o755 if os.geteuid() == 0 else 0o700)
    _check_private(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".build-")
    os.close(fd)
    try:
        proc = subprocess.run(
            [cc, *CFLAGS, "-o", tmp, str(SOURCE)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "PATH": env.get("PATH", os.defpath)},
        )
        if proc.returncode != 0:
            raise ProbeFailed(
                f"compiling the monitor failed: {proc.stderr.strip()[-2000:]}", probe=f"{cc} {SOURCE.name}"
            )
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
