"""Wire details: WWW-Authenticate parsing, error bodies as docker reads them, endpoint selection."""

from __future__ import annotations

import pytest

from dockernb.registry.challenge import Challenge, parse_challenges
from dockernb.registry.endpoints import OFFICIAL_REGISTRY, Endpoint, is_insecure, lookup_endpoints
from dockernb.registry.errcode import problem
from dockernb.registry.transport import Headers, Response
from tests.unit.registry_fakes import config

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged


def test_challenges() -> None:
    got = parse_challenges([
        'Bearer realm="http://127.0.0.1:5003/token",service="dockernb-kit",scope="repository:a/b:pull,push"',
        'Basic realm="my \\"realm\\""',
        "Bearer realm=unquoted, error=insufficient_scope",
        "",
    ])  # fmt: skip
    assert got == [
        Challenge("bearer", {"realm": "http://127.0.0.1:5003/token", "service": "dockernb-kit",
                             "scope": "repository:a/b:pull,push"}),
        Challenge("basic", {"realm": 'my "realm"'}),
        Challenge("bearer", {"realm": "unquoted", "error": "insufficient_scope"}),
    ]  # fmt: skip


def resp(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, Headers({k.replace("_", "-"): v for k, v in headers.items()}), body)


@pytest.mark.parametrize(
    ("response", "code", "text"),
    [
        (resp(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'),
         "MANIFEST_UNKNOWN", "manifest unknown: manifest unknown"),
        (resp(401, b'{"details":"incorrect username or password"}'), "UNAUTHORIZED",
         "unauthorized: incorrect username or password"),
        (resp(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
              WWW_Authenticate='Bearer realm="r",service="s",scope="repository:p:pull",error="insufficient_scope"'),
         "DENIED", "denied: requested access to the resource is denied"),
        (resp(401, b"", WWW_Authenticate='Bearer realm="r",error="invalid_token",error_description="expired"'),
         "UNAUTHORIZED", "unauthorized: expired"),
        (resp(401), "UNAUTHORIZED", "unauthorized: authentication required"),
        (resp(429, b'{"details":"slow down"}'), "TOOMANYREQUESTS", "toomanyrequests: slow down"),
        (resp(404, b"404 page not found\n"), "", 'error parsing HTTP 404 response body: "404 page not found\\n"'),
        (resp(502), "", "received unexpected HTTP status: 502 Bad Gateway"),
        (resp(400, b'{"errors":[{"code":"DIGEST_INVALID"}]}'), "DIGEST_INVALID", "digest invalid: unknown error"),
    ],
)  # fmt: skip
def test_problems(response: Response, code: str, text: str) -> None:
    p = problem(response)
    assert (p.code, p.text) == (code, text)


def test_insecure_decisions() -> None:
    cfg = config(insecure_registries=("myreg:5000", "10.0.0.0/8"))
    assert is_insecure("127.0.0.1:5000", config())
    assert is_insecure("127.9.9.9", config())
    assert not is_insecure("192.0.2.2:5000", config())
    assert is_insecure("myreg:5000", cfg) and not is_insecure("myreg:5001", cfg, resolve=lambda h: ["192.0.2.7"])
    assert is_insecure("build.internal:443", cfg, resolve=lambda h: ["10.1.2.3"])
    assert is_insecure("localhost:5000", config(), resolve=lambda h: ["::1", "127.0.0.1"])
    assert not is_insecure("[::1]:5000", config())  # docker's default insecure range is IPv4 loopback only
    assert not is_insecure("nowhere.invalid", config(), resolve=lambda h: [])


def test_endpoint_lists() -> None:
    mirrors = config(registry_mirrors=("http://127.0.0.1:5000", "https://mirror.example"))
    assert lookup_endpoints("docker.io", mirrors) == [
        Endpoint("http://127.0.0.1:5000", "docker.io", False, True),
        Endpoint("https://mirror.example", "docker.io", True, True),
        Endpoint(OFFICIAL_REGISTRY, "docker.io"),
    ]
    assert lookup_endpoints("docker.io", mirrors, push=True) == [Endpoint(OFFICIAL_REGISTRY, "docker.io")]
    assert lookup_endpoints("127.0.0.1:5001", config()) == [
        Endpoint("https://127.0.0.1:5001", "127.0.0.1:5001", False),
        Endpoint("http://127.0.0.1:5001", "127.0.0.1:5001", False),
    ]
    assert lookup_endpoints("quay.example", config(), resolve=lambda h: ["192.0.2.9"]) == [
        Endpoint("https://quay.example", "quay.example")
    ]
