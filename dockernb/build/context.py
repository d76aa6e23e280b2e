"""The build context: which files a build sees, their checksums, and COPY source resolution (L5).

A context comes from a directory (``build PATH``), a tar stream on stdin (``build -``, plain
or compressed; a stream that is not an archive is a Dockerfile with an empty context) or a
Dockerfile given as text plus a directory (``%%dockerfile``). We never copy a directory
context: we read it in place, through the selection docker's client would have sent
(.dockerignore applied, the Dockerfile and .dockerignore themselves always sent and then
dropped if ignored, as docker's daemon does). A tar stream is unpacked, safely, into a
private temporary directory that :meth:`BuildContext.close` removes.

Checksums are docker's: ``file:<sha256>`` over a tarsum-v1 header (name, mode, size, type,
link target; never mtimes or owners) and the content; ``dir:`` over the sorted checksums
below a directory; ``multi:`` over several sources. They are what COPY/ADD cache keys and
history lines (``COPY file:7b16141e71ab6ad6... in /hello.txt``) are made of.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dockernb.build.dockerignore import PatternMatcher, matches, read_dockerignore
from dockernb.build.gosyntax import clean_path
from dockernb.errors import BuildContextError, CopySourceNotFound, DockerfileInvalid, InvalidArgument

__all__ = [
    "BuildContext",
    "ContextEntry",
    "SourceFile",
    "context_from_dir",
    "context_from_stream",
    "has_wildcards",
    "match_path",
]

DEFAULT_DOCKERFILE = "Dockerfile"
_BLOCK = 512


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One file of the selection (what docker's client would have put in the tar)."""

    rel: str  # "/"-separated, relative to the context root, no trailing slash
    mode: int  # st_mode: type bits and permissions
    size: int
    link: str = ""  # symlink target

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A resolved COPY/ADD source: a file or a directory of the context, and its checksum."""

    rel: str  # as docker names it (the matched path; "" for the context root)
    path: Path  # on this host, symlinks resolved inside the context
    is_dir: bool
    checksum: str  # "file:<hex>" / "dir:<hex>"
    #: for a directory: what is under it in the selection (relative, walk order); excluded
    #: files are absent, so a copy of the directory never carries them
    members: tuple[str, ...] = ()


@dataclass(slots=True)
class BuildContext:
    """The files a build may read, and the Dockerfile it builds."""

    root: Path
    dockerfile_text: str
    dockerfile_name: str
    size: int  # bytes of the tar docker's client would upload (for "Sending build context")
    entries: dict[str, ContextEntry] = field(default_factory=dict)
    _tmp: Path | None = None
    _sums: dict[str, str] = field(default_factory=dict)
    _dirs: set[str] | None = None

    def close(self) -> None:
        """Remove the temporary copy of a streamed context (a directory context is left alone)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ----------------------------------------------------------------------

    def _implicit_dirs(self) -> set[str]:
        if self._dirs is None:
            dirs: set[str] = set()
            for rel in self.entries:
                parts = rel.split("/")
                for i in range(1, len(parts)):
                    dirs.add("/".join(parts[:i]))
            self._dirs = dirs
        return self._dirs

    def exists(self, rel: str) -> bool:
        return rel in ("", ".") or rel in self.entries or rel in self._implicit_dirs()

    def is_dir(self, rel: str) -> bool:
        entry = self.entries.get(rel)
        if entry is not None:
            return entry.is_dir
        return rel in ("", ".") or rel in self._implicit_dirs()

    def walk(self, under: str = "") -> Iterator[str]:
        """Every path of the selection below ``under`` (and implicit parent directories), in the
        order Go's ``filepath.Walk`` visits them (depth first, names sorted byte-wise)."""
        prefix = under + "/" if under else ""
        names = set(self.entries) | self._implicit_dirs()
        below = (n for n in names if n.startswith(prefix) and n != under)
        yield from sorted(below, key=lambda n: [os.fsencode(p) for p in n.split("/")])

    def resolve(self, rel: str) -> str | None:
        """``rel`` with its symlinks followed inside the context (never out of it); None if absent.

        Like docker's ``FollowSymlinkInScope``: an absolute link target or ``..`` is taken
        relative to the context root, so nothing outside the context can be reached.
        """
        parts = [p for p in clean_path("/" + rel).split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            entry = self.entries.get(candidate)
            if entry is not None and entry.is_symlink:
                hops += 1
                if hops > 255:
                    return None
                target = entry.link
                base = [] if target.startswith("/") else done
                parts = [p for p in target.split("/") if p and p != "."] + parts
                done = list(base)
                continue
            if not self.exists(candidate):
                return None
            done.append(part)
        return "/".join(done)

    # -- checksums ----------------------------------------------------------------------

    def checksum(self, rel: str) -> str:
        """docker's hash of one selected path (a tarsum-v1 header plus the file's content)."""
        if rel in self._sums:
            return self._sums[rel]
        entry = self.entries.get(rel)
        if entry is None:
            # a directory docker's tar did not carry (its daemon hashes those as their own path)
            return rel
        h = hashlib.sha256()
        name = rel + "/" if entry.is_dir else rel
        size = entry.size if entry.is_file else 0
        typeflag = "5" if entry.is_dir else "2" if entry.is_symlink else "0" if entry.is_file else "6"
        for key, value in (
            ("name", name),
            ("mode", str(entry.mode)),
            ("uid", "0"),
            ("gid", "0"),
            ("size", str(size)),
            ("typeflag", typeflag),
            ("linkname", entry.link),
            ("uname", ""),
            ("gname", ""),
            ("devmajor", "0"),
            ("devminor", "0"),
        ):
            h.update((key + value).encode("utf-8", "surrogateescape"))
        if entry.is_file and size:
            with open(self.root / rel, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        self._sums[rel] = h.hexdigest()
        return self._sums[rel]

    def _dir_checksum(self, rel: str) -> str:
        # docker walks the directory itself too, except the context root
        sums = sorted(self.checksum(sub) for sub in [*([rel] if rel else []), *self.walk(rel)])
        return "dir:" + hashlib.sha256(",".join(sums).encode()).hexdigest()

    # -- COPY sources --------------------------------------------------------------------

    def sources(self, patterns: Sequence[str], instruction: str = "COPY") -> list[SourceFile]:
        """Resolve COPY/ADD sources as docker does: globs, directories, symlinks, exclusions.

        Raises CopySourceNotFound (docker's ``COPY failed: file not found in build context or
        excluded by .dockerignore: stat x: file does not exist``) or InvalidArgument.
        """
        found: list[SourceFile] = []
        for pattern in patterns:
            orig = pattern.lstrip("/")
            orig = orig.removeprefix("./")
            if has_wildcards(orig):
                for rel in self.walk():
                    if match_path(orig, rel):
                        found.append(self._source(rel, instruction))
            else:
                found.append(self._source(orig, instruction))
        if not found:
            raise InvalidArgument(f"{instruction} failed: no source files were specified")
        return found

    def _source(self, orig: str, instruction: str) -> SourceFile:
        clean = clean_path("/" + orig)[1:]
        real = self.resolve(clean)
        if real is None:
            raise CopySourceNotFound(instruction, orig or ".")
        if self.is_dir(real):
            cut = len(real) + 1 if real else 0
            return SourceFile(
                rel=clean,
                path=self.root / real if real else self.root,
                is_dir=True,
                checksum=self._dir_checksum(real),
                members=tuple(m[cut:] for m in self.walk(real)),
            )
        return SourceFile(rel=clean, path=self.root / real, is_dir=False, checksum="file:" + self.checksum(real))


# --- wildcards (Go's filepath.Match, which COPY uses) -------------------------------------------


def has_wildcards(path: str) -> bool:
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "*?[":
            return True
        i += 1
    return False


def match_path(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match``: ``*`` and ``?`` never match ``/``; ``[^a-z]`` classes; ``\\`` escapes."""
    return _glob_regex(pattern).fullmatch(name) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            j = i
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            items: list[str] = []
            while j < n and (pattern[j] != "]" or not items):
                c = pattern[j]
                if c == "\\" and j + 1 < n:
                    j += 1
                    c = pattern[j]
                if j + 2 < n and pattern[j + 1] == "-" and pattern[j + 2] != "]":
                    hi = pattern[j + 2]
                    items.append(re.escape(c) + "-" + re.escape(hi))
                    j += 3
                    continue
                items.append(re.escape(c))
                j += 1
            if j >= n:
                raise InvalidArgument("syntax error in pattern")
            out.append("[" + ("^/" if negate else "") + "".join(items) + "]")
            if negate:
                out[-1] = "[^/" + "".join(items) + "]"
            i = j + 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


# --- the tar docker's client would send: selection and size -------------------------------------


def _tar_entry_size(name: str, size: int, link: str = "") -> int:
    """Bytes Go's archive/tar writes for one entry (USTAR when it fits, else a PAX header first)."""
    total = _BLOCK + -(-size // _BLOCK) * _BLOCK
    records = []
    if not _fits_ustar_name(name):
        records.append(("path", name))
    if len(link.encode()) > 100 or not link.isascii():
        records.append(("linkpath", link))
    if size > 0o77777777777:
        records.append(("size", str(size)))
    if records:
        body = sum(_pax_record_len(k, v) for k, v in records)
        total += _BLOCK + -(-body // _BLOCK) * _BLOCK
    return total


def _fits_ustar_name(name: str) -> bool:
    if not name.isascii():
        return False
    raw = name.encode()
    if len(raw) <= 100:
        return True
    length = min(len(raw), 156)
    if length == len(raw) and raw.endswith(b"/"):
        length -= 1
    i = raw.rfind(b"/", 0, length)
    suffix = len(raw) - i - 1
    return 0 < i <= 155 and 0 < suffix <= 100


def _pax_record_len(key: str, value: str) -> int:
    body = len(f" {key}={value}\n".encode())
    size = body + len(str(body))
    if len(str(size)) > len(str(body)):
        size = body + len(str(size))
    return size


def _walk_selection(root: Path, excludes: list[str]) -> tuple[dict[str, ContextEntry], int]:
    """docker's TarWithOptions walk: what is sent, in order, and the tar's size."""
    try:
        pm = PatternMatcher(excludes)
    except InvalidArgument as err:
        raise BuildContextError(f"error checking context: {err}") from None
    entries: dict[str, ContextEntry] = {}
    seen_inodes: set[tuple[int, int]] = set()
    size = 2 * _BLOCK  # the two zero blocks that end a tar

    def visit(directory: Path, rel_dir: str) -> None:
        nonlocal size
        try:
            names = sorted(os.listdir(directory), key=os.fsencode)
        except PermissionError:
            raise BuildContextError(f"error checking context: can't stat '{directory}'") from None
        for name in names:
            path = directory / name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if pm.matches(rel):
                if is_dir and pm.exclusions and pm.may_reinclude_under(rel):
                    visit(path, rel)
                continue
            link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
            if stat.S_ISREG(st.st_mode) and not os.access(path, os.R_OK):
                raise BuildContextError(f"error checking context: no permission to read from '{path}'")
            entry_size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen_inodes:
                    entry_size = 0  # docker sends later hard links as links
                seen_inodes.add(key)
            entries[rel] = ContextEntry(rel=rel, mode=st.st_mode, size=st.st_size if not is_dir else 0, link=link)
            size += _tar_entry_size(rel + "/" if is_dir else rel, entry_size, link)
            if is_dir:
                if not os.access(path, os.R_OK | os.X_OK):
                    raise BuildContextError(f"error checking context: can't stat '{path}'")
                visit(path, rel)

    visit(root, "")
    return entries, size


def _drop_build_files(entries: dict[str, ContextEntry], patterns: list[str], dockerfile: str) -> None:
    """docker's daemon removes .dockerignore and the Dockerfile from the context when ignored."""
    for name in (".dockerignore", dockerfile):
        if name and matches(name, patterns):
            for rel in [r for r in entries if r == name or r.startswith(name + "/")]:
                del entries[rel]


# --- constructors -------------------------------------------------------------------------


def _random_name() -> str:
    return ".dockerfile." + os.urandom(10).hex()


def context_from_dir(
    path: str | os.PathLike[str],
    *,
    dockerfile: str | None = None,
    dockerfile_text: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> BuildContext:
    """A directory context, like ``docker build PATH [-f FILE]``.

    ``dockerfile`` is docker's ``-f``: relative to ``cwd`` (not the context), inside or outside
    the context. ``dockerfile_text`` gives the Dockerfile itself instead (``-f -``, or a
    notebook cell). Raises BuildContextError with docker's words.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    given = str(path)
    ctx_path = base / given if not os.path.isabs(given) else Path(given)
    if not os.path.exists(ctx_path):
        raise BuildContextError(f'unable to prepare context: path "{given}" not found')
    try:
        root = Path(os.path.realpath(ctx_path, strict=True))
    except OSError as err:
        raise BuildContextError(
            f"unable to prepare context: unable to evaluate symlinks in context path: {err}"
        ) from None
    if not root.is_dir():
        raise BuildContextError(f"unable to prepare context: context must be a directory: {root}")

    outside = False
    if dockerfile_text is None:
        rel_df = _dockerfile_rel(root, base, dockerfile)
        outside = rel_df.startswith("../")
        df_path = root / rel_df if not outside else Path(os.path.normpath(root / rel_df))
        try:
            text = df_path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as err:
            raise BuildContextError(f"unable to prepare context: unable to open Dockerfile: {err}") from None
    else:
        rel_df, text, outside = "", dockerfile_text, True

    try:
        ignore_text = (root / ".dockerignore").read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        ignore_text = ""
    except OSError as err:
        raise BuildContextError(f"error checking context: {err}") from None
    patterns = read_dockerignore(ignore_text)
    excludes = list(patterns)
    if matches(".dockerignore", excludes):
        excludes.append("!.dockerignore")
    if rel_df and not outside and matches(rel_df, excludes):
        excludes.append("!" + rel_df)
    entries, size = _walk_selection(root, excludes)
    name = rel_df if rel_df and not outside else DEFAULT_DOCKERFILE
    if outside:
        # docker's client adds the Dockerfile under a random name and lists it in .dockerignore
        random_name = _random_name()
        size += _tar_entry_size(random_name, len(text.encode("utf-8", "surrogateescape")))
        old = entries.get(".dockerignore")
        extra = len(f"\n{random_name}\n")
        if old is not None:
            size += -(-(old.size + extra) // _BLOCK) * _BLOCK - -(-old.size // _BLOCK) * _BLOCK
        else:
            size += _tar_entry_size(".dockerignore", len(".dockerignore") + extra)
    _drop_build_files(entries, patterns, rel_df if not outside else "")
    return BuildContext(root=root, dockerfile_text=text, dockerfile_name=name, size=size, entries=entries)


def _dockerfile_rel(root: Path, base: Path, dockerfile: str | None) -> str:
    if dockerfile:
        candidate = Path(dockerfile) if os.path.isabs(dockerfile) else base / dockerfile
        candidate = Path(os.path.abspath(candidate))
    else:
        candidate = root / DEFAULT_DOCKERFILE
        if not os.path.lexists(candidate) and os.path.lexists(root / DEFAULT_DOCKERFILE.lower()):
            candidate = root / DEFAULT_DOCKERFILE.lower()
    try:
        real = os.path.realpath(candidate, strict=True)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        reason = reason[0].lower() + reason[1:] if reason else reason
        raise BuildContextError(
            f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {candidate}: {reason}"
        ) from None
    return os.path.relpath(real, root).replace(os.sep, "/")


def context_from_stream(
    stream: BinaryIO,
    *,
    dockerfile: str | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> BuildContext:
    """A context read from a stream, like ``docker build -``: a (compressed) tar, or a Dockerfile.

    A tar is unpacked into a private temporary directory under ``tmp_dir``; nothing is written
    outside it (absolute names, ``..`` and links through symlinks are refused). Raises
    BuildContextError or DockerfileInvalid (a Dockerfile named by ``-f`` is missing).
    """
    counted = _CountingReader(stream)
    head = counted.peek(2 * _BLOCK)
    if not _is_archive(head):
        text = counted.read().decode("utf-8", "surrogateescape")
        if dockerfile == "-":
            raise BuildContextError("unable to prepare context: build context is not an archive")
        size = _tar_entry_size(DEFAULT_DOCKERFILE, len(text.encode("utf-8", "surrogateescape"))) + 2 * _BLOCK
        tmp = Path(tempfile.mkdtemp(prefix="dockernb-build-", dir=tmp_dir))
        return BuildContext(root=tmp, dockerfile_text=text, dockerfile_name=DEFAULT_DOCKERFILE, size=size, _tmp=tmp)
    tmp = Path(tempfile.mkdtemp(prefix="dockernb-build-", dir=tmp_dir))
    try:
        entries = _safe_extract(counted, tmp)
        while counted.read(1 << 16):
            pass  # docker counts every byte sent, trailing padding included
        name = clean_path(dockerfile or DEFAULT_DOCKERFILE).lstrip("/")
        entry = entries.get(name)
        if entry is None and not dockerfile and DEFAULT_DOCKERFILE.lower() in entries:
            name = DEFAULT_DOCKERFILE.lower()
            entry = entries[name]
        if entry is None or not entry.is_file:
            raise DockerfileInvalid(f"Cannot locate specified Dockerfile: {dockerfile or DEFAULT_DOCKERFILE}")
        text = (tmp / name).read_text(encoding="utf-8", errors="surrogateescape")
        try:
            ignore = (tmp / ".dockerignore").read_text(encoding="utf-8", errors="surrogateescape")
        except (FileNotFoundError, IsADirectoryError):
            ignore = ""
        _drop_build_files(entries, read_dockerignore(ignore), name)
        return BuildContext(
            root=tmp, dockerfile_text=text, dockerfile_name=name, size=counted.count, entries=entries, _tmp=tmp
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _CountingReader(io.RawIOBase):
    """Counts the bytes taken from a stream, with a peek that does not lose them."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0
        self._buf = b""

    def readable(self) -> bool:
        return True

    def peek(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.raw.read(n - len(self._buf))
            if not chunk:
                break
            self._buf += chunk
        return self._buf[:n]

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            data = self._buf + self.raw.read()
            self._buf = b""
        elif self._buf:
            data, self._buf = self._buf[:n], self._buf[n:]
        else:
            data = self.raw.read(n)
        self.count += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _is_archive(head: bytes) -> bool:
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")):
        return True
    if len(head) < _BLOCK:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _safe_extract(stream: _CountingReader, root: Path) -> dict[str, ContextEntry]:
    """Unpack a context tar under ``root`` without ever writing outside it.

    Python 3.11.2 has no extraction filters, so this is done by hand: names are cleaned as if
    rooted at ``root`` (``../x`` is ``x``, as in docker's chrooted unpacking); every parent is
    created as a real directory (an existing symlink in the way is refused, so a crafted
    ``link -> /etc`` then ``link/passwd`` cannot escape); files are created with
    O_NOFOLLOW|O_EXCL; only regular files, directories, symlinks and hard links (to files
    already unpacked) are kept; device nodes and fifos are skipped.
    """
    entries: dict[str, ContextEntry] = {}
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError) as err:
        raise BuildContextError(f"unable to prepare context: {err}") from None
    try:
        for member in tar:
            # rooted cleaning: "../x" and "/x" land at "x", inside, as under docker's chroot
            rel = clean_path("/" + member.name)[1:]
            if not rel:
                continue
            target = root / rel
            _make_parents(root, rel)
            mode = member.mode & 0o7777
            if member.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    raise BuildContextError(f"unable to prepare context: {member.name} conflicts with another entry")
                target.mkdir(mode=0o700, exist_ok=True)
                os.chmod(target, mode | 0o700)
                entries[rel] = ContextEntry(rel=rel, mode=stat.S_IFDIR | mode, size=0)
            elif member.isreg():
                src = tar.extractfile(member)
                assert src is not None
                _remove_existing(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(target, mode | 0o400)
                entries[rel] = ContextEntry(rel=rel, mode=stat.S_IFREG | mode, size=member.size)
            elif member.issym():
                _remove_existing(target)
                os.symlink(member.linkname, target)
                entries[rel] = ContextEntry(rel=rel, mode=stat.S_IFLNK | 0o777, size=0, link=member.linkname)
            elif member.islnk():
                linked = clean_path("/" + member.linkname)[1:]
                old = entries.get(linked)
                if old is None or not old.is_file:
                    raise BuildContextError(f"unable to prepare context: invalid hard link in archive: {member.name}")
                _remove_existing(target)
                os.link(root / linked, target, follow_symlinks=False)
                entries[rel] = ContextEntry(rel=rel, mode=old.mode, size=old.size)
            # character/block devices and fifos have no place in a build context: skipped
    except tarfile.TarError as err:
        raise BuildContextError(f"unable to prepare context: {err}") from None
    finally:
        tar.close()
    return entries


def _make_parents(root: Path, rel: str) -> None:
    current = root
    for part in rel.split("/")[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o700)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise BuildContextError(f"unable to prepare context: invalid path in archive: {rel}")


def _remove_existing(target: Path) -> None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(target)
    else:
        os.unlink(target)
