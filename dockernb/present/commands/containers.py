"""The container verbs' runners: parsed arguments + engine.containers -> docker's output and exit codes (L7).

docker's CLI behaviour lives here: ``run``'s ``Unable to find image 'x:latest' locally`` and the
pull before the create, the cidfile, ``-it`` without a terminal (``the input device is not a
TTY``, exit 1), errors per argument for the verbs taking several containers (``stop a nosuch``
stops ``a``, then fails), the client-side ``Error: No such container: x`` of rm/logs/exec/inspect
versus the daemon's ``Error response from daemon: ...`` of stop/kill/wait/restart/start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

from dockernb.errors import (
    ContainerStartFailed,
    DockernbError,
    InvalidReference,
    NoSuchContainer,
    NoSuchImage,
)
from dockernb.present.containers import render_ps
from dockernb.present.containerspec import ClientError, read_kv_file, request_from_args
from dockernb.present.context import Context
from dockernb.present.gotemplate import TemplateError, render
from dockernb.present.logs import TimeArgError, log_chunks, parse_time_arg, tail_arg
from dockernb.present.ports import port_lines
from dockernb.present.terminal import binary, pump_attachment, pump_exec, stdin_fd, terminal_size

__all__ = ["RUNNERS"]


def _stdin(ctx: Context) -> Any:  # noqa: ANN401 - a file object
    return ctx.stdin if ctx.stdin is not None else sys.stdin


def _is_tty(ctx: Context) -> bool:
    fd = stdin_fd(_stdin(ctx))
    return fd is not None and os.isatty(fd)


def _verb(ns: argparse.Namespace, default: str) -> str:
    return str(getattr(ns, "_verb", default))


def _client_error(ctx: Context, verb: str, err: ClientError) -> int:
    if err.usage:
        ctx.eprint(f"{err.message}\nSee '{ctx.prog} {verb} --help'.")
    else:
        ctx.eprint(f"{ctx.prog}: {err.message.removesuffix('.')}.\nSee '{ctx.prog} {verb} --help'.")
    return 125


def _daemon_error(ctx: Context, err: DockernbError) -> int:
    """An error at start time of run: docker prints it without the help hint."""
    ctx.eprint(f"{ctx.prog}: Error response from daemon: {str(err).removesuffix('.')}.")
    return err.exit_code if err.exit_code in (126, 127) else 125


# --- run and create ---------------------------------------------------------------------------


def _create(ctx: Context, ns: argparse.Namespace, verb: str, *, detach: bool) -> tuple[str, Any] | int:
    """Shared by run and create: the created container's id and the request, or an exit code."""
    try:
        req = request_from_args(ns, detach=detach)
    except ClientError as err:
        return _client_error(ctx, verb, err)
    from dockernb.spec.reference import parse_reference

    try:
        ref = parse_reference(req.config.image)
    except InvalidReference as err:
        return _client_error(ctx, verb, ClientError(str(err)))
    if req.cidfile and os.path.exists(req.cidfile):
        return _client_error(ctx, verb, ClientError(
            f"Container ID file found, make sure the other container isn't running or delete {req.cidfile}"))
    engine = ctx.engine
    if req.pull == "always":
        _pull(ctx, ns, req.config.image, req.platform)
    try:
        created = engine.containers.create(req.config, req.host_config, name=req.name)
    except NoSuchImage:
        if req.pull == "never":
            raise
        shown = ref.with_default_tag().familiar if ref.digest is None else ref.familiar
        ctx.eprint(f"Unable to find image '{shown}' locally")
        _pull(ctx, ns, req.config.image, req.platform)
        created = engine.containers.create(req.config, req.host_config, name=req.name)
    for warning in created.warnings:
        ctx.eprint(f"WARNING: {warning}")
    if req.cidfile:
        try:
            with open(req.cidfile, "x") as f:
                f.write(created.id)
        except OSError as err:
            ctx.eprint(f"{ctx.prog}: failed to create the container ID file: {err}.")
    return created.id, req


def _pull(ctx: Context, ns: argparse.Namespace, image: str, platform: str) -> None:
    from dockernb.present import images as image_view

    printer = image_view.ProgressPrinter(ctx.err)
    quiet = bool(getattr(ns, "quiet", False))
    for message in ctx.engine.containers.images.pull(image, platform=platform):
        if not quiet:
            printer.write(message)


