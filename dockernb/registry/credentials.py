"""Registry credentials in a ``~/.docker/config.json``-compatible file, with docker's credential helpers (L3).

Where: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: the very file docker's CLI
uses, so ``docker login`` and ``dockernb login`` share their logins (``Config.credentials_file``,
:func:`~dockernb.config.default_credentials_file`).
What: ``auths`` entries keyed by registry host (Docker Hub's key is ``https://index.docker.io/v1/``)
holding ``auth`` = base64(``user:password``) or an ``identitytoken``; ``credHelpers`` (per host) and
``credsStore`` (default) name ``docker-credential-<name>`` programs spoken to over stdin/stdout
(``get``/``store``/``erase``), whose secrets never touch the file. Every other key of the file is
kept as it was; the file is replaced atomically, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dockernb.config import default_credentials_file
from dockernb.errors import CredentialHelperFailed, InvalidConfig
from dockernb.store.atomic import write_bytes

__all__ = [
    "AuthConfig",
    "CredentialStore",
    "DockerConfigFile",
    "MemoryCredentials",
    "convert_to_hostname",
    "default_credentials_file",
]

NOT_FOUND = "credentials not found in native keychain"
TOKEN_USERNAME = "<token>"  # helpers store identity tokens under this user name


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Credentials for one registry: a user and password, or an identity (refresh) token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token)

    def __repr__(self) -> str:  # never print secrets
        return f"AuthConfig(username={self.username!r}, password={'***' if self.password else ''!r})"


class CredentialStore(Protocol):
    """Where logins live. ``server`` is a registry host, or Docker Hub's ``https://index.docker.io/v1/``."""

    def get(self, server: str) -> AuthConfig | None: ...

    def store(self, server: str, auth: AuthConfig) -> str:
        """Save; returns where (a file path or ``docker-credential-<name>``) for the login message."""
        ...

    def erase(self, server: str) -> None: ...


def convert_to_hostname(url: str) -> str:
    """docker's ConvertToHostname: ``https://host:5000/v2/`` -> ``host:5000``."""
    for prefix in ("http://", "https://"):
        if url.startswith(prefix):
            url = url[len(prefix) :]
            break
    return url.split("/", 1)[0]


class MemoryCredentials:
    """A dict-backed store, for tests and for credentials handed in by an API caller (X-Registry-Auth)."""

    def __init__(self, entries: Mapping[str, AuthConfig] | None = None) -> None:
        self.entries: dict[str, AuthConfig] = dict(entries or {})

    def get(self, server: str) -> AuthConfig | None:
        return self.entries.get(server)

    def store(self, server: str, auth: AuthConfig) -> str:
        self.entries[server] = auth
        return "memory"

    def erase(self, server: str) -> None:
        self.entries.pop(server, None)


