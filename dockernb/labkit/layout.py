"""The kit's OCI image layout, made with umoci (layers, configs) and skopeo (zstd recompression).

Multi-layer images are made the way umoci intends: unpack the base, replace its root
filesystem with the derived one, and ``umoci repack`` writes the diff layer (with whiteouts).
Indexes (multi-platform) are the only JSON written here: umoci makes single manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from dockernb.labkit.recipes import CREATED, SOURCE, Image

__all__ = ["add_image", "layout_has"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _run(*cmd: str) -> None:
    subprocess.run(list(cmd), check=True, stdout=subprocess.DEVNULL)


def _index(layout: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((layout / "index.json").read_text())
    return data


def _tags(layout: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for m in _index(layout).get("manifests", []):
        name = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if name:
            out[name] = m
    return out


def layout_has(layout: Path, tag: str) -> bool:
    return (layout / "index.json").exists() and tag in _tags(layout)


def _config_flags(img: Image, arch: str) -> list[str]:
    flags = [f"--architecture={arch}", "--os=linux", f"--created={CREATED}", f"--history.created={CREATED}",
             "--history.created_by=umoci config", "--clear=config.env", "--clear=config.cmd"]
    flags += [f"--config.env={e}" for e in img.env]
    flags += [f"--config.cmd={c}" for c in img.cmd]
    flags += [f"--config.entrypoint={e}" for e in img.entrypoint]
    flags += [f"--config.exposedports={p}" for p in img.exposed]
    if img.stop_signal:
        flags.append(f"--config.stopsignal={img.stop_signal}")
    if img.workdir:
        flags.append(f"--config.workingdir={img.workdir}")
    labels = {
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.description": img.description,
        "org.opencontainers.image.title": f"{img.repo.removeprefix('library/')}:{img.tag}",
        **img.labels,
    }
    flags += [f"--config.label={k}={v}" for k, v in sorted(labels.items())]
    return flags


def _single(layout: Path, tag: str, img: Image, tars: list[Path], arch: str, work: Path) -> None:
    ref = f"{layout}:{tag}"
    _run("umoci", "new", "--image", ref)
    _run("umoci", "raw", "add-layer", "--image", ref, f"--history.created={CREATED}",
         f"--history.created_by=mmdebstrap/tar: {tars[0].name.rsplit('-', 1)[0]}", str(tars[0]))
    for tar in tars[1:]:
        bundle = work / f"bundle-{tag}"
        shutil.rmtree(bundle, ignore_errors=True)
        _run("umoci", "unpack", "--image", ref, str(bundle))
        rootfs = bundle / "rootfs"
        shutil.rmtree(rootfs)
        rootfs.mkdir()
        _run("tar", "--numeric-owner", "--xattrs", "-xpf", str(tar), "-C", str(rootfs))
        _run("umoci", "repack", "--image", ref, f"--history.created={CREATED}",
             f"--history.created_by=mmdebstrap --include: {tar.name.rsplit('-', 1)[0]}", str(bundle))
        shutil.rmtree(bundle)
    _run("umoci", "config", "--image", ref, *_config_flags(img, arch))


def _write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    if not path.exists():
        path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def _add_index(layout: Path, tag: str, members: list[tuple[str, str]]) -> None:
    """An OCI index over already-tagged single manifests ``[(tag, arch), ...]``."""
    tags = _tags(layout)
    manifests = []
    for member, arch in members:
        desc = tags[member]
        platform = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            platform["variant"] = "v8"
        manifests.append({"mediaType": OCI_MANIFEST, "digest": desc["digest"], "size": desc["size"],
                          "platform": platform})
    blob = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests},
                      separators=(",", ":")).encode()
    digest, size = _write_blob(layout, blob)
    index = _index(layout)
    entries = [m for m in index["manifests"]
               if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    entries.append({"mediaType": OCI_INDEX, "digest": digest, "size": size,
                    "annotations": {"org.opencontainers.image.ref.name": tag}})
    index["manifests"] = entries
    tmp = layout / "index.json.tmp"
    tmp.write_text(json.dumps(index))
    os.replace(tmp, layout / "index.json")


def add_image(layout: Path, img: Image, rootfs: dict[str, Path]) -> None:
    """Make ``img`` in ``layout`` under the tag ``img.layout_tag`` (replacing an old one)."""
    if not (layout / "index.json").exists():
        layout.parent.mkdir(parents=True, exist_ok=True)
        _run("umoci", "init", "--layout", str(layout))
    tag = img.layout_tag
    with tempfile.TemporaryDirectory(prefix="kit-umoci-", dir=layout.parent) as tmp:
        work = Path(tmp)
        tars = [rootfs[n] for n in img.layers]
        if img.fmt in ("oci-index", "v2s2-list"):
            members = [(f"{tag}-amd64", "amd64")]
            _single(layout, f"{tag}-amd64", img, tars, "amd64", work)
            for extra in img.extra_arch:
                _single(layout, f"{tag}-arm64", img, [rootfs[extra]], "arm64", work)
                members.append((f"{tag}-arm64", "arm64"))
            _add_index(layout, tag, members)
        elif img.fmt == "oci-zstd":
            plain = f"{tag}-gzip"
            _single(layout, plain, img, tars, "amd64", work)
            # skopeo recompresses only into a destination that lacks the blob: go through a fresh layout
            fresh = work / "zstd"
            subprocess.run(["skopeo", "copy", "-q", "--dest-compress-format", "zstd",
                            f"oci:{layout}:{plain}", f"oci:{fresh}:{tag}"], check=True)
            subprocess.run(["skopeo", "copy", "-q", f"oci:{fresh}:{tag}", f"oci:{layout}:{tag}"], check=True)
        else:
            _single(layout, tag, img, tars, "amd64", work)
    _run("umoci", "gc", "--layout", str(layout))