def create(ns: argparse.Namespace, ctx: Context) -> int:
    made = _create(ctx, ns, _verb(ns, "create"), detach=True)
    if isinstance(made, int):
        return made
    ctx.print(made[0])
    return 0


def run(ns: argparse.Namespace, ctx: Context) -> int:
    verb = _verb(ns, "run")
    if ns.tty and ns.interactive and not ns.detach and not _is_tty(ctx):
        ctx.eprint("the input device is not a TTY")
        return 1
    if ns.detach_keys:
        from dockernb.engine.containers import parse_detach_keys

        parse_detach_keys(ns.detach_keys)
    made = _create(ctx, ns, verb, detach=ns.detach)
    if isinstance(made, int):
        return made
    cid, req = made
    containers = ctx.engine.containers
    cfg = req.config
    if ns.detach:
        try:
            containers.start(cid)
        except DockernbError as err:
            if req.host_config.auto_remove:
                with contextlib.suppress(DockernbError):
                    containers.remove(cid, force=True, volumes=True)
            return _daemon_error(ctx, err)
        for warning in containers.last_warnings:
            ctx.eprint(f"WARNING: {warning}")
        ctx.print(cid)
        return 0
    size = terminal_size() if cfg.tty else None
    try:
        att = containers.start(cid, attach=(cfg.attach_stdin, cfg.attach_stdout, cfg.attach_stderr),
                               console_size=size)
    except DockernbError as err:
        if req.host_config.auto_remove:
            with contextlib.suppress(DockernbError):
                containers.remove(cid, force=True, volumes=True)
        return _daemon_error(ctx, err)
    for warning in containers.last_warnings:
        ctx.eprint(f"WARNING: {warning}")
    assert att is not None
    sig_proxy = str(ns.sig_proxy).lower() in ("true", "1", "")
    forward = _forwarder(ctx, cid) if sig_proxy and not cfg.tty else None
    code = pump_attachment(att, out=ctx.out, err=ctx.err, stdin=_stdin(ctx), send_stdin=cfg.attach_stdin,
                           detach_keys=ns.detach_keys, forward=forward)
    if code is None:
        if att.exit_code is None and containers.current_state(cid).status.value in ("running", "paused"):
            return 0  # detached (or the monitor went away while it runs)
        code = containers.wait(cid)
    if req.host_config.auto_remove:
        containers.finish_auto_remove(cid)
    return code


def _forwarder(ctx: Context, cid: str) -> Callable[[int], None]:
    import signal

    def forward(sig: int) -> None:
        ctx.engine.containers.kill(cid, signal.Signals(sig).name)

    return forward


# --- start, stop, restart, kill, wait, rm ------------------------------------------------------


def _each(ctx: Context, ns: argparse.Namespace, act: Callable[[str], str | None], *, client_side: bool = False,
          error_text: Callable[[str, DockernbError], str] | None = None) -> tuple[int, list[str]]:
    """Run ``act`` on every argument, printing what it returns; docker's per-argument errors."""
    failed: list[str] = []
    for ref in ns.args:
        try:
            shown = act(ref)
        except NoSuchContainer as err:
            if client_side:
                ctx.eprint(f"Error: No such container: {ref}")
            else:
                ctx.eprint(f"Error response from daemon: {error_text(ref, err) if error_text else err}")
            failed.append(ref)
            continue
        except DockernbError as err:
            ctx.eprint(f"Error response from daemon: {error_text(ref, err) if error_text else err}")
            failed.append(ref)
            continue
        if shown is not None:
            ctx.print(shown)
    return (1 if failed else 0), failed


