"""docker's -v/--mount/--tmpfs grammars, errors word for word."""

from __future__ import annotations

import pytest

from dockernb.errors import InvalidMountSpec
from dockernb.spec.mountspec import parse_mount, parse_tmpfs, parse_volume


def test_volume_forms() -> None:
    m = parse_volume("/host/dir:/ctr:ro,rshared")
    assert (m.type, m.source, m.target, m.read_only, m.propagation, m.legacy) == (
        "bind", "/host/dir", "/ctr", True, "rshared", "/host/dir:/ctr:ro,rshared")
    m = parse_volume("data:/d")
    assert (m.type, m.source, m.anonymous) == ("volume", "data", False)
    m = parse_volume("/anon")
    assert (m.type, m.source, m.target, m.anonymous) == ("volume", "", "/anon", True)
    m = parse_volume("/anon:ro")
    assert (m.type, m.target, m.read_only, m.anonymous) == ("volume", "/anon", True, True)
    assert parse_volume("./relative:/x").source == "./relative"  # a bad volume name, refused later


@pytest.mark.parametrize(("raw", "message"), [
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("/h:rel", "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: "
               "'rel' mount path must be absolute"),
    ("/h:/c:xx", "invalid volume specification: '/h:/c:xx': invalid mode: xx"),
    ("/h:/", "invalid specification: destination can't be '/'"),
    ("v:/c:shared", "invalid volume specification: 'v:/c:shared': invalid mount config for type \"volume\": field "
                    "BindOptions must not be specified"),
])
def test_volume_errors(raw: str, message: str) -> None:
    with pytest.raises(InvalidMountSpec) as err:
        parse_volume(raw)
    assert str(err.value) == message


def test_mount_and_tmpfs() -> None:
    m = parse_mount("type=bind,source=/s,target=/t,readonly,bind-propagation=rslave")
    assert (m.type, m.source, m.target, m.read_only, m.propagation, m.legacy) == (
        "bind", "/s", "/t", True, "rslave", "")
    m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777")
    assert (m.type, m.target, m.options) == ("tmpfs", "/t", ("size=1m", "mode=1777"))
    assert parse_mount("target=/v").anonymous
    with pytest.raises(InvalidMountSpec, match='field Target must not be empty'):
        parse_mount("type=volume,source=x")
    with pytest.raises(InvalidMountSpec, match="unexpected key 'bogus'"):
        parse_mount("type=bind,source=/s,target=/t,bogus=1")
    t = parse_tmpfs("/run:size=64m,ro")
    assert (t.target, t.read_only, t.options) == ("/run", True, ("size=64m",))
