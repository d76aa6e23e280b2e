"""The one exception hierarchy of dockernb (layer L0, stdlib only).

Every category carries the HTTP status the Engine API server answers with and the
exit code the CLI uses; leaves build their own message, in Docker's words where
Docker has some (../shared/golden records them), so raise sites stay one line::

    DockernbError                      root: catch this to catch everything dockernb raises
    ├── NotFound            (404)      NoSuchContainer, NoSuchImage, NoSuchObject, NoSuchNetwork,
    │                                  NoSuchVolume, NoSuchExec, ManifestUnknown, NoMatchingPlatform,
    │                                  NoSuchNetworkDriver, NoSuchPath
    ├── InvalidArgument     (400)      InvalidReference, InvalidPortSpec, InvalidMountSpec,
    │                                  InvalidFilter, InvalidConfig, DockerfileParseError, DockerfileInvalid,
    │                                  BuildContextError, BuildTargetNotFound, SubstitutionError,
    │                                  CopySourceNotFound, InvalidChange, InvalidRequest, InvalidPlatform,
    │                                  InvalidNetworkMode, InvalidCopyPath
    ├── Conflict            (409)      NameInUse, ContainerStateConflict, ImageInUse, PortAllocated,
    │                                  NetworkExists, NotConnected
    ├── Unauthorized        (401)      RegistryAuthRequired
    ├── Forbidden           (403)      NetworkInUse, NetworkPredefined, EndpointExists, PortNotAllowed,
    │                                  SubnetUnavailable
    ├── Unavailable         (503)      ProbeFailed (carries the probe that failed), CredentialHelperFailed,
    │                                  AddressExhausted
    ├── NotSupported        (501)
    ├── RuntimeFailure      (500)      ContainerStartFailed <- CommandNotFound (127),
    │                                  CommandNotExecutable (126); BuildError; ContainerExited
    ├── RegistryError       (502)      the registry's own message; RegistryUnreachable, InvalidManifest,
    │                                  DigestMismatch
    └── InternalError       (500)      an invariant broke; always logged with a traceback

Callers test the class, never the message. Wrap with ``raise X(...) from err``.
"""

from __future__ import annotations

__all__ = [
    "AddressExhausted",
    "AmbiguousPrefix",
    "BuildContextError",
    "BuildError",
    "BuildStepFailed",
    "BuildTargetNotFound",
    "CommandNotExecutable",
    "CommandNotFound",
    "Conflict",
    "ContainerExited",
    "ContainerStartFailed",
    "ContainerStateConflict",
    "CopySourceNotFound",
    "CredentialHelperFailed",
    "DigestMismatch",
    "DockerfileInvalid",
    "DockerfileParseError",
    "DockernbError",
    "EndpointExists",
    "Forbidden",
    "ImageInUse",
    "IngestLocked",
    "InternalError",
    "InvalidArgument",
    "InvalidChange",
    "InvalidConfig",
    "InvalidContainerName",
    "InvalidCopyPath",
    "InvalidFilter",
    "InvalidLayer",
    "InvalidManifest",
    "InvalidMountSpec",
    "InvalidNetworkMode",
    "InvalidPlatform",
    "InvalidPortSpec",
    "InvalidReference",
    "InvalidRequest",
    "LogReadingUnsupported",
    "ManifestUnknown",
    "NameInUse",
    "NetworkExists",
    "NetworkInUse",
    "NetworkPredefined",
    "NoMatchingPlatform",
    "NoSpaceLeft",
    "NoSuchContainer",
    "NoSuchContent",
    "NoSuchExec",
    "NoSuchImage",
    "NoSuchNetwork",
    "NoSuchNetworkDriver",
    "NoSuchObject",
    "NoSuchPath",
    "NoSuchSnapshot",
    "NoSuchVolume",
    "NotConnected",
    "NotFound",
    "NotSupported",
    "PortAllocated",
    "PortNotAllowed",
    "ProbeFailed",
    "RegistryAuthRequired",
    "RegistryError",
    "RegistryUnreachable",
    "RuntimeFailure",
    "SnapshotConflict",
    "SnapshotExists",
    "SubnetUnavailable",
    "SubstitutionError",
    "Unauthorized",
    "Unavailable",
    "VerificationFailed",
]