def start(ns: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    if ns.attach or ns.interactive:
        if len(ns.args) > 1:
            ctx.eprint("you cannot start and attach multiple containers at once")
            return 1
        ref = ns.args[0]
        cid = containers.resolve(ref)
        record = containers.store.record(cid)
        if ns.interactive and record.config.tty and not _is_tty(ctx):
            ctx.eprint("the input device is not a TTY")
            return 1
        with_stdin = ns.interactive and record.config.open_stdin
        size = terminal_size() if record.config.tty else None
        att = containers.start(cid, attach=(with_stdin, True, True), console_size=size)
        assert att is not None
        forward = _forwarder(ctx, cid) if not record.config.tty else None
        code = pump_attachment(att, out=ctx.out, err=ctx.err, stdin=_stdin(ctx), send_stdin=with_stdin,
                               detach_keys=ns.detach_keys, forward=forward)
        if code is None:
            return 0
        if record.host_config.auto_remove:
            containers.finish_auto_remove(cid)
        return code

    def act(ref: str) -> str:
        containers.start(ref)
        return ref

    code, failed = _each(ctx, ns, act)
    if failed:
        ctx.eprint(f"Error: failed to start containers: {', '.join(failed)}")
    return code


def stop(ns: argparse.Namespace, ctx: Context) -> int:
    def act(ref: str) -> str:
        ctx.engine.containers.stop(ref, timeout=ns.time)
        return ref

    return _each(ctx, ns, act)[0]


def restart(ns: argparse.Namespace, ctx: Context) -> int:
    def act(ref: str) -> str:
        ctx.engine.containers.restart(ref, timeout=ns.time)
        return ref

    return _each(ctx, ns, act)[0]


def kill(ns: argparse.Namespace, ctx: Context) -> int:
    def act(ref: str) -> str:
        ctx.engine.containers.kill(ref, ns.signal)
        return ref

    return _each(ctx, ns, act)[0]


def wait(ns: argparse.Namespace, ctx: Context) -> int:
    def act(ref: str) -> str:
        return str(ctx.engine.containers.wait(ref))

    return _each(ctx, ns, act)[0]


def rm(ns: argparse.Namespace, ctx: Context) -> int:
    def act(ref: str) -> str:
        ctx.engine.containers.remove(ref, force=ns.force, volumes=ns.volumes)
        return ref

    return _each(ctx, ns, act, client_side=True)[0]


# --- ps, logs, inspect, port, rename ---------------------------------------------------------------


def ps(ns: argparse.Namespace, ctx: Context) -> int:
    filters: dict[str, list[str]] = {}
    for name, value in ns.filters:
        filters.setdefault(name, []).append(value)
    fmt = ns.format
    from dockernb.present.containers import wants_size

    size = wants_size(fmt, ns.size) and not ns.quiet
    items = ctx.engine.containers.list(all=ns.all, filters=filters, limit=ns.last, latest=ns.latest, size=size)
    try:
        text = render_ps(items, fmt=fmt, quiet=ns.quiet, size=ns.size, trunc=not ns.no_trunc)
    except TemplateError as err:
        ctx.eprint(f"failed to execute template: {err}")
        return 1
    ctx.out.write(text)
    return 0


def logs(ns: argparse.Namespace, ctx: Context) -> int:
    try:
        since = parse_time_arg(ns.since, "since") if ns.since else 0
        until = parse_time_arg(ns.until, "until") if ns.until else 0
    except TimeArgError as err:
        ctx.eprint(str(err))
        return 1
    ref = ns.args[0]
    try:
        lines = ctx.engine.containers.logs(ref, tail=tail_arg(ns.tail), since_ns=since, until_ns=until,
                                           follow=ns.follow)
    except NoSuchContainer:
        ctx.eprint(f"Error: No such container: {ref}")
        return 1
    out, errs = binary(ctx.out), binary(ctx.err)
    ctx.out.flush()
    try:
        # a follower writes each line as it comes (batching would hold lines back until 512 or the end)
        for stream, data in log_chunks(lines, timestamps=ns.timestamps, details=ns.details,
                                       batch=1 if ns.follow else 512):
            target = errs if stream == "stderr" else out
            target.write(data)
            if ns.follow:
                target.flush()
    except KeyboardInterrupt:
        pass
    out.flush()
    errs.flush()
    return 0


def container_inspect(ns: argparse.Namespace, ctx: Context) -> int:
    found: list[Any] = []
    errors: list[str] = []
    for ref in ns.args:
        try:
            data = ctx.engine.containers.inspect(ref)
            if ns.size:
                rw, root = ctx.engine.containers.sizes(ctx.engine.containers.store.record(data["Id"]))
                data["SizeRw"], data["SizeRootFs"] = rw, root
            found.append(data)
        except NoSuchContainer:
            errors.append(f"Error: No such container: {ref}")
        except DockernbError as err:
            errors.append(f"Error response from daemon: {err}")
    if ns.format:
        try:
            text = "".join(render(ns.format, item) + "\n" for item in found)
        except TemplateError as err:
            ctx.eprint(f"Template parsing error: {err}")
            return 1
        ctx.out.write(text or "\n")
    else:
        from dockernb.present import images as image_view

        ctx.print(image_view.go_json(found) if found else "[]")
    if errors:
        ctx.eprint("\n".join(errors))
        return 1
    return 0


def port(ns: argparse.Namespace, ctx: Context) -> int:
    ref = ns.args[0]
    bindings = ctx.engine.containers.port(ref)
    private = ns.args[1] if len(ns.args) > 1 else None
    lines = port_lines(bindings, private)
    if private is not None and not lines:
        from dockernb.spec.ports import split_proto_port

        proto, number = split_proto_port(private)
        ctx.eprint(f"Error: No public port '{number}/{proto}' published for {ref}")
        return 1
    for line in lines:
        ctx.print(line)
    return 0


def rename(ns: argparse.Namespace, ctx: Context) -> int:
    old, new = ns.args
    try:
        ctx.engine.containers.rename(old, new)
    except DockernbError as err:
        text = str(err)
        if "already in use" in text:
            text = f"Error when allocating new name: {text}"
        ctx.eprint(f"Error response from daemon: {text}\nError: failed to rename container named {old}")
        return 1
    return 0


# --- exec, attach ------------------------------------------------------------------------------------


def exec_(ns: argparse.Namespace, ctx: Context) -> int:
    if ns.tty and ns.interactive and not _is_tty(ctx):
        ctx.eprint("the input device is not a TTY")
        return 1
    ref, cmd = ns.args[0], ns.args[1:]
    env = list(ns.env)
    for f in ns.env_file:
        try:
            env = read_kv_file(f) + env
        except ClientError as err:
            ctx.eprint(err.message)
            return 1
    env = [e if "=" in e else f"{e}={os.environ[e]}" for e in env if "=" in e or e in os.environ]
    try:
        proc = ctx.engine.containers.exec_start(
            ref, cmd, env=env, workdir=ns.workdir, user=ns.user, tty=ns.tty, stdin=ns.interactive,
            privileged=ns.privileged, console_size=terminal_size() if ns.tty else None, detach=ns.detach,
        )  # fmt: skip
    except NoSuchContainer:
        ctx.eprint(f"Error: No such container: {ref}")
        return 1
    except ContainerStartFailed as err:
        # docker prints the runtime's failure on the attached stream (stdout) and exits 126
        ctx.print(str(err))
        return 126
    if proc is None:
        return 0
    code = pump_exec(proc, out=ctx.out, err=ctx.err, stdin=_stdin(ctx), send_stdin=ns.interactive,
                     detach_keys=ns.detach_keys)
    return 0 if code is None else code


def attach(ns: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    ref = ns.args[0]
    cid = containers.resolve(ref)
    record = containers.store.record(cid)
    with_stdin = record.config.open_stdin and not ns.no_stdin
    if with_stdin and record.config.tty and not _is_tty(ctx):
        ctx.eprint("the input device is not a TTY")
        return 1
    att = containers.attach(cid, stdin=with_stdin, stdout=True, stderr=True)
    sig_proxy = str(ns.sig_proxy).lower() in ("true", "1", "")
    forward = _forwarder(ctx, cid) if sig_proxy and not record.config.tty else None
    code = pump_attachment(att, out=ctx.out, err=ctx.err, stdin=_stdin(ctx), send_stdin=with_stdin,
                           detach_keys=ns.detach_keys, forward=forward)
    if code is None:
        if containers.current_state(cid).status.value in ("running", "paused"):
            return 0
        code = containers.wait(cid)
    return code


def _spelled(fn: Callable[[argparse.Namespace, Context], int], *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        for spelled in (name, f"container {name}"):
            def bound(ns: argparse.Namespace, ctx: Context, _fn: Any = fn, _name: str = spelled) -> int:  # noqa: ANN401
                ns._verb = _name
                return int(_fn(ns, ctx))

            out[spelled] = bound
    return out


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "ps": ps, "container ls": ps, "container ps": ps, "container list": ps,
    "logs": logs, "container logs": logs,
    **_spelled(run, "run"), **_spelled(create, "create"), **_spelled(start, "start"), **_spelled(stop, "stop"),
    **_spelled(restart, "restart"), **_spelled(kill, "kill"), **_spelled(wait, "wait"), **_spelled(rm, "rm"),
    "container remove": rm, "container inspect": container_inspect,
    **_spelled(exec_, "exec"), **_spelled(attach, "attach"), **_spelled(port, "port"), **_spelled(rename, "rename"),
}  # fmt: skip