class DockerConfigFile:
    """A docker ``config.json`` (see the module docstring). Re-read on every call: another CLI may write it."""

    def __init__(self, path: Path, *, env: Mapping[str, str] | None = None, helper_timeout: float = 60.0) -> None:
        self.path = path
        self.env = dict(os.environ if env is None else env)
        self.helper_timeout = helper_timeout

    # --- the file ----------------------------------------------------------------

    def _load(self) -> dict[str, object]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise InvalidConfig(f"Error loading config file {self.path}: {err.strerror}") from err
        if not text.strip():
            return {}
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InvalidConfig(f"Error loading config file {self.path}: {err}") from err
        if not isinstance(doc, dict):
            raise InvalidConfig(f"Error loading config file {self.path}: not a JSON object")
        return doc

    def _save(self, doc: dict[str, object]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_bytes(self.path, json.dumps(doc, indent="\t").encode() + b"\n", mode=0o600)

    @staticmethod
    def _auths(doc: dict[str, object]) -> dict[str, dict[str, object]]:
        auths = doc.get("auths")
        if not isinstance(auths, dict):
            auths = {}
            doc["auths"] = auths
        return auths

    def helper_for(self, server: str, doc: dict[str, object] | None = None) -> str | None:
        doc = self._load() if doc is None else doc
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict) and isinstance(helpers.get(server), str) and helpers[server]:
            return str(helpers[server])
        store = doc.get("credsStore")
        return store if isinstance(store, str) and store else None

    def _entry(self, doc: dict[str, object], server: str) -> tuple[str, dict[str, object]] | None:
        auths = self._auths(doc)
        if isinstance(auths.get(server), dict):
            return server, auths[server]
        for key, value in auths.items():
            if isinstance(value, dict) and convert_to_hostname(key) == server:
                return key, value
        return None

    def is_logged_in(self, server: str) -> bool:
        """docker's logout check: is there an ``auths`` entry for this registry (under any of its spellings)?"""
        return self._entry(self._load(), server) is not None

    # --- CredentialStore ---------------------------------------------------------

    def get(self, server: str) -> AuthConfig | None:
        doc = self._load()
        helper = self.helper_for(server, doc)
        if helper:
            return self._helper_get(helper, server)
        found = self._entry(doc, server)
        if found is None:
            return None
        key, entry = found
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if not sep:
                raise InvalidConfig(f"{self.path}: auths[{key!r}].auth is not base64 of user:password")
        auth = AuthConfig(username, password, str(entry.get("identitytoken") or ""))
        return auth or None

    def store(self, server: str, auth: AuthConfig) -> str:
        doc = self._load()
        helper = self.helper_for(server, doc)
        entry: dict[str, object] = {}
        if helper:
            user, secret = (TOKEN_USERNAME, auth.identity_token) if auth.identity_token else (auth.username,
                                                                                             auth.password)  # fmt: skip
            self._helper("store", helper, json.dumps({"ServerURL": server, "Username": user, "Secret": secret}))
        elif auth.identity_token:
            entry["identitytoken"] = auth.identity_token
        else:
            entry["auth"] = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        auths = self._auths(doc)
        found = self._entry(doc, server)
        if found is not None:
            auths.pop(found[0], None)
        auths[server] = entry  # with a helper: an empty entry, so that logout knows we are logged in
        self._save(doc)
        return f"docker-credential-{helper}" if helper else str(self.path)

    def erase(self, server: str) -> None:
        doc = self._load()
        helper = self.helper_for(server, doc)
        if helper:
            try:
                self._helper("erase", helper, server)
            except CredentialHelperFailed as err:
                if NOT_FOUND not in str(err):
                    raise
        auths = self._auths(doc)
        keys = [k for k in auths if k == server or convert_to_hostname(k) == server]
        if keys:
            for key in keys:
                del auths[key]
            self._save(doc)

    # --- helpers (docker-credential-helpers protocol) ------------------------------

    def _helper(self, action: str, helper: str, payload: str) -> str:
        program = f"docker-credential-{helper}"
        verb = {"get": "getting", "store": "storing", "erase": "erasing"}[action]
        try:
            proc = subprocess.run(
                [program, action], input=payload.encode(), capture_output=True, env=self.env,
                timeout=self.helper_timeout, check=False,
            )  # fmt: skip
        except FileNotFoundError as err:
            raise CredentialHelperFailed(
                f'error {verb} credentials - err: exec: "{program}": executable file not found in $PATH, out: ``'
            ) from err
        except (OSError, subprocess.TimeoutExpired) as err:
            raise CredentialHelperFailed(f"error {verb} credentials - err: {err}, out: ``") from err
        out = proc.stdout.decode(errors="replace").strip()
        if proc.returncode != 0:
            detail = out or proc.stderr.decode(errors="replace").strip()
            raise CredentialHelperFailed(
                f"error {verb} credentials - err: exit status {proc.returncode}, out: `{detail}`"
            )
        return out

    def _helper_get(self, helper: str, server: str) -> AuthConfig | None:
        try:
            out = self._helper("get", helper, server)
        except CredentialHelperFailed as err:
            if NOT_FOUND in str(err):
                return None
            raise
        try:
            doc = json.loads(out)
        except ValueError as err:
            raise CredentialHelperFailed(f"error getting credentials - err: {err}, out: `{out}`") from err
        if not isinstance(doc, dict):
            raise CredentialHelperFailed(f"error getting credentials - err: not a JSON object, out: `{out}`")
        user, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
        if user == TOKEN_USERNAME:
            return AuthConfig(identity_token=secret) or None
        return AuthConfig(user, secret) or None
