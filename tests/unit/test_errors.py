"""Guard tests for the error hierarchy (httpx's exported-members style)."""

from __future__ import annotations

import inspect

import dockernb
from dockernb import errors


def test_all_is_sorted_and_complete() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    defined = {n for n, o in vars(errors).items() if inspect.isclass(o) and issubclass(o, errors.DockernbError)}
    assert defined == set(errors.__all__)
    assert dockernb.__all__ == sorted(dockernb.__all__, key=str.lower) or dockernb.__all__ == sorted(dockernb.__all__)


def test_every_leaf_has_status_and_renders() -> None:
    samples = {
        errors.NoSuchContainer: ("web",),
        errors.NoSuchImage: ("foo:latest",),
        errors.NoSuchObject: ("x",),
        errors.NoSuchNetwork: ("n",),
        errors.NoSuchVolume: ("v",),
        errors.NoSuchExec: ("e",),
        errors.ManifestUnknown: ("127.0.0.1:5000/nosuch:latest",),
        errors.InvalidReference: ("Bad::Ref", "repository name must be lowercase"),
        errors.InvalidFilter: ("bogus",),
        errors.DockerfileParseError: (2, "unknown instruction: RUNN"),
        errors.NameInUse: ("xx", "a" * 64),
        errors.ProbeFailed: ("user namespaces are disabled",),
        errors.BuildError: ("The command '/bin/sh -c exit 3' returned a non-zero code: 3",),
        errors.SubstitutionError: ("'open", "unexpected end of statement while looking for matching single-quote"),
        errors.CopySourceNotFound: ("COPY", "missing.txt"),
        errors.BuildTargetNotFound: ("nope",),
    }
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert cls.http_status in (400, 401, 403, 404, 409, 500, 501, 502, 503), name
        args = samples.get(cls, ("something went wrong",))
        text = str(cls(*args))
        assert text and "{" not in text, name


def test_docker_wording() -> None:
    assert str(errors.NoSuchContainer("nosuch")) == "No such container: nosuch"
    assert str(errors.ManifestUnknown("127.0.0.1:5000/nosuch:latest")) == (
        "manifest for 127.0.0.1:5000/nosuch:latest not found: manifest unknown: manifest unknown"
    )
    assert str(errors.InvalidReference("Bad::Ref", "repository name must be lowercase")) == (
        "invalid reference format: repository name must be lowercase"
    )
    assert str(errors.DockerfileParseError(2, "unknown instruction: FOO")) == (
        "dockerfile parse error line 2: unknown instruction: FOO"
    )
    assert errors.CommandNotFound("x").exit_code == 127
    assert errors.CommandNotExecutable("x").exit_code == 126
    assert issubclass(errors.NoSuchContainer, errors.NotFound)
    assert errors.NotFound.http_status == 404
