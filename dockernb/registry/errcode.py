"""What a registry's error response says, read the way docker reads it (layer L3).

Distribution answers errors as ``{"errors": [{"code": "MANIFEST_UNKNOWN", "message": ...}]}``;
token servers as ``{"details": "..."}``; a Bearer 401 may carry ``error="insufficient_scope"`` in
``WWW-Authenticate``, which docker turns into DENIED. :func:`problem` reduces a response to one
:class:`Problem` whose ``text`` is docker's (``manifest unknown: manifest unknown``,
``denied: requested access to the resource is denied``); the client picks the error class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dockernb.registry.challenge import parse_challenges
from dockernb.registry.transport import Response

__all__ = ["Problem", "problem"]

#: distribution's default messages per code (errcode descriptors)
DEFAULT_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_UNKNOWN": "repository name not known to registry",
    "BLOB_UNKNOWN": "blob unknown to registry",
    "TOOMANYREQUESTS": "too many requests",
    "UNKNOWN": "unknown error",
}
BODY_LIMIT = 1 << 20
#: RFC 6750 error codes in a Bearer challenge, as distribution's client maps them
_OAUTH_CODES = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One registry error: the distribution code (``""`` when the body had none), message and HTTP status."""

    code: str
    message: str
    status: int
    reason: str = ""

    @property
    def text(self) -> str:
        """docker's rendering: ``<code in lower case, spaces>: <message>``, or the bare status when unparsed."""
        if not self.code:
            return self.message
        return f"{self.code.lower().replace('_', ' ')}: {self.message}"


def _go_quote(data: bytes) -> str:
    return json.dumps(data.decode("utf-8", "replace"))


def problem(resp: Response, body: bytes | None = None) -> Problem:
    """Read (and close) an error response into a :class:`Problem` (distribution's HandleErrorResponse)."""
    if body is None:
        try:
            body = resp.read(limit=BODY_LIMIT)
        except (OSError, ValueError):
            body = b""
        finally:
            resp.close()
    status = resp.status
    if 400 <= status < 500:
        for challenge in parse_challenges(resp.headers.get_all("WWW-Authenticate")):
            if challenge.scheme != "bearer":
                continue
            oauth = _OAUTH_CODES.get(challenge.params.get("error", ""))
            if oauth:
                message = challenge.params.get("error_description") or DEFAULT_MESSAGES[oauth]
                return Problem(oauth, message, status, resp.reason)
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        details = doc.get("details")
        if isinstance(details, str) and details:
            code = {401: "UNAUTHORIZED", 429: "TOOMANYREQUESTS"}.get(status, "UNKNOWN")
            return Problem(code, details, status, resp.reason)
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = str(first.get("code") or "UNKNOWN").upper()
            text = str(first.get("message") or DEFAULT_MESSAGES.get(code, "unknown error"))
            return Problem(code, text, status, resp.reason)
    if status == 401:
        return Problem("UNAUTHORIZED", DEFAULT_MESSAGES["UNAUTHORIZED"], status, resp.reason)
    if status == 429:
        return Problem("TOOMANYREQUESTS", DEFAULT_MESSAGES["TOOMANYREQUESTS"], status, resp.reason)
    if body and 400 <= status < 500:
        return Problem("", f"error parsing HTTP {status} response body: {_go_quote(body[:200])}", status, resp.reason)
    return Problem("", f"received unexpected HTTP status: {status} {resp.reason}".rstrip(), status, resp.reason)
