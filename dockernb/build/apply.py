"""Config-only instructions applied to an image config, for builds and ``commit --change`` (L5).

A build step such as ``ENV A=1`` or ``CMD ["sh"]`` only changes the image config; docker's
``commit --change`` accepts the same instructions (CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL
ONBUILD USER VOLUME WORKDIR) and applies them the same way, so both use :func:`apply_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockernb.build.expand import Lexer, expand_instruction
from dockernb.build.image import RunConfig
from dockernb.build.parse import (
    CmdInstr,
    Command,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    HealthcheckInstr,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    ShellInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
    parse_instructions,
)
from dockernb.build.plan import normalize_workdir, parse_ports, shell_form, validate_signal

__all__ = ["COMMIT_CHANGES", "ConfigState", "apply_changes", "apply_config"]

#: the instructions ``docker commit --change`` accepts (builder.go validCommitCommands)
COMMIT_CHANGES = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR")


@dataclass(slots=True)
class ConfigState:
    """A config being edited, plus what docker tracks beside it within one stage."""

    config: RunConfig
    author: str = ""
    cmd_set: bool = False  # a CMD was given in this stage (an ENTRYPOINT then keeps it)


def apply_config(state: ConfigState, cmd: Command) -> str:
    """Apply a config-only instruction (already substituted); returns a note docker prints, if any.

    Raises InvalidArgument for a bad EXPOSE port or STOPSIGNAL signal.
    """
    config = state.config
    shell = config.get_shell()
    if isinstance(cmd, EnvInstr):
        for key, value in cmd.pairs:
            config.set_env(key, value)
    elif isinstance(cmd, LabelInstr):
        config.labels = {**(config.labels or {}), **dict(cmd.pairs)}
    elif isinstance(cmd, CmdInstr):
        config.cmd = shell_form(cmd.args, cmd.json_form, shell)
        if cmd.args:
            state.cmd_set = True
    elif isinstance(cmd, EntrypointInstr):
        config.entrypoint = None if cmd.args is None else shell_form(cmd.args, cmd.json_form, shell)
        if not state.cmd_set:
            config.cmd = None
    elif isinstance(cmd, ExposeInstr):
        config.exposed_ports = {**(config.exposed_ports or {}), **{p: {} for p in parse_ports(cmd.ports)}}
    elif isinstance(cmd, UserInstr):
        config.user = cmd.user
    elif isinstance(cmd, VolumeInstr):
        config.volumes = {**(config.volumes or {}), **{p: {} for p in cmd.paths}}
    elif isinstance(cmd, StopSignalInstr):
        validate_signal(cmd.signal)
        config.stop_signal = cmd.signal
    elif isinstance(cmd, ShellInstr):
        config.shell = list(cmd.args)
    elif isinstance(cmd, WorkdirInstr):
        config.working_dir = normalize_workdir(config.working_dir, cmd.path)
    elif isinstance(cmd, HealthcheckInstr):
        old = (config.healthcheck or {}).get("Test") or []
        health: dict[str, object] = {"Test": list(cmd.test)}
        for name, number in (
            ("Interval", cmd.interval_ns),
            ("Timeout", cmd.timeout_ns),
            ("StartPeriod", cmd.start_period_ns),
            ("Retries", cmd.retries),
        ):
            if number:
                health[name] = number
        config.healthcheck = health
        if old and old[0] != "NONE":
            return f"Note: overriding previous HEALTHCHECK: [{' '.join(old)}]"
    elif isinstance(cmd, OnbuildInstr):
        config.on_build = [*(config.on_build or []), cmd.expression]
    elif isinstance(cmd, MaintainerInstr):
        state.author = cmd.name
    return ""


def apply_changes(config: RunConfig, changes: Sequence[str]) -> RunConfig:
    """docker's ``commit --change``: a new config with the changes applied (``config`` untouched).

    Words are substituted with the config's own ENV, as docker does. Raises InvalidChange
    (``run is not a valid change command``), DockerfileParseError, InvalidArgument.
    """
    state = ConfigState(config=config.copy())
    if not changes:
        return state.config
    lexer = Lexer()
    for cmd in parse_instructions("\n".join(changes), allow=COMMIT_CHANGES):
        apply_config(state, expand_instruction(cmd, state.config.env_map(), lexer))
    return state.config
