"""The build plan: stages, steps, what each step records and what its cache key is made of (L5).

:func:`plan_build` turns a parsed Dockerfile and the build options into the list of stages to
run (cut at ``--target``; ``--label`` values become LABEL steps of the last stage) and the
step count docker prints (``Step 3/6``). Steps are numbered across the meta ARGs, each FROM
and each instruction.

The rest are docker's rules for one step, used by the builder: which instructions change the
filesystem (RUN, COPY, ADD, WORKDIR: a layer) and which only the config (an ``empty_layer``
history entry), the command line of a RUN (SHELL, heredocs), and the text docker records in
``container_config.Cmd`` and ``history[].created_by`` (``/bin/sh -c #(nop)  ENV A=1``), which
is also what the cache key of a step is made of.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from docker_image import reference as _ref

from dockernb.build.gosyntax import clean_path, quote, quote_list
from dockernb.build.parse import (
    ArgInstr,
    CmdInstr,
    Command,
    CopyInstr,
    Dockerfile,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    FromInstr,
    HealthcheckInstr,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    RunInstr,
    ShellInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
    chomp,
)
from dockernb.errors import BuildTargetNotFound, DockerfileParseError, InvalidArgument, InvalidReference

__all__ = [
    "BuildPlan",
    "StagePlan",
    "changes_filesystem",
    "config_comment",
    "go_duration",
    "normalize_dest",
    "normalize_tag",
    "normalize_workdir",
    "parse_ports",
    "plan_build",
    "run_argv",
    "shell_form",
    "validate_signal",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StagePlan:
    index: int
    name: str  # lower case, "" when unnamed
    from_: FromInstr
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildPlan:
    meta_args: tuple[ArgInstr, ...]
    stages: tuple[StagePlan, ...]
    total_steps: int
    escape: str = "\\"


def plan_build(df: Dockerfile, *, target: str = "", labels: Mapping[str, str] | None = None) -> BuildPlan:
    """The stages to build and the step count. Raises BuildTargetNotFound, DockerfileParseError."""
    stages = list(df.stages)
    seen: dict[str, int] = {}
    for stage in stages:
        if stage.name and stage.name in seen:
            raise DockerfileParseError(stage.from_.line, f"{stage.name} stage name already used")
        if stage.name:
            seen[stage.name] = stage.index
    if target:
        wanted = target.lower()
        if wanted not in seen:
            raise BuildTargetNotFound(target)
        stages = stages[: seen[wanted] + 1]
    plans = [StagePlan(index=s.index, name=s.name, from_=s.from_, commands=s.commands) for s in stages]
    if labels:
        last = plans[-1]
        extra = tuple(
            LabelInstr(
                keyword="LABEL",
                text=f"LABEL {k}={labels[k]}",
                source=f"LABEL {k}={labels[k]}",
                line=0,
                pairs=((k, labels[k]),),
                expand=False,
            )
            for k in sorted(labels)
        )
        plans[-1] = StagePlan(index=last.index, name=last.name, from_=last.from_, commands=last.commands + extra)
    total = len(df.meta_args) + sum(1 + len(p.commands) for p in plans)
    return BuildPlan(meta_args=df.meta_args, stages=tuple(plans), total_steps=total, escape=df.escape)


def changes_filesystem(cmd: Command) -> bool:
    """RUN, COPY, ADD and WORKDIR may add a layer; every other instruction only edits the config."""
    return isinstance(cmd, RunInstr | CopyInstr | WorkdirInstr)


# --- command lines ---------------------------------------------------------------------------


def shell_form(args: Sequence[str], json_form: bool, shell: Sequence[str]) -> list[str]:
    """docker's resolveCmdLine: a shell-form command runs as ``SHELL + [command]``."""
    if json_form:
        return list(args)
    return [*shell, *args]


def run_argv(cmd: RunInstr, shell: Sequence[str]) -> tuple[list[str], dict[str, bytes]]:
    """A RUN's command line, and the inline files a heredoc with a ``#!`` line needs (BuildKit's rules).

    ``RUN <<EOF`` runs the document with the shell (or as an executable file when it starts
    with ``#!``); ``RUN <<EOF cmd`` hands the reconstituted script to the shell.
    """
    if not cmd.heredocs:
        return shell_form(cmd.args, cmd.json_form, shell), {}
    line = cmd.args[0]
    first = cmd.heredocs[0]
    if re.fullmatch(r"\d*<<-?\s*\S+", line.strip()) and len(cmd.heredocs) == 1:
        data = chomp(first.content) if first.chomp else first.content
        if data.startswith("#!"):
            path = f"/dev/pipes/{first.name}"
            return [path], {path: data.encode()}
        return [*shell, data], {}
    script = line + "".join(f"\n{doc.content}{doc.name}" for doc in cmd.heredocs)
    return [*shell, script], {}


# --- paths ------------------------------------------------------------------------------------


def normalize_workdir(current: str, requested: str) -> str:
    """docker's normalizeWorkdir: relative paths join the current WORKDIR; absolute ones stay as written."""
    if requested == "":
        raise InvalidArgument("cannot normalize nothing")
    if requested.startswith("/"):
        return requested
    return clean_path("/" + (current or "/") + "/" + requested)


