"""Image references normalised exactly as docker 20.10 does (layer L0, pure data).

``nginx`` is ``docker.io/library/nginx``, ``127.0.0.1:5000/busybox`` keeps its registry,
``busybox@sha256:...`` pins a digest. The grammar (regular expressions and digest checks) is
docker-image-py's; the domain split, the error wording and the familiar forms are docker 20.10's
(distribution's ``ParseNormalizedNamed``/``FamiliarString``), checked against the Debian docker CLI:
an upper-case first component is a lowercase error, not a registry host, and IPv6 hosts are invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from docker_image import digest as _di_digest
from docker_image.reference import ImageRegexps

from dockernb.errors import InvalidArgument, InvalidReference
from dockernb.spec.digest import Digest

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "INDEX_SERVER",
    "Reference",
    "parse_reference",
    "parse_tag_target",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
#: the key docker uses for Docker Hub credentials in config.json
INDEX_SERVER = "https://index.docker.io/v1/"
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalised image reference.

    ``domain`` is the registry host (``docker.io``, ``127.0.0.1:5000``), ``path`` the repository
    inside it (``library/busybox``); ``tag`` and ``digest`` are optional (``None`` when absent).
    ``str(ref)`` is the canonical form (``docker.io/library/busybox:latest``), ``ref.familiar`` what
    docker shows (``busybox:latest``).
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """The canonical repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository name as docker prints it: ``busybox``, ``user/app``, ``127.0.0.1:5000/busybox``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        namespace, _, rest = self.path.partition("/")
        if namespace == OFFICIAL_NAMESPACE and rest and "/" not in rest:
            return rest
        return self.path

    @property
    def familiar(self) -> str:
        """docker's FamiliarString: ``busybox:latest``, ``127.0.0.1:5000/busybox@sha256:...``."""
        return self.familiar_name + self._suffix()

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DEFAULT_DOMAIN

    @property
    def index_server(self) -> str:
        """The key of this registry's credentials (docker's: Docker Hub's is ``https://index.docker.io/v1/``)."""
        return INDEX_SERVER if self.is_docker_hub else self.domain

    @property
    def reference(self) -> str:
        """What to ask the registry's manifest endpoint for: the digest when pinned, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or DEFAULT_TAG

    def with_default_tag(self) -> Reference:
        """docker's TagNameOnly: a bare name gets ``:latest``; a digest or a tag is kept as is."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def with_tag(self, tag: str) -> Reference:
        if not ImageRegexps.ANCHORED_TAG_REGEXP.match(tag) or "\n" in tag:
            raise InvalidReference(tag)
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, digest=digest)

    def name_only(self) -> Reference:
        return replace(self, tag=None, digest=None)

    def _suffix(self) -> str:
        text = f":{self.tag}" if self.tag is not None else ""
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return self.name + self._suffix()


def _split_docker_domain(name: str) -> tuple[str, str]:
    # docker 20.10 (distribution 2.7's splitDockerDomain): the first component is a registry only
    # when it has a '.' or ':' or is "localhost"; "Foo/bar" stays a (bad, upper-case) Hub path
    head, sep, rest = name.partition("/")
    if not sep or (not any(c in head for c in ".:") and head != "localhost"):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = head, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"{OFFICIAL_NAMESPACE}/{remainder}"
    return domain, remainder


def _digest(text: str, ref: str) -> Digest:
    # go-digest's Validate, in its words
    try:
        _di_digest.validate_digest(text)
    except _di_digest.DigestUnsupported:
        raise InvalidReference(ref, text="unsupported digest algorithm") from None
    except _di_digest.DigestInvalidLength:
        raise InvalidReference(ref, text="invalid checksum digest length") from None
    except _di_digest.InvalidDigest:
        raise InvalidReference(ref, text="invalid checksum digest format") from None
    try:
        return Digest.parse(text)
    except InvalidArgument:
        raise InvalidReference(ref, text="invalid checksum digest format") from None


def _parse(text: str, ref: str) -> Reference:
    """distribution's Parse on an already domain-qualified string."""
    m = ImageRegexps.REFERENCE_REGEXP.match(text)
    if m is None:
        if ImageRegexps.REFERENCE_REGEXP.match(text.lower()):
            raise InvalidReference(ref, text="repository name must be lowercase")
        raise InvalidReference(ref)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(ref, text=f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    named = ImageRegexps.ANCHORED_NAME_REGEXP.match(name)
    if named is None or not named.group(1):  # cannot happen after the split, kept as a guard
        raise InvalidReference(ref)
    return Reference(named.group(1), named.group(2), tag or None, _digest(digest, ref) if digest else None)


def parse_reference(text: str) -> Reference:
    """Parse what a user typed, as docker's ParseNormalizedNamed (no default tag added).

    Raises:
        InvalidReference: with docker's message (``invalid reference format``,
            ``invalid reference format: repository name must be lowercase``, ...).
    """
    # Go's regexps are anchored at the very end and have no IPv6 hosts in docker 20.10
    if any(c.isspace() for c in text) or "[" in text or not text.isascii():
        raise InvalidReference(text)
    if ImageRegexps.ANCHORED_IDENTIFIER_REGEXP.match(text):
        raise InvalidReference(
            text, text=f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(text, "repository name must be lowercase")
    return _parse(f"{domain}/{remainder}", text)


def parse_tag_target(text: str) -> Reference:
    """The target of ``docker tag`` (``:latest`` added), which the docker CLI parses itself and words its own way.

    Raises:
        InvalidReference: ``Error parsing reference: "X" is not a valid repository/tag: <why>``, or
            ``refusing to create a tag with a digest reference``.
    """
    try:
        ref = parse_reference(text)
    except InvalidReference as err:
        raise InvalidReference(
            text, err.reason, text=f'Error parsing reference: "{text}" is not a valid repository/tag: {err}'
        ) from err
    if ref.digest is not None:
        raise InvalidReference(text, text="refusing to create a tag with a digest reference")
    return ref.with_default_tag()
