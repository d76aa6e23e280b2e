"""Ids and names: docker's shapes and validation."""

from __future__ import annotations

import re

import pytest

from dockernb.errors import InvalidContainerName
from dockernb.spec import names

pytestmark = pytest.mark.rootless


def test_ids_are_64_hex_and_short_form_not_numeric() -> None:
    for _ in range(200):
        i = names.generate_id()
        assert re.fullmatch(r"[0-9a-f]{64}", i)
        assert not i[:12].isdigit()


def test_generated_names_look_like_dockers() -> None:
    seen = {names.random_name() for _ in range(200)}
    assert all(re.fullmatch(r"[a-z]+_[a-z]+", n) for n in seen)
    assert len(seen) > 100  # enough variety that collisions are rare
    assert all(re.fullmatch(r"[a-z]+_[a-z]+\d", names.random_name(3)) for _ in range(20))
    assert len(names.ADJECTIVES) >= 100 and len(names.SURNAMES) >= 100
    assert len(set(names.ADJECTIVES)) == len(names.ADJECTIVES) and len(set(names.SURNAMES)) == len(names.SURNAMES)


@pytest.mark.parametrize("good", ["xx", "web-1", "a.b_c", "/leading", "0abc"])
def test_valid_names(good: str) -> None:
    assert names.validate_name(good) == good.removeprefix("/")


@pytest.mark.parametrize("bad", ["x", "-x", "_x", ".x", "a b", "a/b", "ünï", ""])
def test_invalid_names(bad: str) -> None:
    with pytest.raises(InvalidContainerName) as err:
        names.validate_name(bad)
    assert str(err.value) == f"Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
