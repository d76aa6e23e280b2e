"""``login`` and ``logout``: check credentials against a registry before saving them (layer L3).

Like docker's loginV2: ``GET /v2/`` on each endpoint of the registry (https, then http for an
insecure one); a 200 needs no credentials; a Basic challenge is answered with the credentials; a
Bearer challenge sends them to the token server first (no scope, an offline token, as docker
asks). Only a check that passes saves anything. The wording is docker's:
``Login Succeeded``, ``login attempt to http://h/v2/ failed with status: 401 Unauthorized``,
``Get "http://h/v2/": unauthorized: incorrect username or password``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockernb.config import Config
from dockernb.errors import RegistryAuthRequired, RegistryError, RegistryUnreachable
from dockernb.registry.auth import Authenticator, TokenCache
from dockernb.registry.challenge import parse_challenges
from dockernb.registry.credentials import AuthConfig, CredentialStore, DockerConfigFile, convert_to_hostname
from dockernb.registry.endpoints import lookup_endpoints
from dockernb.registry.transport import Request, Transport
from dockernb.spec.reference import INDEX_SERVER

__all__ = ["LoginResult", "LogoutResult", "login", "login_server", "logout"]

USER_AGENT = "dockernb (docker 20.10 compatible)"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``server`` is the key the login is saved under; ``stored_in`` a file or ``docker-credential-<name>``;
    ``plaintext`` says the password went into the file (docker then warns that it is unencrypted)."""

    server: str
    stored_in: str
    plaintext: bool
    status: str = "Login Succeeded"


@dataclass(frozen=True, slots=True)
class LogoutResult:
    server: str
    was_logged_in: bool

    @property
    def message(self) -> str:
        return f"Removing login credentials for {self.server}"


def login_server(text: str) -> str:
    """The credentials key for what the user typed (docker's): Docker Hub's URL, else ``host[:port]``."""
    if text in ("", "docker.io", "index.docker.io", "registry-1.docker.io", INDEX_SERVER):
        return INDEX_SERVER
    return convert_to_hostname(text)


def _failed(url: str, status: int, reason: str) -> RegistryAuthRequired:
    return RegistryAuthRequired(f"login attempt to {url} failed with status: {status} {reason}".rstrip())


def login(
    transport: Transport,
    config: Config,
    credentials: CredentialStore,
    tokens: TokenCache,
    server: str,
    username: str,
    password: str,
    *,
    timeout: float | None = None,
) -> LoginResult:
    """See the module docstring; raises RegistryAuthRequired, RegistryUnreachable or RegistryError."""
    key = login_server(server)
    auth = AuthConfig(username, password)
    domain = "docker.io" if key == INDEX_SERVER else key
    last: RegistryUnreachable | None = None
    for endpoint in lookup_endpoints(domain, config, push=True):
        url = f"{endpoint.url}/v2/"
        base = {"User-Agent": USER_AGENT}
        try:
            with transport.handle(Request("GET", url, base, timeout=timeout, verify_tls=endpoint.verify_tls)) as resp:
                status, reason, headers = resp.status, resp.reason, resp.headers
        except OSError as err:  # docker tries the next endpoint only when this one was never reached
            last = RegistryUnreachable(f'Get "{url}": {err}')
            last.__cause__ = err
            continue
        identity = ""
        if status == 401:
            challenges = parse_challenges(headers.get_all("WWW-Authenticate"))
            challenge = next((c for c in challenges if c.scheme in ("bearer", "basic")), None)
            if challenge is None:
                raise _failed(url, status, reason)
            authn = Authenticator(transport, challenge, auth, tokens, verify_tls=endpoint.verify_tls, timeout=timeout)
            if challenge.scheme == "bearer":
                token, identity = authn.login_token(url)
                header = f"Bearer {token}"
            else:
                header = authn.basic()
            request = Request("GET", url, {**base, "Authorization": header}, timeout=timeout,
                              verify_tls=endpoint.verify_tls)  # fmt: skip
            try:
                with transport.handle(request) as resp:
                    status, reason = resp.status, resp.reason
            except OSError as err:
                raise RegistryUnreachable(f'Get "{url}": {err}') from err
            if status != 200:
                raise _failed(url, status, reason)
        elif status != 200:
            raise RegistryError(f"login attempt to {url} failed with status: {status} {reason}".rstrip())
        saved = AuthConfig(username, "", identity) if identity else auth
        stored_in = credentials.store(key, saved)
        plaintext = isinstance(credentials, DockerConfigFile) and not stored_in.startswith("docker-credential-")
        return LoginResult(key, stored_in, plaintext and not identity)
    assert last is not None
    raise last


def logout(credentials: CredentialStore, server: str) -> LogoutResult:
    """Erase the login for ``server`` (any spelling of it); docker prints the message either way."""
    key = login_server(server)
    was = credentials.get(key) is not None
    if isinstance(credentials, DockerConfigFile):
        was = was or credentials.is_logged_in(key)
    credentials.erase(key)
    return LogoutResult(key, was)
