""".dockerignore semantics, from docker's documented examples (docs/engine/reference/builder.md)."""

from __future__ import annotations

import pytest

from dockernb.build.dockerignore import PatternMatcher, matches, read_dockerignore
from dockernb.errors import InvalidArgument

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless


def excluded(patterns_text: str, path: str) -> bool:
    return matches(path, read_dockerignore(patterns_text))


def test_reading_cleans_lines() -> None:
    text = "\ufeff# comment\n\n  spaced.txt  \n/abs/path/\n./rel/../x\n! keep\n#notacomment?\n !also\n"
    # a '#' only starts a comment at the very start of the line; "!" may be followed by spaces
    assert read_dockerignore(text) == ["spaced.txt", "abs/path", "x", "!keep", "!also"]


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("somedir/temporary.txt", True),  # */temp*
        ("somedir/temp", True),
        ("somedir/temp/inner.txt", True),  # a directory's contents go with it
        ("temporary.txt", False),
        ("somedir/subdir/temporary.txt", True),  # */*/temp*
        ("a/b/c/temporary.txt", False),
        ("tempa", True),  # temp?
        ("tempb", True),
        ("temp", False),
        ("tempab", False),
    ],
)
def test_documented_example(path: str, want: bool) -> None:
    assert excluded("# comment\n*/temp*\n*/*/temp*\ntemp?\n", path) is want


def test_double_star() -> None:
    pats = "**/*.go\n"
    assert excluded(pats, "main.go") and excluded(pats, "a/b/c.go")
    assert not excluded(pats, "a/b/c.gox")
    assert excluded("a/**/z\n", "a/z") and excluded("a/**/z", "a/b/c/z")
    assert excluded("**\n", "anything/at/all")


@pytest.mark.parametrize(
    ("patterns", "path", "want"),
    [
        ("*.md\n!README.md\n", "README.md", False),
        ("*.md\n!README.md\n", "CHANGES.md", True),
        ("*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", True),
        ("*.md\n!README*.md\nREADME-secret.md\n", "README-public.md", False),
        ("*.md\nREADME-secret.md\n!README*.md\n", "README-secret.md", False),  # the last match wins
    ],
)
def test_exceptions_and_order(patterns: str, path: str, want: bool) -> None:
    assert excluded(patterns, path) is want


def test_leading_and_trailing_slashes_are_the_same() -> None:
    for pats in ("/foo/bar/\n", "foo/bar\n", "./foo/bar\n"):
        assert excluded(pats, "foo/bar/baz.txt")
        assert not excluded(pats, "foo/barbaz")


def test_go_match_syntax() -> None:
    assert excluded("file[0-9].txt\n", "file7.txt") and not excluded("file[0-9].txt\n", "filex.txt")
    assert excluded("file[^0-9].txt\n", "filex.txt")
    assert excluded("a?c\n", "abc") and not excluded("a?c\n", "a/c")  # ? and * never cross /
    assert excluded("*\n", "dir")  # * matches a top-level directory ...
    assert excluded("*\n", "dir/file")  # ... whose contents go with it
    assert excluded("what\\?\n", "what?") and not excluded("what\\?\n", "whatx")
    assert excluded("a.b\n", "a.b") and not excluded("a.b\n", "axb")  # "." is literal


def test_root_is_never_excluded() -> None:
    assert not matches(".", ["*", "**"])


@pytest.mark.parametrize("bad", ["[", "a[b", "[a-", "[]", "x\\", "[z-a]"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        PatternMatcher([bad])


def test_lone_exclamation() -> None:
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])


def test_reinclusion_under_excluded_directory() -> None:
    pm = PatternMatcher(["docs", "!docs/keep.md"])
    assert pm.matches("docs/other.md") and not pm.matches("docs/keep.md")
    assert pm.may_reinclude_under("docs") and not pm.may_reinclude_under("src")
