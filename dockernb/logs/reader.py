"""Reading a json-file log like ``docker logs``: --tail from the end, --since/--until, -f (layer L2).

The files are read oldest first across rotation (``<log>.N`` ... ``<log>.1``, ``<log>``).
``--tail N`` seeks from the end, reading backwards in blocks, so its cost does not grow with
the log. Time filters apply after the tail, as in docker. ``follow`` keeps reading as the
monitor appends (inotify on the container directory, with a short poll as a safety net),
survives rotation (the old file is drained before the new one is opened) and truncation
(``max-file=1``), and ends when ``done()`` says the container stopped (the monitor writes its
exit record only after the last log line) or when ``until`` has passed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from dockernb.linux.inotify import IN_CLOSE_WRITE, IN_CREATE, IN_MODIFY, IN_MOVED_TO, Inotify
from dockernb.logs.jsonfile import decode_block, parse_time
from dockernb.spec.logline import LogLine

__all__ = ["log_files", "read_logs", "tail_offsets"]

_BLOCK = 64 * 1024
_READ = 1 << 20


def log_files(path: Path) -> list[Path]:
    """The log's files, oldest first: ``path.N`` ... ``path.1``, then ``path`` (those that exist)."""
    rotated: list[tuple[int, Path]] = []
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)$")
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    for name in names:
        m = pattern.match(name)
        if m:
            rotated.append((int(m.group(1)), path.parent / name))
    files = [p for _, p in sorted(rotated, reverse=True)]
    if path.exists():
        files.append(path)
    return files


def _count_back(fd: int, size: int, want: int) -> tuple[int, int]:
    """Offset where the last ``want`` lines of a file of ``size`` bytes start, and how many it found."""
    found, pos = 0, size
    # a file ends with "\n"; the newline before the last `want` lines is the (want+1)-th from the end
    skip_last = True
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = os.pread(fd, pos - start, start)
        end = len(block)
        while True:
            nl = block.rfind(b"\n", 0, end)
            if nl < 0:
                break
            if skip_last and start + nl == size - 1:
                skip_last = False
            else:
                found += 1
                if found == want:
                    return start + nl + 1, found
            end = nl
        skip_last = False
        pos = start
    # reached the file's start: the first line counts too (if the file is not empty)
    if size > 0:
        found += 1
    return 0, min(found, want)


def tail_offsets(files: list[Path], tail: int) -> list[tuple[Path, int]]:
    """Where to start reading each file so that exactly the last ``tail`` lines are read."""
    if tail < 0:
        return [(p, 0) for p in files]
    out: list[tuple[Path, int]] = []
    left = tail
    for path in reversed(files):
        if left <= 0:
            break
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                continue
            offset, found = _count_back(fd, size, left)
        finally:
            os.close(fd)
        out.append((path, offset))
        left -= found
    out.reverse()
    return out


def _blocks(fd: int, offset: int, rest: bytearray) -> Iterator[bytes]:
    """Blocks of complete lines from ``fd`` at ``offset`` on; an unterminated tail stays in ``rest``."""
    os.lseek(fd, offset, os.SEEK_SET)
    while True:
        chunk = os.read(fd, _READ)
        if not chunk:
            return
        rest += chunk
        last = rest.rfind(b"\n")
        if last < 0:
            continue
        block = bytes(rest[: last + 1])
        del rest[: last + 1]
        yield block


class _Filter:
    def __init__(self, since_ns: int, until_ns: int) -> None:
        self.since_ns = since_ns
        self.until_ns = until_ns
        self.past_until = False

    def lines(self, blocks: Iterator[bytes]) -> Iterator[LogLine]:
        since, until = self.since_ns, self.until_ns
        for block in blocks:
            decoded = decode_block(block)
            if not since and not until:
                yield from decoded
                continue
            for line in decoded:
                try:
                    ns = parse_time(line.time)
                except ValueError:
                    continue
                if since and ns < since:
                    continue
                if until and ns > until:
                    self.past_until = True
                    return
                yield line


def read_logs(
    path: Path,
    *,
    tail: int = -1,
    since_ns: int = 0,
    until_ns: int = 0,
    follow: bool = False,
    done: Callable[[], bool] | None = None,
    poll: float = 0.25,
) -> Iterator[LogLine]:
    """Yield the log's lines like ``docker logs`` (``tail`` -1 = all; times in ns, 0 = unset).

    With ``follow``, keeps yielding new lines until ``done()`` is true (checked whenever the
    log is idle) or ``until_ns`` has passed.
    """
    flt = _Filter(since_ns, until_ns)
    files = log_files(path)
    starts = tail_offsets(files, tail) if tail != 0 else []
    current_fd = -1
    current_pos = 0
    for p, offset in starts:
        try:
            fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        rest = bytearray()
        try:
            yield from flt.lines(_blocks(fd, offset, rest))
            if flt.past_until:
                return
        finally:
            if p == path and follow and not flt.past_until:
                current_fd, current_pos = fd, os.lseek(fd, 0, os.SEEK_CUR) - len(rest)
            else:
                os.close(fd)
    if not follow:
        return
    if current_fd < 0:
        try:
            current_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            # tail 0 (or no history): only what comes from now on
            current_pos = os.fstat(current_fd).st_size
        except FileNotFoundError:
            current_fd, current_pos = -1, 0
    yield from _follow(path, current_fd, current_pos, flt, done or (lambda: False), poll)


def _follow(path: Path, fd: int, pos: int, flt: _Filter, done: Callable[[], bool], poll: float) -> Iterator[LogLine]:
    notify: Inotify | None = None
    try:
        notify = Inotify()
        notify.watch(path.parent, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
    except OSError:
        if notify is not None:
            notify.close()
        notify = None  # out of inotify instances or watches: poll instead
    rest = bytearray()
    try:
        finishing = False
        while True:
            if fd >= 0:
                if os.fstat(fd).st_size < pos:  # truncated in place (max-file=1 rotation)
                    pos, rest = 0, bytearray()
                yield from flt.lines(_blocks(fd, pos, rest))
                if flt.past_until:
                    return
                pos = os.lseek(fd, 0, os.SEEK_CUR) - len(rest)
            # rotated: the name now points at a new file; the old one was drained above
            try:
                st = os.stat(path)
                if fd < 0 or (st.st_ino, st.st_dev) != _ident(fd):
                    if fd >= 0:
                        os.close(fd)
                    fd, pos, rest = os.open(path, os.O_RDONLY | os.O_CLOEXEC), 0, bytearray()
                    continue
            except FileNotFoundError:
                pass
            if finishing:
                return
            if flt.until_ns and time.time_ns() > flt.until_ns:
                return
            if done():
                finishing = True  # one more pass: the exit record comes after the last line
                continue
            if notify is not None:
                notify.wait(poll)
            else:
                time.sleep(min(poll, 0.1))
    finally:
        if fd >= 0:
            os.close(fd)
        if notify is not None:
            notify.close()


def _ident(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_ino, st.st_dev
