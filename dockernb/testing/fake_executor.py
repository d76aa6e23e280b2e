"""An in-memory :class:`~dockernb.build.executor.Executor` for unit tests of the build flow.

It keeps image configs and layers in dictionaries and runs nothing: a RUN's exit code and
output come from ``scripts`` (command text -> (exit code, output)) or from a trailing
``exit N``; its layer is a digest of what the step would see (parent, command, environment),
and a COPY's layer is a digest of the destination and the *content* of every source file, so
that cache and layer bookkeeping can be checked without a kernel. Every call is recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field

from dockernb.build.executor import BaseImage, CopySpec, Layer, RunResult, RunSpec
from dockernb.build.image import ImageDoc, image_id_of
from dockernb.errors import InternalError, ManifestUnknown
from dockernb.spec.events import BuildOutput, Stream

__all__ = ["FakeExecutor"]


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class FakeExecutor:
    """Images by id, layers by diff_id, tags by name; ``calls`` lists (method, args) in order."""

    #: pullable images: reference as written in FROM (or normalised) -> config
    registry: dict[str, ImageDoc] = field(default_factory=dict)
    #: RUN command (the last argv element) -> (exit code, output)
    scripts: dict[str, tuple[int, str]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)

    def add_base(self, ref: str, doc: ImageDoc | None = None, *, layers: int = 1) -> BaseImage:
        """Make ``ref`` pullable: a base image with ``layers`` registered layers."""
        doc = doc or ImageDoc()
        if not doc.diff_ids:
            doc.diff_ids = [_digest("base", ref, i) for i in range(layers)]
        for d in doc.diff_ids:
            self.layers[d] = f"base {ref}"
        if not doc.history:
            from dockernb.build.image import History

            doc.history = [History(created="1970-01-01T00:00:00Z", created_by="fake base") for _ in doc.diff_ids]
        self.registry[ref] = doc
        raw = doc.to_bytes()
        self.images[image_id_of(raw)] = raw
        return BaseImage(image_id=image_id_of(raw), doc=doc)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    # -- the Executor role ------------------------------------------------------------------

    def pull(self, ref: str, *, platform: str = "", always: bool = False) -> BaseImage:
        self.calls.append(("pull", (ref, platform, always)))
        doc = self.registry.get(ref)
        if doc is None:
            name = ref if ":" in ref.rsplit("/", 1)[-1] or "@" in ref else ref + ":latest"
            raise ManifestUnknown(name)
        raw = doc.to_bytes()
        return BaseImage(image_id=image_id_of(raw), doc=ImageDoc.from_bytes(raw))

    def image(self, image_id: str) -> BaseImage | None:
        self.calls.append(("image", image_id))
        raw = self.images.get(image_id)
        if raw is None:
            return None
        return BaseImage(image_id=image_id, doc=ImageDoc.from_bytes(raw))

    def run(self, parent: BaseImage, spec: RunSpec) -> Generator[BuildOutput, None, RunResult]:
        self.calls.append(("run", spec))
        script = spec.argv[-1] if spec.argv else ""
        code, output = self.scripts.get(script, (0, ""))
        m = re.search(r"(?:^|;|&&)\s*exit (\d+)\s*$", script)
        if script not in self.scripts and m:
            code = int(m.group(1))
        for line in output.splitlines(keepends=True):
            yield BuildOutput(text=line, stream=Stream.STDOUT)
        if code != 0:
            return RunResult(exit_code=code)
        diff = _digest("run", parent.image_id, spec.argv, spec.env, spec.user, spec.workdir, dict(spec.files))
        self.layers[diff] = f"run {script}"
        return RunResult(exit_code=0, layer=Layer(diff_id=diff, size=len(script)))

    def copy(self, parent: BaseImage, spec: CopySpec) -> Layer | None:
        self.calls.append(("copy", spec))
        content: list[object] = [spec.dest, spec.chown, spec.chmod]
        for src in spec.sources:
            if src.content is not None:
                content.append((src.name, hashlib.sha256(src.content).hexdigest()))
            elif src.path is not None and src.is_dir:
                for member in src.members:
                    p = src.path / member
                    data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
                    content.append((src.name, member, hashlib.sha256(data).hexdigest()))
            elif src.path is not None:
                content.append((src.name, hashlib.sha256(src.path.read_bytes()).hexdigest()))
            else:
                content.append((src.name, src.image_path, spec.from_image.image_id if spec.from_image else ""))
        diff = _digest("copy", content)
        self.layers[diff] = f"copy to {spec.dest}"
        return Layer(diff_id=diff, size=1)

    def mkdir(self, parent: BaseImage, path: str, *, user: str = "") -> Layer | None:
        self.calls.append(("mkdir", path))
        if path in ("/", ""):
            return None
        diff = _digest("mkdir", path)
        self.layers[diff] = f"mkdir {path}"
        return Layer(diff_id=diff, size=0)

    def commit(self, config: bytes) -> str:
        doc = ImageDoc.from_bytes(config)
        missing = [d for d in doc.diff_ids if d not in self.layers]
        if missing:
            raise InternalError(f"commit of a config with unregistered layers: {missing}")
        image_id = image_id_of(config)
        self.images[image_id] = config
        self.calls.append(("commit", image_id))
        return image_id

    def tag(self, image_id: str, name: str) -> None:
        self.calls.append(("tag", (image_id, name)))
        if image_id not in self.images:
            raise InternalError(f"tag of an unknown image {image_id}")
        self.tags[name] = image_id

    # -- helpers for tests ------------------------------------------------------------------

    def doc(self, image_id: str) -> ImageDoc:
        return ImageDoc.from_bytes(self.images[image_id])

    def runs(self) -> list[RunSpec]:
        return [spec for name, spec in self.calls if name == "run" and isinstance(spec, RunSpec)]

    def copies(self) -> list[CopySpec]:
        return [spec for name, spec in self.calls if name == "copy" and isinstance(spec, CopySpec)]

    def forget_image(self, image_id: str) -> None:
        self.images.pop(image_id, None)

    def env_of(self, image_id: str) -> Mapping[str, str]:
        return self.doc(image_id).config.env_map()
