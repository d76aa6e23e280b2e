""".dockerignore: reading the file and docker's pattern semantics (layer L5).

The rules are docker's (``fileutils.PatternMatcher`` and ``dockerignore.ReadAll``), not
gitignore's: every pattern is anchored at the context root and matched against the whole
relative path with Go's ``filepath.Match`` syntax (``*`` and ``?`` stop at ``/``, ``[a-z]``),
plus ``**`` for any number of directories; a pattern that matches a directory also excludes
everything under it; lines are cleaned (``./a`` is ``a``, a leading ``/`` is dropped, a
trailing ``/`` too); ``#`` starts a comment line; ``!pattern`` re-includes, and the last
matching pattern wins.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockernb.build.gosyntax import BadPattern, clean_path, validate_match_pattern
from dockernb.errors import InvalidArgument

__all__ = ["Pattern", "PatternMatcher", "matches", "read_dockerignore"]


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore file, normalised as docker normalises them."""
    out: list[str] = []
    for n, raw in enumerate(text.splitlines()):
        line = raw.removeprefix("\ufeff") if n == 0 else raw
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str  # cleaned, without the "!"
    exclusion: bool  # a "!" pattern: re-includes what it matches
    regex: re.Pattern[str]

    @property
    def dirs(self) -> int:
        return len(self.text.split("/"))


def _compile(pattern: str) -> re.Pattern[str]:
    """docker's translation of a pattern into an anchored regular expression."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1  # "**/" is "**"
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in ".$":
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        elif ch == "[":
            # a character class goes through as in Go's regexp (validated by filepath.Match rules)
            j = i
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = pattern[i:j]
            out.append("[" + body.replace("[", "\\[") + "]")
            i = j + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Python's "possible nested set" FutureWarning
        return re.compile("".join(out), re.DOTALL)


class PatternMatcher:
    """An ordered list of patterns; :meth:`matches` says whether a path is excluded."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = clean_path(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                p = p[1:]
            try:
                validate_match_pattern(p)
            except BadPattern as err:
                raise InvalidArgument(f"{err}") from None
            self.patterns.append(Pattern(p, exclusion, _compile(p)))

    @property
    def exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, ``/``-separated) is excluded."""
        parent = clean_path(path.rsplit("/", 1)[0]) if "/" in path else "."
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            hit = pattern.regex.match(path) is not None
            if not hit and parent != "." and pattern.dirs <= len(parent_dirs):
                hit = pattern.regex.match("/".join(parent_dirs[: pattern.dirs])) is not None
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_reinclude_under(self, directory: str) -> bool:
        """Whether an exclusion pattern could re-include something under an excluded ``directory``
        (docker then walks into it instead of skipping it)."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def matches(path: str, patterns: Sequence[str]) -> bool:
    """docker's ``fileutils.Matches``: the context root itself is never excluded."""
    path = clean_path(path)
    if path == ".":
        return False
    return PatternMatcher(patterns).matches(path)
