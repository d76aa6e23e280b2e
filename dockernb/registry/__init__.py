"""The distribution-spec client: auth challenges, manifests, blobs, push; docker config.json (L3).

What the engine uses: :class:`RegistryClient` (resolve, head, open_blob, push_blob, put_manifest,
login, logout), :class:`DockerConfigFile` for credentials, :class:`Resolved`/:class:`Source`
results. The HTTP seam is :class:`Transport` (fakes in :mod:`dockernb.testing.registry`).
"""

from __future__ import annotations

from dockernb.registry.blobs import BlobReader, Retry
from dockernb.registry.client import MANIFEST_ACCEPT, RegistryClient, Resolved, Source
from dockernb.registry.credentials import (
    AuthConfig,
    CredentialStore,
    DockerConfigFile,
    MemoryCredentials,
    default_credentials_file,
)
from dockernb.registry.login import LoginResult, LogoutResult, login_server
from dockernb.registry.transport import HTTPTransport, Request, Response, Transport
from dockernb.registry.upload import PushOutcome

__all__ = [
    "MANIFEST_ACCEPT",
    "AuthConfig",
    "BlobReader",
    "CredentialStore",
    "DockerConfigFile",
    "HTTPTransport",
    "LoginResult",
    "LogoutResult",
    "MemoryCredentials",
    "PushOutcome",
    "RegistryClient",
    "Request",
    "Resolved",
    "Response",
    "Retry",
    "Source",
    "Transport",
    "default_credentials_file",
    "login_server",
]
