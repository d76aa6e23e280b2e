from __future__ import annotations

import pytest

from dockernb.errors import InvalidArgument
from dockernb.spec.digest import Digest


def test_parse_and_render() -> None:
    d = Digest.of(b"hello")
    assert str(d) == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert Digest.parse(str(d)) == d
    assert d.short == "2cf24dba5fb0"


@pytest.mark.parametrize("bad", ["", "sha256:", "sha256:XYZ", "md5:" + "a" * 32, "sha256:" + "a" * 63, "a" * 64])
def test_rejects_malformed(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        Digest.parse(bad)
