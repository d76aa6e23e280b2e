"""Layer streams straight from the kit's open registry, hashed as they arrive (like the registry client)."""

from __future__ import annotations

import hashlib
import json
import platform
import urllib.request
from dataclasses import dataclass
from typing import Any

from dockernb.errors import DigestMismatch
from dockernb.labkit.registries import ports
from dockernb.spec.digest import Digest

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def _get(path: str) -> Any:  # noqa: ANN401
    req = urllib.request.Request(f"http://127.0.0.1:{ports()['open']}/v2/{path}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@dataclass(frozen=True)
class Layer:
    repo: str
    digest: Digest
    media_type: str
    size: int
    diff_id: Digest


def image_layers(repo: str, tag: str) -> list[Layer]:
    m = _get(f"{repo}/manifests/{tag}")
    if "manifests" in m:  # an index / manifest list: the host's platform
        arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
        pick = next(x for x in m["manifests"] if x.get("platform", {}).get("architecture") == arch)
        m = _get(f"{repo}/manifests/{pick['digest']}")
    cfg = _get(f"{repo}/blobs/{m['config']['digest']}")
    return [Layer(repo, Digest.parse(layer["digest"]), layer["mediaType"], layer["size"], Digest.parse(diff))
            for layer, diff in zip(m["layers"], cfg["rootfs"]["diff_ids"], strict=True)]


class VerifyingStream:
    """A blob download that hashes as it is read and raises DigestMismatch at the end if it differs."""

    def __init__(self, layer: Layer, *, expected: Digest | None = None, tee: Any = None) -> None:  # noqa: ANN401
        url = f"http://127.0.0.1:{ports()['open']}/v2/{layer.repo}/blobs/{layer.digest}"
        self._resp = urllib.request.urlopen(url, timeout=30)
        self._hash = hashlib.sha256()
        self._expected = expected or layer.digest
        self._tee = tee
        self.read_calls = 0

    def read(self, n: int = -1) -> bytes:
        self.read_calls += 1
        data: bytes = self._resp.read(n)
        if data:
            self._hash.update(data)
            if self._tee is not None:
                self._tee.write(data)
        elif self._hash.hexdigest() != self._expected.hex:
            raise DigestMismatch(f"sha256:{self._hash.hexdigest()}", str(self._expected))
        return data

    def close(self) -> None:
        self._resp.close()