def normalize_dest(workdir: str, dest: str) -> str:
    """docker's normalizeDest: a relative COPY destination is under the WORKDIR; a trailing ``/`` stays."""
    if dest.startswith("/"):
        return dest
    joined = clean_path("/" + (workdir or "/") + "/" + dest)
    if dest.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


# --- config values --------------------------------------------------------------------------------

_PROTOS = ("tcp", "udp", "sctp")


def parse_ports(ports: Sequence[str]) -> list[str]:
    """EXPOSE values as docker's nat.ParsePortSpecs keys them: ``80`` -> ``80/tcp``, ranges expanded."""
    out: list[str] = []
    for raw in ports:
        spec = raw
        proto = "tcp"
        if "/" in spec:
            spec, proto = spec.rsplit("/", 1)
            proto = proto.lower()
            if proto not in _PROTOS:
                raise InvalidArgument(f"Invalid proto: {proto}")
        if ":" in spec:
            spec = spec.rsplit(":", 1)[1]
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", spec)
        if not m:
            raise InvalidArgument(f"Invalid containerPort: {spec}")
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else start
        if end < start or end > 65535:
            raise InvalidArgument(
                f"Invalid range format for --expose: {raw}, error: Invalid range specified for the Port: {spec}"
            )
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def validate_signal(sig: str) -> None:
    """docker's signal.ParseSignal: ``SIGTERM``, ``TERM``, ``15``, ``SIGRTMIN+3``."""
    if sig.isdigit():
        if int(sig) == 0:
            raise InvalidArgument(f"Invalid signal: {sig}")
        return
    name = sig.upper().removeprefix("SIG")
    if re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name):
        return
    if name not in {s.name.removeprefix("SIG") for s in signal.Signals}:
        raise InvalidArgument(f"Invalid signal: {sig}")


def go_duration(ns: int) -> str:
    """Go's time.Duration.String: ``0s``, ``1.5s``, ``1m30s``, ``300ms``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _frac(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _frac(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def _go_char(n: int) -> str:
    """Go's %q of an int (a rune literal), as docker's HEALTHCHECK history shows Retries."""
    specials = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v"}
    if n in specials:
        return f"'{specials[n]}'"
    if n == 0x27:
        return "'\\''"
    if n == 0x5C:
        return "'\\\\'"
    if n < 0x20 or n == 0x7F:
        return f"'\\x{n:02x}'"
    return f"'{chr(n)}'"


def config_comment(cmd: Command, *, health: Mapping[str, object] | None = None) -> str:
    """What docker records for a config-only step (``ENV A=1``, ``CMD ["a" "b"]``...).

    ``cmd`` is the instruction after substitution (and, for CMD/ENTRYPOINT, with the shell
    already prepended: see :func:`shell_form`).
    """
    if isinstance(cmd, EnvInstr):
        return "ENV " + " ".join(f"{k}={v}" for k, v in cmd.pairs)
    if isinstance(cmd, LabelInstr):
        return "LABEL" + "".join(f" {k}={v}" for k, v in cmd.pairs)
    if isinstance(cmd, ArgInstr):
        return "ARG " + " ".join(k if v is None else f"{k}={v}" for k, v in cmd.args)
    if isinstance(cmd, CmdInstr):
        return f"CMD {quote_list(cmd.args)}"
    if isinstance(cmd, EntrypointInstr):
        return f"ENTRYPOINT {quote_list(cmd.args)}"
    if isinstance(cmd, ExposeInstr):
        return "EXPOSE " + " ".join(cmd.ports)
    if isinstance(cmd, UserInstr):
        return f"USER {cmd.user}"
    if isinstance(cmd, VolumeInstr):
        return f"VOLUME [{' '.join(cmd.paths)}]"
    if isinstance(cmd, StopSignalInstr):
        return f"STOPSIGNAL {cmd.signal}"
    if isinstance(cmd, ShellInstr):
        return f"SHELL [{' '.join(cmd.args)}]"
    if isinstance(cmd, OnbuildInstr):
        return f"ONBUILD {cmd.expression}"
    if isinstance(cmd, MaintainerInstr):
        return f"MAINTAINER {cmd.name}"
    if isinstance(cmd, HealthcheckInstr):
        return (
            f"HEALTHCHECK &{{{quote_list(cmd.test)} {quote(go_duration(cmd.interval_ns))} "
            f"{quote(go_duration(cmd.timeout_ns))} {quote(go_duration(cmd.start_period_ns))} "
            f"{_go_char(cmd.retries)}}}"
        )
    raise InvalidArgument(f"unsupported command type: {type(cmd).__name__}")


# --- tags ---------------------------------------------------------------------------------------------


def normalize_tag(name: str) -> tuple[str, str]:
    """``(full, familiar)`` names for a ``-t`` value: ``web`` -> (``docker.io/library/web:latest``,
    ``web:latest``). Raises InvalidReference with docker's words."""
    try:
        ref = _ref.Reference.parse_normalized_named(name)
    except Exception as err:  # docker_image raises its own hierarchy (and ValueError)
        text = str(err)
        if "must be lowercase" in text:
            raise InvalidReference(name, "repository name must be lowercase") from None
        raise InvalidReference(name) from None
    full = str(ref["name"])
    tag = ref["tag"]
    digest = ref["digest"]
    if digest:
        raise InvalidReference(name)
    full = f"{full}:{tag or 'latest'}"
    familiar = full.removeprefix("docker.io/").removeprefix("library/")
    return full, familiar
