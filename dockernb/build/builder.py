"""The build flow: a Dockerfile and a context in, progress events and an image out (layer L5).

:class:`Builder` walks the plan the way docker's classic builder does: the meta ARGs, then
each stage (FROM, ONBUILD triggers of the base, each instruction), one step at a time. For a
step it substitutes variables, works out docker's record of the step (``container_config.Cmd``),
looks that up in the cache (keyed by parent image and record), and on a miss asks the
:class:`~dockernb.build.executor.Executor` to do the filesystem part before committing the
child image config (config, history, diff_ids) it computed itself. Everything it does is
reported as :mod:`dockernb.spec.events` records, which ``dockernb.present.build`` prints as
docker's lines.

Errors: before the first step (parse, ``--target``) they are raised as they are; during a
step any DockernbError becomes a :class:`~dockernb.errors.BuildError` (docker prints those
without ``Error response from daemon``), whose ``exit_code`` is a failed RUN's own code.
"""

from __future__ import annotations

import hashlib
import os
import platform as _platform
import re
import secrets
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dockernb._version import DOCKER_COMPAT
from dockernb.build.apply import ConfigState, apply_config
from dockernb.build.cache import BuildCache, step_key
from dockernb.build.context import BuildContext
from dockernb.build.executor import BaseImage, CopySource, CopySpec, Executor, Layer, RunSpec
from dockernb.build.expand import BuildArgs, Lexer, expand_from, expand_instruction
from dockernb.build.gosyntax import quote, quote_list
from dockernb.build.image import DEFAULT_PATH, History, ImageDoc, RunConfig, format_created
from dockernb.build.parse import (
    ArgInstr,
    CmdInstr,
    Command,
    CopyInstr,
    EntrypointInstr,
    RunInstr,
    WorkdirInstr,
    chomp,
    parse_dockerfile,
    parse_instructions,
)
from dockernb.build.plan import (
    StagePlan,
    config_comment,
    normalize_dest,
    normalize_tag,
    normalize_workdir,
    plan_build,
    run_argv,
)
from dockernb.errors import BuildError, DockernbError, InvalidArgument
from dockernb.spec.events import (
    BuildCacheHit,
    BuildContainer,
    BuildContextSent,
    BuildDone,
    BuildEvent,
    BuildStep,
    BuildStepDone,
    BuildTagged,
    BuildTriggers,
    BuildWarning,
    Stream,
)

