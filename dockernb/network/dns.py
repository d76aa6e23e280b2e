"""The DNS wire format, just enough for the embedded responder (layer L3, pure; RFC 1035).

``parse`` reads a query's header and first question; ``answer`` builds a response that repeats
the question and carries A or PTR records (names compressed to the question, 0xC00C);
``error`` builds an empty response with an rcode (NXDOMAIN, SERVFAIL...).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["A", "AAAA", "NOERROR", "NXDOMAIN", "PTR", "SERVFAIL", "Query", "answer", "error", "parse", "ptr_name"]

A, PTR, AAAA = 1, 12, 28
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
_HDR = struct.Struct("!HHHHHH")


@dataclass(frozen=True, slots=True)
class Query:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    question: bytes  # the raw question section (name, type, class)


def parse(data: bytes) -> Query | None:
    """The query in ``data``, or None when it is not a well-formed single-question query."""
    if len(data) < _HDR.size:
        return None
    qid, flags, qd, _an, _ns, _ar = _HDR.unpack_from(data)
    if flags & 0x8000 or qd < 1:  # a response, or no question
        return None
    labels = []
    off = _HDR.size
    while True:
        if off >= len(data):
            return None
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 or off + 1 + n > len(data):  # no compression in a question we accept
            return None
        labels.append(data[off + 1 : off + 1 + n].decode("ascii", errors="replace"))
        off += 1 + n
    if off + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, off)
    return Query(qid, flags, ".".join(labels).lower(), qtype, qclass, data[_HDR.size : off + 4])


def _header(q: Query, rcode: int, ancount: int) -> bytes:
    # QR=1, opcode copied, AA=1 for our own names, RD copied, RA=1
    flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | rcode
    return _HDR.pack(q.id, flags, 1, ancount, 0, 0)


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def answer(q: Query, *, addresses: Sequence[str] = (), ptr: str = "", ttl: int = 600) -> bytes:
    """A response with A records (``addresses``) or one PTR record (``ptr``)."""
    records = []
    for addr in addresses:
        rdata = ipaddress.IPv4Address(addr).packed
        records.append(struct.pack("!HHHIH", 0xC00C, A, 1, ttl, len(rdata)) + rdata)
    if ptr:
        rdata = _encode_name(ptr)
        records.append(struct.pack("!HHHIH", 0xC00C, PTR, 1, ttl, len(rdata)) + rdata)
    return _header(q, NOERROR, len(records)) + q.question + b"".join(records)


def error(q: Query, rcode: int) -> bytes:
    return _header(q, rcode, 0) + q.question


def ptr_name(name: str) -> str | None:
    """``2.0.210.10.in-addr.arpa`` -> ``10.210.0.2``; None for anything else."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return ".".join(reversed(parts))
