"""What the kit builds: one recipe per image, and the hash that decides when to rebuild it.

Every image is honest: made from Debian packages (busybox-static, mmdebstrap) or from the
project's own C source, by independent tools (mmdebstrap, umoci, skopeo). Names follow
Docker Hub's (``library/NAME``) so that a registry mirror resolves them like Docker Hub.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CREATED", "IMAGES", "RECIPE_VERSION", "Image", "Rootfs", "ROOTFS", "input_hash"]

#: bump when a recipe changes in a way the hashed inputs below do not show
RECIPE_VERSION = "3"
#: fixed creation time (the Debian snapshot date of this machine's mirror) so digests are reproducible
CREATED = "2025-05-20T00:00:00Z"
SOURCE_DATE_EPOCH = "1747699200"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOURCE = "dockernb labkit (https://github.com/dockernb): built offline from Debian bookworm packages"


@dataclass(frozen=True)
class Rootfs:
    """A root filesystem tarball the kit makes (cached by input hash)."""

    name: str
    kind: str  # "busybox", "mmdebstrap", "hello"
    packages: tuple[str, ...] = ()
    arch: str = "amd64"


@dataclass(frozen=True)
class Image:
    """One published image: repository, tag, layers (rootfs names, base first) and config."""

    repo: str  # "library/busybox"
    tag: str
    layers: tuple[str, ...]
    cmd: tuple[str, ...]
    description: str
    fmt: str = "oci"  # "oci" manifest, "v2s2" manifest, "oci-index", "v2s2-list", "oci-zstd"
    env: tuple[str, ...] = (PATH_ENV,)
    entrypoint: tuple[str, ...] = ()
    exposed: tuple[str, ...] = ()
    stop_signal: str = ""
    workdir: str = ""
    extra_arch: tuple[str, ...] = ()  # rootfs names for the arm64 entries of an index
    labels: dict[str, str] = field(default_factory=dict)
    registries: tuple[str, ...] = ("open",)  # which kit registries get it: open, basic, token

    @property
    def name(self) -> str:
        return self.repo.rsplit("/", 1)[-1]

    @property
    def layout_tag(self) -> str:
        return f"{self.repo.replace('/', '_')}-{self.tag}"


ROOTFS: dict[str, Rootfs] = {
    "busybox": Rootfs("busybox", "busybox"),
    "busybox-arm64": Rootfs("busybox-arm64", "busybox", ("busybox-static",), arch="arm64"),
    "debian": Rootfs("debian", "mmdebstrap"),
    "nginx": Rootfs("nginx", "mmdebstrap", ("nginx",)),
    "python": Rootfs("python", "mmdebstrap", ("python3", "python3-pip", "python3-venv", "ca-certificates")),
    "hello": Rootfs("hello", "hello"),
}

IMAGES: tuple[Image, ...] = (
    Image(
        "library/busybox", "latest", ("busybox",), ("sh",),
        "BusyBox 1.35 (Debian busybox-static) with its applet links; linux/amd64 and linux/arm64",
        fmt="oci-index", extra_arch=("busybox-arm64",), registries=("open", "basic", "token"),
    ),
    Image(
        "library/busybox", "zstd", ("busybox",), ("sh",),
        "BusyBox 1.35 (Debian busybox-static), with its layer compressed by zstd", fmt="oci-zstd",
    ),
    Image(
        "library/debian", "bookworm", ("debian",), ("bash",),
        "Debian 12 bookworm, mmdebstrap --variant=minbase, /dev nodes stripped", fmt="oci",
    ),
    Image(
        "library/hello-world", "latest", ("hello",), ("/hello",),
        "hello-world: a static program from dockernb/labkit/hello.c", fmt="v2s2-list", env=(),
        registries=("open", "basic", "token"),
    ),
    Image(
        "library/nginx", "latest", ("debian", "nginx"), ("nginx", "-g", "daemon off;"),
        "Debian's nginx configured like the official image (port 80, /usr/share/nginx/html, logs to stdio)",
        fmt="v2s2", exposed=("80/tcp",), stop_signal="SIGQUIT",
    ),
    Image(
        "library/python", "3.11", ("debian", "python"), ("python3",),
        "Debian's python3 3.11 with pip and venv; pip may install system-wide as in the official image",
        fmt="v2s2", env=(PATH_ENV, "LANG=C.UTF-8", "PIP_BREAK_SYSTEM_PACKAGES=1"),
    ),
    Image(
        "private/busybox", "latest", ("busybox",), ("sh",),
        "BusyBox in a private repository: pulling needs credentials (token registry)",
        fmt="oci", registries=("token",),
    ),
)


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def input_hash(rootfs: Rootfs, extra: dict[str, str]) -> str:
    """Hash of what decides a rootfs's content: recipe, package list, host files copied in.

    Not the mirror's state: a rebuild happens when the recipe changes, not when Debian does.
    """
    h = hashlib.sha256()
    h.update(RECIPE_VERSION.encode())
    h.update(repr((rootfs.name, rootfs.kind, rootfs.packages, rootfs.arch)).encode())
    for key in sorted(extra):
        h.update(f"{key}={extra[key]}".encode())
    return h.hexdigest()[:16]


def host_inputs() -> dict[str, str]:
    here = Path(__file__).parent
    return {
        "ca": _file_hash(Path("/etc/ssl/certs/ca-certificates.crt")),
        "hello.c": _file_hash(here / "hello.c"),
        "rootfs.py": _file_hash(here / "rootfs.py"),
        "busybox": _file_hash(Path("/bin/busybox")),
    }
