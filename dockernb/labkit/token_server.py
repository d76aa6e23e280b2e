"""A small token issuer implementing Docker Hub's Bearer flow, for the kit's token-auth registry.

The registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``;
clients then ``GET realm?service=S&scope=repository:NAME:pull,push`` (Basic credentials
optional) and present the returned JWT. Policy, like Docker Hub's: repositories under
``library/`` are public (anonymous pull), everything else needs credentials; push always
needs credentials; wrong credentials get 401. Tokens are ES256 JWTs with an ``x5c`` header
signed by a self-signed certificate the registry lists in ``rootcertbundle``.

Run: ``python -m dockernb.labkit.token_server --listen 127.0.0.1:5003 --auth-dir DIR``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import secrets
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

__all__ = ["ISSUER", "SERVICE", "ensure_keys", "main"]

ISSUER = "dockernb-kit-issuer"
SERVICE = "dockernb-kit"
TOKEN_TTL = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ensure_keys(auth_dir: Path) -> None:
    """Create the ES256 key and its self-signed certificate once (cryptography is a kit-only dependency)."""
    key_path, crt_path = auth_dir / "token.key", auth_dir / "token.crt"
    if key_path.exists() and crt_path.exists():
        return
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    auth_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(key_path, 0o600)
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class _Issuer:
    def __init__(self, auth_dir: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_pem_private_key((auth_dir / "token.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{auth_dir / 'token.key'}: not an EC key")
        self.key = key
        cert = x509.load_pem_x509_certificate((auth_dir / "token.crt").read_bytes())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.users: dict[str, str] = json.loads((auth_dir / "users.json").read_text())

    def check(self, header: str | None) -> tuple[str | None, bool]:
        """(account, ok): no header is anonymous and ok; a bad password is not ok."""
        if not header or not header.startswith("Basic "):
            return None, True
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, binascii.Error):
            return None, False
        import bcrypt

        hashed = self.users.get(user)
        if hashed is None or not bcrypt.checkpw(password.encode(), hashed.encode()):
            return None, False
        return user, True

    @staticmethod
    def grant(scope: str, account: str | None) -> dict[str, object] | None:
        parts = scope.split(":")
        if len(parts) < 3:
            return None
        kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        if kind == "registry":
            allowed = actions if account else []
        elif kind == "repository":
            public = name.startswith("library/")
            allowed = [a for a in actions if account or (a == "pull" and public)]
            if account and "*" in actions:
                allowed = ["*"]
        else:
            return None
        return {"type": kind, "name": name, "actions": allowed}

    def token(self, service: str, scopes: list[str], account: str | None) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        access = [g for g in (self.grant(s, account) for s in scopes) if g is not None]
        claims = {
            "iss": ISSUER, "sub": account or "", "aud": service, "exp": now + TOKEN_TTL, "nbf": now - 10,
            "iat": now, "jti": secrets.token_hex(16), "access": access,
        }
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants raw r||s, not DER
        return f"{signing_input}.{_b64(sig)}"


def _handler(issuer: _Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet, like the registries
            pass

        def _reply(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            if url.path != "/token":
                self._reply(404, {"details": "not found"})
                return
            query = parse_qs(url.query)
            account, ok = issuer.check(self.headers.get("Authorization"))
            if not ok:
                self._reply(401, {"details": "incorrect username or password"})
                return
            scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
            service = query.get("service", [SERVICE])[0]
            token = issuer.token(service, scopes, account)
            self._reply(200, {"token": token, "access_token": token, "expires_in": TOKEN_TTL,
                              "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    return Handler


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--listen", default="127.0.0.1:5003")
    ap.add_argument("--auth-dir", type=Path, required=True)
    args = ap.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), _handler(_Issuer(args.auth_dir)))
    server.serve_forever()


if __name__ == "__main__":
    main()