class DockernbError(Exception):
    """Root of every error dockernb raises on purpose."""

    http_status: int = 500
    #: exit code of the CLI for this error (run/create use 125 for engine errors instead)
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- categories -------------------------------------------------------------------


class NotFound(DockernbError):
    """The named object does not exist."""

    http_status = 404


class InvalidArgument(DockernbError):
    """The caller asked for something malformed; nothing was changed."""

    http_status = 400


class Conflict(DockernbError):
    """The request conflicts with the current state (name taken, container running...)."""

    http_status = 409


class Unauthorized(DockernbError):
    """Credentials are missing or wrong."""

    http_status = 401


class Forbidden(DockernbError):
    """The request is understood and refused."""

    http_status = 403


class Unavailable(DockernbError):
    """A capability this machine lacks; the message says which probe failed."""

    http_status = 503


class NotSupported(DockernbError):
    """A docker feature dockernb does not implement."""

    http_status = 501


class RuntimeFailure(DockernbError):
    """Running something failed."""

    http_status = 500


class RegistryError(DockernbError):
    """The registry answered with an error; the message is the registry's."""

    http_status = 502


class InternalError(DockernbError):
    """An invariant broke (corrupt state, a transition outside the table)."""

    http_status = 500


# --- not found --------------------------------------------------------------------


