"""Authenticated requests to one registry endpoint (layer L3).

A :class:`Session` pings ``/v2/`` once to learn the endpoint's challenge, then sends each request
with the Authorization its scopes need. A 401 to a Bearer request (expired or revoked token, or a
scope the token lacks) fetches a fresh token, with the scope the challenge names, and sends the
request once more. Redirects (blob downloads to storage) are followed without the Authorization.
Network failures become :class:`~dockernb.errors.RegistryUnreachable` in docker's words:
``Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from dockernb.errors import RegistryError, RegistryUnreachable
from dockernb.registry.auth import Authenticator, TokenCache, go_op
from dockernb.registry.challenge import Challenge, parse_challenges
from dockernb.registry.credentials import AuthConfig
from dockernb.registry.endpoints import Endpoint
from dockernb.registry.transport import Readable, Request, Response, Transport

__all__ = ["Session"]

log = logging.getLogger(__name__)

USER_AGENT = "dockernb (docker 20.10 compatible)"
MAX_REDIRECTS = 5


class Session:
    """One endpoint, pinged, with its Authenticator. Thread-safe (state is the shared token cache)."""

    def __init__(
        self,
        transport: Transport,
        endpoint: Endpoint,
        auth: AuthConfig | None,
        tokens: TokenCache,
        *,
        timeout: float | None = None,
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.auth = auth
        self.tokens = tokens
        self.timeout = timeout
        self.authenticator = Authenticator(transport, None, auth, tokens, verify_tls=endpoint.verify_tls,
                                           timeout=timeout)  # fmt: skip

    def url(self, path: str) -> str:
        return self.endpoint.url + path

    def ping(self) -> None:
        """GET /v2/ without credentials: learn the challenge (docker's PingV2Registry).

        Raises:
            RegistryUnreachable: the endpoint cannot be reached or is no v2 registry.
        """
        url = self.url("/v2/")
        try:
            with self.transport.handle(self._request("GET", url, {})) as resp:
                status, headers = resp.status, resp.headers
        except OSError as err:
            raise RegistryUnreachable(f'Get "{url}": {err}') from err
        if status == 401:
            self.authenticator.challenge = self._challenge(parse_challenges(headers.get_all("WWW-Authenticate")))
            return
        if status // 100 != 2 and not headers.get("Docker-Distribution-Api-Version").startswith("registry/2"):
            raise RegistryUnreachable(f'Get "{url}": unexpected status {status}: not a v2 registry')

    @staticmethod
    def _challenge(challenges: list[Challenge]) -> Challenge | None:
        for scheme in ("bearer", "basic"):
            for challenge in challenges:
                if challenge.scheme == scheme:
                    return challenge
        return None

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Readable | None = None,
        content_length: int | None = None,
        timeout: float | None = None,
    ) -> Request:
        return Request(method, url, {"User-Agent": USER_AGENT, **headers}, body, content_length,
                       timeout or self.timeout, self.endpoint.verify_tls)  # fmt: skip

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: tuple[str, ...],
        headers: Mapping[str, str] | None = None,
        body: bytes | Readable | None = None,
        content_length: int | None = None,
        follow_redirects: bool = False,
        timeout: float | None = None,
    ) -> Response:
        """Send with authorization; any status is returned (the caller judges it).

        Raises:
            RegistryUnreachable: the network failed (docker's ``Get "url": <Go error>``).
            RegistryAuthRequired: credentials missing or refused by the token server.
        """
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        extra = dict(headers or {})
        auth = self.authenticator.headers(scopes, method, url)
        resp = self._send(self._request(method, url, {**extra, **auth}, body, content_length, timeout))
        if resp.status == 401 and self.authenticator.scheme == "bearer":
            challenge = self._challenge(parse_challenges(resp.headers.get_all("WWW-Authenticate")))
            error = challenge.params.get("error", "") if challenge else ""
            wanted = challenge.params.get("scope", "") if challenge else ""
            replayable = body is None or isinstance(body, bytes)
            # a token that expired or lacks a scope the registry names: one fresh token, one more try
            if replayable and (error == "invalid_token" or (wanted and wanted not in scopes)):
                resp.close()
                self.authenticator.invalidate(scopes)
                if wanted and wanted not in scopes:
                    scopes = (*scopes, *wanted.split(" "))
                auth = self.authenticator.headers(scopes, method, url)
                resp = self._send(self._request(method, url, {**extra, **auth}, body, content_length, timeout))
        redirects = 0
        while follow_redirects and resp.status in (301, 302, 303, 307, 308):
            location = resp.headers.get("Location")
            resp.close()
            redirects += 1
            if not location or redirects > MAX_REDIRECTS:
                raise RegistryError(f'{go_op(method)} "{url}": stopped after {MAX_REDIRECTS} redirects')
            target = urljoin(url, location)
            keep = {**extra, **auth} if urlsplit(target).netloc == urlsplit(url).netloc else extra
            url = target
            resp = self._send(self._request(method, url, keep, None, None, timeout))
        return resp

    def _send(self, request: Request) -> Response:
        try:
            return self.transport.handle(request)
        except OSError as err:
            raise RegistryUnreachable(f'{go_op(request.method)} "{request.url}": {err}') from err
