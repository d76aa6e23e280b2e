"""Shared builders for the registry unit tests (fake registries, configs, clients)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from dockernb.config import Config
from dockernb.registry import MemoryCredentials, RegistryClient, Retry
from dockernb.registry.credentials import AuthConfig
from dockernb.spec.oci import Platform
from dockernb.testing.registry import FakeImage, MemoryRegistry, Router

HOST_PLATFORM = str(Platform.host())
OTHER_PLATFORM = "linux/s390x" if Platform.host().architecture != "s390x" else "linux/amd64"
FAST = Retry(attempts=4, backoff=0.0)


def config(**kw: object) -> Config:
    return Config(root=Path("/nonexistent-dockernb-root"), **kw)  # type: ignore[arg-type]


def layer(seed: int, size: int = 200_000) -> bytes:
    """A gzip blob of ``size`` incompressible bytes (so its compressed size is about ``size``)."""
    return gzip.compress(random.Random(seed).randbytes(size), compresslevel=1)


def image(reg: MemoryRegistry, repo: str = "library/app", tag: str = "latest", **kw: object) -> FakeImage:
    return reg.add_image(repo, tag, [layer(1), layer(2, 50_000)], platforms=(HOST_PLATFORM, OTHER_PLATFORM), **kw)  # type: ignore[arg-type]


def client(
    router: Router | MemoryRegistry,
    cfg: Config | None = None,
    *,
    creds: dict[str, AuthConfig] | None = None,
) -> RegistryClient:
    return RegistryClient(cfg or config(), MemoryCredentials(creds), transport=router.transport(), retry=FAST)
