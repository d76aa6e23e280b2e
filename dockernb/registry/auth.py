"""Authorization for registry requests: Basic, and the Bearer token flow with a token cache (layer L3).

A registry's ``/v2/`` ping answers 401 with a challenge. ``Basic`` means: send the credentials on
every request. ``Bearer realm=R,service=S`` means: ``GET R?service=S&scope=repository:NAME:pull``
(with the credentials as Basic, or anonymously) returns a token valid for ``expires_in`` seconds;
tokens are cached per (realm, service, account, scopes) and fetched again when they expire or
when the registry answers 401 ``error="invalid_token"``. Scopes: ``repository:<path>:pull`` to
pull, ``repository:<path>:pull,push`` to push (plus ``pull`` on the source of a cross-repo mount).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

from dockernb.errors import RegistryAuthRequired, RegistryError, RegistryUnreachable
from dockernb.registry.challenge import Challenge
from dockernb.registry.credentials import AuthConfig
from dockernb.registry.errcode import problem
from dockernb.registry.transport import Request, Transport

__all__ = ["Authenticator", "TokenCache", "go_op", "pull_scope", "push_scope"]

#: docker asks for at least this lifetime when the token server does not say
MIN_TOKEN_LIFETIME = 60.0
#: refresh this many seconds before the expiry, so a token does not die mid-request
EXPIRY_MARGIN = 5.0
NO_TOKEN = "authorization server did not include a token in the response"


def go_op(method: str) -> str:
    """Go's url.Error spelling of a method: ``Get``, ``Head``, ``Put``."""
    return method[:1].upper() + method[1:].lower()


def pull_scope(path: str) -> str:
    return f"repository:{path}:pull"


def push_scope(path: str) -> str:
    return f"repository:{path}:pull,push"


_Key = tuple[str, str, str, tuple[str, ...]]


class TokenCache:
    """Bearer tokens by (realm, service, account, scopes); thread-safe, shared by a client's sessions."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[_Key, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: _Key) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
            if hit is None:
                return None
            token, expires = hit
            if self.clock() >= expires - EXPIRY_MARGIN:
                del self._tokens[key]
                return None
            return token

    def put(self, key: _Key, token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self.clock() + max(lifetime, MIN_TOKEN_LIFETIME))

    def drop(self, key: _Key) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class Authenticator:
    """Authorization headers for one registry endpoint, from the challenge its ping answered (or none)."""

    def __init__(
        self,
        transport: Transport,
        challenge: Challenge | None,
        auth: AuthConfig | None,
        cache: TokenCache,
        *,
        verify_tls: bool = True,
        timeout: float | None = None,
    ) -> None:
        self.transport = transport
        self.challenge = challenge
        self.auth = auth
        self.cache = cache
        self.verify_tls = verify_tls
        self.timeout = timeout

    @property
    def scheme(self) -> str:
        return self.challenge.scheme if self.challenge else ""

    def basic(self) -> str:
        assert self.auth is not None
        return "Basic " + base64.b64encode(f"{self.auth.username}:{self.auth.password}".encode()).decode()

    def headers(self, scopes: tuple[str, ...], method: str, url: str) -> dict[str, str]:
        """The Authorization header for a request needing ``scopes`` (empty when the registry is open).

        Raises:
            RegistryAuthRequired: no credentials for a Basic registry, or the token server refused them.
        """
        if self.scheme == "basic":
            if not self.auth or not (self.auth.username or self.auth.password):
                raise RegistryAuthRequired(f'{go_op(method)} "{url}": no basic auth credentials')
            return {"Authorization": self.basic()}
        if self.scheme == "bearer":
            return {"Authorization": "Bearer " + self.token(scopes, method, url)}
        return {}

    def _key(self, scopes: tuple[str, ...]) -> _Key:
        assert self.challenge is not None
        account = self.auth.username if self.auth else ""
        return (self.challenge.params.get("realm", ""), self.challenge.params.get("service", ""), account,
                tuple(sorted(set(scopes))))  # fmt: skip

    def invalidate(self, scopes: tuple[str, ...]) -> None:
        if self.scheme == "bearer":
            self.cache.drop(self._key(scopes))

    def token(self, scopes: tuple[str, ...], method: str, url: str) -> str:
        """A Bearer token for ``scopes``, from the cache or the realm (docker's token handler).

        Raises:
            RegistryAuthRequired: the token server refused the credentials (``unauthorized: ...``).
            RegistryUnreachable: the token server cannot be reached.
        """
        key = self._key(scopes)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        doc = self._token_doc(key[3], method, url, login=False)
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f'{go_op(method)} "{url}": {NO_TOKEN}')
        lifetime = doc.get("expires_in")
        self.cache.put(key, token, float(lifetime) if isinstance(lifetime, int | float) else MIN_TOKEN_LIFETIME)
        return token

    def login_token(self, url: str) -> tuple[str, str]:
        """(token, refresh token or "") asked the way ``docker login`` asks: no scope, an offline token."""
        doc = self._token_doc((), "GET", url, login=True)
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f'Get "{url}": {NO_TOKEN}')
        refresh = doc.get("refresh_token")
        return token, refresh if isinstance(refresh, str) else ""

    def _token_doc(self, scopes: tuple[str, ...], method: str, url: str, *, login: bool) -> dict[str, object]:
        assert self.challenge is not None
        realm = self.challenge.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f'{go_op(method)} "{url}": invalid token realm {realm!r}')
        query: list[tuple[str, str]] = []
        if self.challenge.params.get("service"):
            query.append(("service", self.challenge.params["service"]))
        query += [("scope", s) for s in scopes]
        if self.auth and self.auth.identity_token:
            # docker's "identitytoken" is an OAuth2 refresh token: POST it for an access token
            form = [("grant_type", "refresh_token"), ("refresh_token", self.auth.identity_token),
                    ("client_id", "docker"), *query]  # fmt: skip
            request = Request("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                              urlencode(form).encode(), timeout=self.timeout, verify_tls=self.verify_tls)  # fmt: skip
            return self._fetch(request, method, url)
        headers = {"Accept": "application/json"}
        if self.auth and (self.auth.username or self.auth.password):
            query.append(("account", self.auth.username))
            headers["Authorization"] = self.basic()
        if login:
            query += [("client_id", "docker"), ("offline_token", "true")]
        token_url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        return self._fetch(Request("GET", token_url, headers, timeout=self.timeout, verify_tls=self.verify_tls),
                           method, url)  # fmt: skip

    def _fetch(self, request: Request, method: str, url: str) -> dict[str, object]:
        op = f'{go_op(method)} "{url}"'
        try:
            resp = self.transport.handle(request)
        except OSError as err:
            raise RegistryUnreachable(f'{op}: {go_op(request.method)} "{request.url}": {err}') from err
        if resp.status != 200:
            p = problem(resp)
            cls = RegistryAuthRequired if p.status in (401, 403) else RegistryError
            raise cls(f"{op}: {p.text}")
        try:
            doc = json.loads(resp.read(limit=1 << 20))
        except (OSError, ValueError) as err:
            raise RegistryError(f"{op}: unable to decode token response: {err}") from err
        if not isinstance(doc, dict):
            raise RegistryError(f"{op}: unable to decode token response: not a JSON object")
        return doc