__all__ = ["BuildOptions", "Builder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    """What ``docker build`` flags ask of the builder."""

    tags: tuple[str, ...] = ()
    #: --build-arg: NAME=value, or NAME -> None when given without a value and unset in the environment
    build_args: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    network: str = "default"
    platform: str = ""


@dataclass(slots=True)
class _Stage:
    index: int
    name: str
    image: BaseImage
    config: RunConfig
    args: BuildArgs
    author: str = ""
    cmd_set: bool = False
    busted: bool = False  # docker's imageProber: after the first miss in a stage, no more lookups


def _host_arch() -> str:
    machine = _platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


class Builder:
    """Runs builds against one executor and one cache (reusable, one build at a time per call)."""

    def __init__(
        self,
        executor: Executor,
        *,
        cache: BuildCache | None = None,
        tmp_dir: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        new_id: Callable[[], str] | None = None,
        fetch: Callable[[str, Path], str] | None = None,
    ) -> None:
        self.executor = executor
        self.cache = cache if cache is not None else BuildCache()
        self.tmp_dir = tmp_dir
        self._now = clock or (lambda: datetime.now(UTC))
        self._new_id = new_id or (lambda: secrets.token_hex(32))
        self._fetch = fetch or _http_fetch

    # -- the whole build -----------------------------------------------------------------

    def build(self, context: BuildContext, options: BuildOptions | None = None) -> Iterator[BuildEvent]:
        """Build ``context.dockerfile_text``; yields docker's progress, ends with BuildDone/BuildTagged."""
        opts = options or BuildOptions()
        ignore = context.entries.get(".dockerignore")
        yield BuildContextSent(
            size=context.size,
            dockerfile=os.path.basename(context.dockerfile_name) or "Dockerfile",
            dockerfile_size=len(context.dockerfile_text.encode("utf-8", "surrogateescape")),
            dockerignore_size=ignore.size if ignore is not None else -1,
        )
        df = parse_dockerfile(context.dockerfile_text, name=context.dockerfile_name)
        plan = plan_build(df, target=opts.target, labels=opts.labels)
        tags = [normalize_tag(t) for t in opts.tags]
        for line in df.notes:
            yield BuildWarning(text=line, stream=Stream.STDERR)
        for line in df.warnings:
            yield BuildWarning(text=line, stream=Stream.STDERR)

        lexer = Lexer(plan.escape)
        args = BuildArgs(opts.build_args)
        step = 0
        for meta in plan.meta_args:
            step += 1
            yield BuildStep(index=step, total=plan.total_steps, text=meta.text)
            try:
                expanded = expand_instruction(meta, args.all_allowed(), lexer)
            except DockernbError as err:
                raise BuildError(str(err), step=step, instruction=meta.text) from err
            assert isinstance(expanded, ArgInstr)
            for key, value in expanded.args:
                args.add_arg(key, value)
                args.add_meta_arg(key, value)

        results: list[BaseImage] = []
        named: dict[str, BaseImage] = {}
        final: _Stage | None = None
        transfer = _context_transfer(context, plan.stages)
        for stage_plan in plan.stages:
            step += 1
            vertices = 1 + sum(1 for c in stage_plan.commands if _is_vertex(c))
            stage_name = (stage_plan.name or f"stage-{stage_plan.index}") if len(plan.stages) > 1 else ""
            on_stage = stage_plan.from_.image.lower() in named  # BuildKit shows no FROM vertex for those
            yield BuildStep(index=step, total=plan.total_steps, text=stage_plan.from_.text, stage=stage_plan.index,
                            vertex=0 if on_stage else 1, vertices=vertices, stage_name=stage_name,
                            context_transfer=transfer if stage_plan is plan.stages[0] else -1)  # fmt: skip
            try:
                st = self._begin_stage(stage_plan, args, lexer, opts, named)
                reused = self._used_before(st.image.image_id, opts)
                if st.config.on_build:
                    yield from self._triggers(st, lexer, opts, context, results, named)
            except BuildError:
                raise
            except DockernbError as err:
                raise BuildError(str(err), step=step, instruction=stage_plan.from_.text) from err
            yield BuildStepDone(image_id=st.image.image_id, reused=reused)
            vertex = 1
            for cmd in stage_plan.commands:
                step += 1
                vertex += _is_vertex(cmd)
                yield BuildStep(index=step, total=plan.total_steps, text=cmd.text, stage=stage_plan.index,
                                vertex=vertex if _is_vertex(cmd) else 0, vertices=vertices,
                                stage_name=stage_name)  # fmt: skip
                try:
                    yield from self._dispatch(st, cmd, lexer, opts, context, results, named)
                except BuildError as err:
                    if not err.instruction:
                        err.step, err.instruction = step, cmd.text
                    raise
                except DockernbError as err:
                    raise BuildError(str(err), step=step, instruction=cmd.text) from err
                except OSError as err:
                    raise BuildError(f"{cmd.keyword} failed: {err}", step=step, instruction=cmd.text) from err
                yield BuildStepDone(image_id=st.image.image_id)
            args.merge_referenced(st.args)
            results.append(st.image)
            if st.name:
                named[st.name] = st.image
            final = st

        unused = args.unused()
        if unused:
            yield BuildWarning(text=f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed")
        if final is None or not final.image.image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        image_id = final.image.image_id
        yield BuildDone(image_id=image_id)
        for full, familiar in tags:
            self.executor.tag(image_id, full)
            yield BuildTagged(name=familiar)

    # -- stages ---------------------------------------------------------------------------

    def _begin_stage(
        self, plan: StagePlan, args: BuildArgs, lexer: Lexer, opts: BuildOptions, named: Mapping[str, BaseImage]
    ) -> _Stage:
        from_ = expand_from(plan.from_, args.all_meta(), lexer)
        platform = from_.platform or opts.platform
        if platform:
            _check_platform(platform)
        if from_.image == "":
            raise InvalidArgument(f"base name ({plan.from_.image}) should not be blank")
        base = named.get(from_.image.lower())
        if base is None:
            if from_.image == "scratch":
                os_name, _, rest = (platform or f"linux/{_host_arch()}").partition("/")
                arch, _, variant = rest.partition("/")
                base = BaseImage(image_id="", doc=ImageDoc(os=os_name, architecture=arch, variant=variant))
            else:
                base = self.executor.pull(from_.image, platform=platform, always=opts.pull)
        config = base.doc.config.copy()
        if "PATH" not in config.env_map():
            config.env = [*(config.env or []), f"PATH={DEFAULT_PATH}"]
        config.image = base.image_id
        return _Stage(index=plan.index, name=plan.name, image=base, config=config, args=args.for_stage())

    def _triggers(
        self,
        st: _Stage,
        lexer: Lexer,
        opts: BuildOptions,
        context: BuildContext,
        results: Sequence[BaseImage],
        named: Mapping[str, BaseImage],
    ) -> Iterator[BuildEvent]:
        triggers = list(st.config.on_build or ())
        st.config.on_build = None
        yield BuildTriggers(count=len(triggers))
        for trigger in triggers:
            commands = parse_instructions(trigger)
            if len(commands) != 1:
                raise InvalidArgument("onbuild trigger should be a single expression")
            yield from self._dispatch(st, commands[0], lexer, opts, context, results, named)

    # -- one step -------------------------------------------------------------------------

    def _dispatch(
        self,
        st: _Stage,
        cmd: Command,
        lexer: Lexer,
        opts: BuildOptions,
        context: BuildContext,
        results: Sequence[BaseImage],
        named: Mapping[str, BaseImage],
    ) -> Iterator[BuildEvent]:
        env = st.config.env_map()
        env.update(st.args.visible(env))
        cmd = expand_instruction(cmd, env, lexer)
        config = st.config
        shell = config.get_shell()
        if isinstance(cmd, RunInstr):
            yield from self._run(st, cmd, opts)
            return
        if isinstance(cmd, CopyInstr):
            yield from self._copy(st, cmd, context, results, named, opts)
            return
        if isinstance(cmd, WorkdirInstr):
            config.working_dir = normalize_workdir(config.working_dir, cmd.path)
            record = [*shell, f"#(nop) WORKDIR {config.working_dir}"]
            key, hit = self._probe(st, record, opts)
            if hit is not None:
                yield BuildCacheHit()
                st.image = hit
                return
            cid = self._new_id()
            yield BuildContainer(container_id=cid)
            layer = self.executor.mkdir(st.image, config.working_dir, user=config.user)
            self._commit(st, record, layer=layer, container_id=cid, key=key)
            yield BuildContainer(container_id=cid, removed=True)
            return
        # config-only instructions: change the config, then commit an empty layer
        if isinstance(cmd, ArgInstr):
            for name, default in cmd.args:
                st.args.add_arg(name, default)
        else:
            edit = ConfigState(config=config, author=st.author, cmd_set=st.cmd_set)
            note = apply_config(edit, cmd)
            st.author, st.cmd_set = edit.author, edit.cmd_set
            if note:
                yield BuildWarning(text=note)
        if isinstance(cmd, CmdInstr):
            comment = f"CMD {quote_list(config.cmd)}"
        elif isinstance(cmd, EntrypointInstr):
            comment = f"ENTRYPOINT {quote_list(config.entrypoint)}"
        else:
            comment = config_comment(cmd)
        record = [*config.get_shell(), "#(nop) ", comment]  # after the step: SHELL records its own shell
        key, hit = self._probe(st, record, opts)
        if hit is not None:
            yield BuildCacheHit()
            st.image = hit
            return
        cid = self._new_id()
        yield BuildContainer(container_id=cid)
        self._commit(st, record, layer=None, container_id=cid, key=key)
        yield BuildContainer(container_id=cid, removed=True)

    def _run(self, st: _Stage, cmd: RunInstr, opts: BuildOptions) -> Generator[BuildEvent, None, None]:
        config = st.config
        argv, files = run_argv(cmd, config.get_shell())
        env_keys = config.env_map()
        visible = st.args.visible(env_keys)
        record = list(argv)
        if visible:
            recorded = st.args.for_history(env_keys)
            record = [f"|{len(recorded)}", *recorded, *argv]
        network = cmd.network if cmd.network != "default" else opts.network
        extra = [f"network={network}"] if network != "default" else []
        extra += [f"{path}={hashlib.sha256(data).hexdigest()}" for path, data in sorted(files.items())]
        key, hit = self._probe(st, record, opts, *extra)
        if hit is not None:
            yield BuildCacheHit()
            st.image = hit
            return
        cid = self._new_id()
        yield BuildContainer(container_id=cid)
        spec = RunSpec(
            container_id=cid,
            argv=tuple(argv),
            env=(*(config.env or ()), *sorted(f"{k}={v}" for k, v in visible.items())),
            user=config.user,
            workdir=config.working_dir or "/",
            network=network,
            files=files,
        )
        result = yield from self.executor.run(st.image, spec)
        if result.exit_code != 0:
            raise BuildError(
                f"The command '{' '.join(argv)}' returned a non-zero code: {result.exit_code}",
                code=result.exit_code,
            )
        self._commit(st, record, layer=result.layer, container_id=cid, key=key, clear_entrypoint=True)
        yield BuildContainer(container_id=cid, removed=True)

    def _copy(
        self,
        st: _Stage,
        cmd: CopyInstr,
        context: BuildContext,
        results: Sequence[BaseImage],
        named: Mapping[str, BaseImage],
        opts: BuildOptions,
    ) -> Iterator[BuildEvent]:
        name = cmd.keyword
        config = st.config
        from_image: BaseImage | None = None
        sources: list[CopySource] = []
        sums: list[str] = []
        tmp: Path | None = None
        try:
            if cmd.from_:
                from_image = self._from_image(cmd.from_, results, named, opts)
                for src in cmd.sources:
                    sources.append(CopySource(name=os.path.basename(src.rstrip("/")) or "/", image_path=src))
                    sums.append(f"{from_image.image_id}:{src}")
            else:
                local: list[str] = []
                for src in cmd.sources:
                    if re.match(r"^https?://", src):
                        if not cmd.add:
                            raise InvalidArgument(f"{name} failed: source can't be a URL for COPY")
                        if tmp is None:
                            tmp = Path(tempfile.mkdtemp(prefix="dockernb-add-", dir=self.tmp_dir))
                        source, checksum = self._download(src, cmd.checksum, tmp, cmd.dest)
                        sources.append(source)
                        sums.append(checksum)
                    else:
                        local.append(src)
                if local:
                    for found in context.sources(local, name):
                        base = os.path.basename(found.rel) if found.rel else os.path.basename(str(context.root))
                        sources.append(
                            CopySource(
                                name=base,
                                path=found.path,
                                is_dir=found.is_dir,
                                members=found.members,
                                extract=cmd.add,
                            )
                        )
                        sums.append(found.checksum)
            for doc in cmd.contents:
                data = (chomp(doc.content) if doc.chomp else doc.content).encode()
                sources.append(CopySource(name=doc.name, content=data))
                sums.append("file:" + hashlib.sha256(doc.name.encode() + b"\0" + data).hexdigest())
            if len(sources) > 1 and not cmd.dest.endswith("/"):
                raise InvalidArgument(
                    f"When using {name} with more than one source file, "
                    "the destination must be a directory and end with a /"
                )
            chmod = None
            if cmd.chmod:
                if not re.fullmatch(r"[0-7]+", cmd.chmod) or int(cmd.chmod, 8) > 0o7777:
                    raise InvalidArgument(
                        f"invalid chmod parameter: '{cmd.chmod}'. it should be octal string and between 0 and 07777"
                    )
                chmod = int(cmd.chmod, 8)
            src_hash = sums[0] if len(sums) == 1 else _multi(sums)
            chown = f"--chown={cmd.chown}" if cmd.chown else ""
            chmod_note = f"--chmod={cmd.chmod} " if cmd.chmod else ""
            comment = f"{name} {chmod_note}{chown}{src_hash} in {cmd.dest} "
            record = [*config.get_shell(), f"#(nop) {comment}"]
            key, hit = self._probe(st, record, opts)
            if hit is not None:
                yield BuildCacheHit()
                st.image = hit
                return
            spec = CopySpec(
                sources=tuple(sources),
                dest=normalize_dest(config.working_dir, cmd.dest),
                from_image=from_image,
                chown=cmd.chown,
                chmod=chmod,
                preserve_ownership=bool(cmd.from_) and not cmd.chown,
                user=config.user,
                instruction=name,
            )
            layer = self.executor.copy(st.image, spec)
            self._commit(st, record, layer=layer, container_id="", key=key)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _from_image(
        self, ref: str, results: Sequence[BaseImage], named: Mapping[str, BaseImage], opts: BuildOptions
    ) -> BaseImage:
        stage = named.get(ref.lower())
        if stage is not None:
            return stage
        if re.fullmatch(r"-?\d+", ref):
            index = int(ref)
            if index == len(results):
                raise InvalidArgument(f"invalid from flag value {ref}: refers to current build stage")
            if index < 0 or index > len(results):
                raise InvalidArgument(f"invalid from flag value {ref}: index out of bounds")
            return results[index]
        return self.executor.pull(ref, platform=opts.platform, always=False)

    def _download(self, url: str, checksum: str, tmp: Path, dest: str) -> tuple[CopySource, str]:
        """ADD <url>: fetch into ``tmp`` (streamed), check ``--checksum``, hash it as docker does."""
        body = tmp / ".download"
        filename = self._fetch(url, body)
        digest = hashlib.sha256()
        size = 0
        with open(body, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        if checksum and "sha256:" + digest.hexdigest() != checksum:
            raise InvalidArgument(f"digest mismatch for {url}: expected {checksum}, got sha256:{digest.hexdigest()}")
        if not filename:
            if dest.endswith("/"):
                raise InvalidArgument(f"cannot determine filename for source {url}")
            filename = "__unnamed__"
        path = tmp / str(len(list(tmp.iterdir()))) / filename
        path.parent.mkdir(mode=0o700)
        os.replace(body, path)
        os.chmod(path, 0o600)  # docker's download file mode, part of its checksum
        h = hashlib.sha256()
        for key, value in (
            ("name", filename),
            ("mode", str(0o100600)),
            ("uid", "0"),
            ("gid", "0"),
            ("size", str(size)),
            ("typeflag", "0"),
            ("linkname", ""),
            ("uname", ""),
            ("gname", ""),
            ("devmajor", "0"),
            ("devminor", "0"),
        ):
            h.update((key + value).encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return CopySource(name=filename, path=path), "file:" + h.hexdigest()

    # -- cache and commit ---------------------------------------------------------------------

    def _used_before(self, image_id: str, opts: BuildOptions) -> bool:
        """Has a build on this root started from ``image_id`` before (BuildKit: the FROM is CACHED)?"""
        if not image_id:
            return False
        key = step_key(image_id, ["#(from)"])
        seen = self.cache.get(key) is not None and not opts.no_cache
        self.cache.put(key, image_id)
        return seen

    def _probe(
        self, st: _Stage, record: Sequence[str], opts: BuildOptions, *extra: str
    ) -> tuple[str, BaseImage | None]:
        key = step_key(st.image.image_id, record, *extra)
        if opts.no_cache or st.busted:
            st.busted = True
            return key, None
        cached = self.cache.get(key)
        if cached is not None:
            image = self.executor.image(cached)
            if image is not None:
                st.config.image = image.image_id
                return key, image
            self.cache.forget(key)
        st.busted = True
        return key, None

    def _commit(
        self,
        st: _Stage,
        record: Sequence[str],
        *,
        layer: Layer | None,
        container_id: str,
        key: str,
        clear_entrypoint: bool = False,
    ) -> None:
        parent = st.image.doc
        created = format_created(self._now())
        config = st.config.copy()
        config.image = st.image.image_id
        probe = st.config.copy()
        probe.image = st.image.image_id
        probe.cmd = list(record)
        if clear_entrypoint:
            probe.entrypoint = None
        doc = ImageDoc(
            architecture=parent.architecture,
            os=parent.os,
            variant=parent.variant,
            config=config,
            container=container_id,
            container_config=probe,
            created=created,
            docker_version=DOCKER_COMPAT,
            author=st.author,
            diff_ids=[*parent.diff_ids, *([layer.diff_id] if layer else [])],
            history=[
                *parent.history,
                History(created=created, created_by=" ".join(record), author=st.author, empty_layer=layer is None),
            ],
            extra={k: v for k, v in parent.extra.items() if k not in ("id", "parent")},
        )
        raw = doc.to_bytes()
        image_id = self.executor.commit(raw)
        self.cache.put(key, image_id)
        st.image = BaseImage(image_id=image_id, doc=doc)
        st.config.image = image_id


def _is_vertex(cmd: Command) -> bool:
    """Does BuildKit show this instruction as a step of its own (it makes a filesystem)?"""
    return isinstance(cmd, RunInstr | CopyInstr | WorkdirInstr)


def _context_transfer(context: BuildContext, stages: Sequence[StagePlan]) -> int:
    """What BuildKit's "load build context" reports for the COPY/ADD sources from the context: its
    file-sync stream, about 27 bytes plus the path per entry and the files' bytes (2 when nothing
    matches); -1 when no COPY/ADD reads the context."""
    patterns = [src for stage in stages for cmd in stage.commands if isinstance(cmd, CopyInstr) and not cmd.from_
                for src in cmd.sources if not re.match(r"^https?://", src)]  # fmt: skip
    if not patterns:
        return -1
    total = 0
    for pattern in patterns:
        try:
            found = context.sources([pattern])
        except DockernbError:
            continue
        for src in found:
            rels = [f"{src.rel}/{m}" if src.rel else m for m in src.members] if src.is_dir else [src.rel]
            for rel in rels:
                entry = context.entries.get(rel)
                total += 27 + len(rel) + (entry.size if entry is not None and entry.is_file else 0)
    return total or 2


def _multi(sums: Sequence[str]) -> str:
    return "multi:" + hashlib.sha256(",".join(sums).encode()).hexdigest()


def _check_platform(value: str) -> None:
    parts = value.split("/")
    if not (1 <= len(parts) <= 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise InvalidArgument(
            f"failed to parse platform {value}: {quote(value)}: unknown operating system or architecture"
        )


def _http_fetch(url: str, into: Path) -> str:
    """GET ``url`` for ADD, streaming the body into ``into``; returns docker's guess of a file name."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - ADD fetches what the Dockerfile names
            fd = os.open(into, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
            disposition = resp.headers.get("Content-Disposition", "")
    except OSError as err:
        raise InvalidArgument(f"failed to GET {url}: {err}") from None
    path = urllib.parse.urlparse(url).path
    if path and not path.endswith("/") and os.path.basename(path):
        return os.path.basename(path)
    m = re.search(r'filename="?([^";]+)"?', disposition or "")
    if m and not m.group(1).endswith("/"):
        return os.path.basename(m.group(1))
    return ""