class NoSuchContainer(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No such container: {name}")
        self.name = name


class NoSuchImage(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")
        self.ref = ref


class NoSuchObject(NotFound):
    """`inspect` without --type found neither a container nor an image (or ...)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No such object: {name}")
        self.name = name


class NoSuchNetwork(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"network {name} not found")
        self.name = name


class NoSuchVolume(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"get {name}: no such volume")
        self.name = name


class NoSuchExec(NotFound):
    def __init__(self, exec_id: str) -> None:
        super().__init__(f"No such exec instance: {exec_id}")
        self.exec_id = exec_id


class NoSuchPath(NotFound):
    """A path missing in a container's filesystem (``docker cp``; the CLI says ``No such container:path``)."""

    def __init__(self, path: str, container: str = "") -> None:
        text = f"Could not find the file {path} in container {container}" if container else path
        super().__init__(text)
        self.path = path
        self.container = container


class NoSuchNetworkDriver(NotFound):
    """`network create -d x` with a driver dockernb does not have (docker asks its plugins)."""

    def __init__(self, driver: str) -> None:
        super().__init__(f'plugin "{driver}" not found')
        self.driver = driver


class ManifestUnknown(NotFound):
    """The registry has no manifest for this reference (docker's wording)."""

    def __init__(self, ref: str, detail: str = "manifest unknown") -> None:
        super().__init__(f"manifest for {ref} not found: manifest unknown: {detail}")
        self.ref = ref


class NoMatchingPlatform(NotFound):
    """An index/manifest list has no entry for the platform (docker prints it in the pull stream)."""

    def __init__(self, platform: str) -> None:
        super().__init__(f"no matching manifest for {platform} in the manifest list entries")
        self.platform = platform


# --- invalid argument -------------------------------------------------------------


class InvalidReference(InvalidArgument):
    """A malformed image reference, in docker's words (`invalid reference format...`).

    ``text`` replaces the whole message where Go's parser words it otherwise
    (``invalid checksum digest length``, ``repository name must not be more than 255 characters``).
    """

    def __init__(self, ref: str, reason: str = "", *, text: str | None = None) -> None:
        if text is None:
            text = "invalid reference format"
            if reason:
                text += f": {reason}"
        super().__init__(text)
        self.ref = ref
        self.reason = reason


class InvalidPlatform(InvalidArgument):
    """A bad ``--platform`` value, in containerd's words (``"x/y/z/w": cannot parse platform specifier...``)."""


class InvalidPortSpec(InvalidArgument):
    pass


class InvalidMountSpec(InvalidArgument):
    pass


class InvalidNetworkMode(InvalidArgument):
    """A network mode or option combination docker refuses (``conflicting options: ...``)."""


class InvalidFilter(InvalidArgument):
    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid filter '{name}'")
        self.name = name


class InvalidCopyPath(InvalidArgument):
    """``docker cp``'s own refusals, which its client prints as they are (``cannot copy directory``,
    ``no such directory``, ``invalid output path: ...``, ``destination "c:/x" must be a directory``)."""


class InvalidConfig(InvalidArgument):
    """A configuration file or environment variable has a bad value."""


class InvalidRequest(InvalidArgument):
    """An Engine API request the server refuses before any engine call (bad JSON, too large, bad query).

    ``status`` overrides the 400 for protocol-level refusals (431 header too large, 505 ...).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.http_status = status


class DockerfileParseError(InvalidArgument):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"dockerfile parse error line {line}: {reason}")
        self.line = line
        self.reason = reason


class DockerfileInvalid(InvalidArgument):
    """The Dockerfile as a whole is unusable (empty, no instruction); the message is docker's."""


class InvalidChange(InvalidArgument):
    """``commit --change`` with an instruction docker does not allow there."""

    def __init__(self, instruction: str) -> None:
        super().__init__(f"{instruction} is not a valid change command")
        self.instruction = instruction


class BuildContextError(InvalidArgument):
    """The build context could not be prepared; the message is docker's client-side sentence
    (``unable to prepare context: path "x" not found``), which the CLI prints without the
    ``Error response from daemon:`` prefix."""


class BuildTargetNotFound(InvalidArgument):
    def __init__(self, target: str) -> None:
        super().__init__(f"failed to reach build target {target} in Dockerfile")
        self.target = target


class SubstitutionError(InvalidArgument):
    """A ``${...}`` in a Dockerfile word is malformed or an ``${X:?msg}`` is unset (docker's words)."""

    def __init__(self, word: str, reason: str) -> None:
        super().__init__(f"failed to process {_go_quote(word)}: {reason}")
        self.word = word
        self.reason = reason


class CopySourceNotFound(InvalidArgument):
    """A COPY/ADD source is missing from the context (or excluded by .dockerignore)."""

    def __init__(self, instruction: str, path: str) -> None:
        super().__init__(
            f"{instruction} failed: file not found in build context or excluded by .dockerignore: "
            f"stat {path}: file does not exist"
        )
        self.instruction = instruction
        self.path = path


def _go_quote(text: str) -> str:
    """Go's %q for the printable ASCII case (what docker's messages quote words with)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# --- conflict ---------------------------------------------------------------------


class NameInUse(Conflict):
    def __init__(self, name: str, container_id: str) -> None:
        super().__init__(
            f'Conflict. The container name "/{name}" is already in use by container "{container_id}". '
            "You have to remove (or rename) that container to be able to reuse that name."
        )
        self.name = name
        self.container_id = container_id


class ContainerStateConflict(Conflict):
    """The container is in the wrong state for the verb; the message is docker's sentence."""


class ImageInUse(Conflict):
    pass


class PortAllocated(Conflict):
    """A host port is taken: by a container (docker's ``port is already allocated``) or another program."""


class NetworkExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"network with name {name} already exists")
        self.name = name


class NotConnected(Conflict):
    def __init__(self, container: str, network: str = "") -> None:
        super().__init__(f"container {container} is not connected to network {network}")
        self.container = container
        self.network = network


class NetworkInUse(Forbidden):
    def __init__(self, name: str, network_id: str = "") -> None:
        super().__init__(
            f"error while removing network: network {name} id {network_id} has active endpoints"
        )
        self.name = name
        self.network_id = network_id


class NetworkPredefined(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is a pre-defined network and cannot be removed")
        self.name = name


class EndpointExists(Forbidden):
    def __init__(self, name: str, network: str = "") -> None:
        super().__init__(f"endpoint with name {name} already exists in network {network}")
        self.name = name
        self.network = network


class PortNotAllowed(Forbidden):
    """This user may not bind the host port (rootless below ``net.ipv4.ip_unprivileged_port_start``)."""


class SubnetUnavailable(Forbidden):
    """The requested or default subnet overlaps another network, or none is left in the pools."""


# --- auth, availability -----------------------------------------------------------


class RegistryAuthRequired(Unauthorized):
    """Access refused or credentials missing/wrong; the message is docker's (``pull access denied for ...``,
    ``Get "http://...": unauthorized: incorrect username or password``, ``login attempt to ... failed``)."""


class CredentialHelperFailed(Unavailable):
    """A ``docker-credential-<name>`` helper is missing or failed (docker's ``error getting credentials - ...``)."""


class ProbeFailed(Unavailable):
    """A feature is unavailable; ``probe`` names the check and ``hint`` the next thing to try."""

    def __init__(self, message: str, *, probe: str = "", hint: str = "") -> None:
        text = message
        if probe:
            text += f" (probe: {probe})"
        if hint:
            text += f"; {hint}"
        super().__init__(text)
        self.probe = probe
        self.hint = hint


class AddressExhausted(Unavailable):
    def __init__(self, network: str) -> None:
        super().__init__(f"no available IPv4 addresses on this network's address pools: {network}")
        self.network = network


# --- registry ---------------------------------------------------------------------


class RegistryUnreachable(RegistryError):
    """The registry could not be reached or spoke no HTTP we understand, in Go's words
    (``Get "https://h/v2/": dial tcp h: connect: connection refused``,
    ``http: server gave HTTP response to HTTPS client``)."""


class InvalidManifest(RegistryError):
    """A manifest, index or image config that is malformed or of a media type we do not support."""


class VerificationFailed(RegistryError):
    """Received bytes do not hash to the digest asked for (``filesystem layer verification failed for digest ...``);
    nothing of them is kept."""


# --- runtime ----------------------------------------------------------------------


class ContainerStartFailed(RuntimeFailure):
    pass


class CommandNotFound(ContainerStartFailed):
    exit_code = 127


class CommandNotExecutable(ContainerStartFailed):
    exit_code = 126


class ContainerExited(RuntimeFailure):
    """The Python API's ``containers.run()`` of a container that exited non-zero (docker-py's ContainerError)."""

    def __init__(self, message: str = "", *, image: str = "", exit_code: int = 1, output: str = "") -> None:
        super().__init__(message or f"the container of {image} exited with code {exit_code}")
        self.image = image
        self.exit_code = exit_code
        self.output = output


class BuildError(RuntimeFailure):
    """A build step failed; ``exit_code`` is the failing RUN's code when there is one."""

    def __init__(self, message: str, *, step: int = 0, instruction: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.step = step
        self.instruction = instruction
        self.exit_code = code


class BuildStepFailed(RuntimeFailure):
    """COPY/ADD/WORKDIR could not change the image's files; docker's sentence (``COPY failed: ...``)."""


# --- storage (content store, layers, snapshots) -------------------------------------


class NoSuchContent(NotFound):
    """No blob with this digest in the content store (containerd's wording)."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"content digest {digest}: not found")
        self.digest = digest


class DigestMismatch(InvalidArgument):
    """Committed bytes do not match the expected digest or size; nothing was registered."""

    def __init__(self, got: str, expected: str = "", *, what: str = "digest") -> None:
        super().__init__(f"unexpected commit {what} {got}, expected {expected}")
        self.got = got
        self.expected = expected


class IngestLocked(Conflict):
    """Another writer holds this ingest ref (one writer per ref, as in containerd)."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"ref {ref} locked")
        self.ref = ref


class InvalidLayer(InvalidArgument):
    """A layer tar is malformed or tries to leave its root (docker's breakout errors)."""


class NoSpaceLeft(RuntimeFailure):
    """The disk filled up while writing; what was written is removed again."""

    def __init__(self, path: str) -> None:
        super().__init__(f"write {path}: no space left on device")
        self.path = path


class NoSuchSnapshot(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot {key} does not exist: not found")
        self.key = key


class SnapshotExists(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot {key} already exists")
        self.key = key


class SnapshotConflict(Conflict):
    """The snapshot is in the wrong state for the operation (has children, is committed...)."""


# --- containers (monitor/store helper) --------------------------------------------


class InvalidContainerName(InvalidArgument):
    """A container name outside docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        self.name = name


class AmbiguousPrefix(InvalidArgument):
    """An id prefix that matches more than one container (docker's truncindex wording)."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"Multiple IDs found with provided prefix: {prefix}")
        self.prefix = prefix


class LogReadingUnsupported(NotSupported):
    """``logs`` on a container whose log driver keeps nothing (``--log-driver none``)."""

    def __init__(self, message: str = "configured logging driver does not support reading") -> None:
        super().__init__(message)
