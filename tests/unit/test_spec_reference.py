"""Image references: docker 20.10's normalisation and wording (golden cases and a recorded CLI oracle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument, InvalidReference
from dockernb.spec.digest import Digest
from dockernb.spec.reference import INDEX_SERVER, Reference, parse_reference, parse_tag_target
from tests import golden

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged

ORACLE = json.loads((Path(__file__).parent / "data" / "reference_oracle.json").read_text())["cases"]
H = "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "error"), ORACLE, ids=[repr(c[0])[:40] for c in ORACLE])
def test_matches_the_docker_cli(text: str, error: str | None) -> None:
    if error is None:
        parse_reference(text)
    else:
        with pytest.raises(InvalidReference) as info:
            parse_reference(text)
        assert str(info.value) == error
        assert isinstance(info.value, InvalidArgument) and info.value.http_status == 400


@pytest.mark.parametrize(
    ("text", "canonical", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("nginx:1.25-alpine", "docker.io/library/nginx:1.25-alpine", "nginx:1.25-alpine"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        ("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest"),
        ("127.0.0.1:5000/library/busybox:1", "127.0.0.1:5000/library/busybox:1", "127.0.0.1:5000/library/busybox:1"),
        ("localhost/foo", "localhost/foo:latest", "localhost/foo:latest"),
        ("localhost", "docker.io/library/localhost:latest", "localhost:latest"),
        ("registry-1.docker.io/busybox", "registry-1.docker.io/busybox:latest", "registry-1.docker.io/busybox:latest"),
        ("UPPER.com/foo", "UPPER.com/foo:latest", "UPPER.com/foo:latest"),
        (f"busybox@sha256:{H}", f"docker.io/library/busybox@sha256:{H}", f"busybox@sha256:{H}"),
        (f"busybox:1@sha256:{H}", f"docker.io/library/busybox:1@sha256:{H}", f"busybox:1@sha256:{H}"),
        ("golden-tag:1", "docker.io/library/golden-tag:1", "golden-tag:1"),
    ],
)
def test_normalises_like_docker(text: str, canonical: str, familiar: str) -> None:
    ref = parse_reference(text).with_default_tag()
    assert str(ref) == canonical
    assert ref.familiar == familiar


def test_parts_and_helpers() -> None:
    ref = parse_reference("127.0.0.1:5000/library/busybox")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("127.0.0.1:5000", "library/busybox", None, None)
    assert ref.reference == "latest" and ref.index_server == "127.0.0.1:5000"
    pinned = parse_reference(f"busybox:1@sha256:{H}")
    assert pinned.reference == f"sha256:{H}" and pinned.digest == Digest.parse(f"sha256:{H}")
    assert parse_reference("busybox").index_server == INDEX_SERVER and parse_reference("busybox").is_docker_hub
    assert parse_reference("busybox").with_tag("1").familiar == "busybox:1"
    assert str(pinned.name_only()) == "docker.io/library/busybox"
    assert parse_reference("a/b").familiar_name == "a/b"
    with pytest.raises(InvalidReference):
        parse_reference("busybox").with_tag("-bad")
    assert Reference("docker.io", "library/x").familiar == "x"


def test_sha384_digest_is_accepted() -> None:
    d = "sha384:" + H + H[:32]
    assert str(parse_reference(f"busybox@{d}").digest) == d


def test_golden_reference_errors() -> None:
    for case in ("run-bad-ref", "run-uppercase-ref"):
        exp = golden.expected(case)
        ref = exp["argv"][-1]
        with pytest.raises(InvalidReference) as info:
            parse_reference(ref)
        # `dockernb: <message>.` on stderr, as docker prints it for run
        assert exp["stderr"].startswith(f"dockernb: {info.value}.\n"), exp["stderr"]
    exp = golden.expected("tag-bad-target")
    with pytest.raises(InvalidReference) as info:
        parse_tag_target(exp["argv"][-1])
    assert exp["stderr"] == f"{info.value}\n"
    exp = golden.expected("build-bad-tag")
    with pytest.raises(InvalidReference) as info:
        parse_reference("Bad::Ref")
    assert f'for "-t, --tag" flag: {info.value}\n' in exp["stderr"]


def test_golden_references_that_parse() -> None:
    """Every image reference the golden transcripts use successfully parses, and prints as docker printed it."""
    assert parse_reference("no-such-image-xyz").with_default_tag().familiar == "no-such-image-xyz:latest"
    exp = golden.expected("run-no-such-image-local-registry")
    ref = parse_reference(exp["argv"][-1]).with_default_tag()
    assert f"Unable to find image '{ref.familiar}' locally" in exp["stderr"]
    exp = golden.expected("pull-missing-tag")
    ref = parse_reference(exp["argv"][-1])
    assert f"manifest for {ref.familiar} not found" in exp["stderr"]
    exp = golden.expected("images-format")
    for line in exp["stdout"].splitlines():
        assert parse_reference(line).familiar == line
    assert parse_tag_target("golden-tag:1").familiar == "golden-tag:1"
    assert parse_tag_target("golden-tag").familiar == "golden-tag:latest"


def test_tag_target_refuses_digests() -> None:
    with pytest.raises(InvalidReference, match="refusing to create a tag with a digest reference"):
        parse_tag_target(f"busybox@sha256:{H}")
