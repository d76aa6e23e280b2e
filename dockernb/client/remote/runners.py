"""The verb runners a magic or the Docker kernel uses on a remote engine (layer L7.5).

The shared runners (:mod:`dockernb.present.commands`) serve the verbs that need only the seam
(ps, images, pull, logs, stop, rm, inspect...); ``run``/``create`` and ``exec`` are this module's,
over docker-py's calls, for the flags listed in :data:`RUN_FLAGS`. Any other verb or flag gets
``"dockernb connect": VERB is not available on a remote engine yet`` and exit code 1, never a
traceback.
"""

from __future__ import annotations

import argparse
from typing import Any, cast

from dockernb.client.remote.backend import RemoteContainers, RemoteEngine, not_remote
from dockernb.errors import DockernbError, InvalidArgument, NoSuchContainer, NoSuchImage, Unavailable
from dockernb.present.args import parse
from dockernb.present.context import Context
from dockernb.present.dispatch import Runner, shared_runner
from dockernb.spec.reference import parse_reference

__all__ = ["RUN_FLAGS", "remote_runner"]

#: verbs whose shared runner needs only what the remote backend serves
SHARED = frozenset({
    "ps", "container ls", "container list", "container ps", "images", "image ls", "image list", "pull",
    "image pull", "logs", "container logs", "stop", "container stop", "restart", "container restart", "kill",
    "container kill", "wait", "container wait", "rm", "container rm", "rmi", "image rm", "tag", "image tag",
    "inspect", "container inspect", "image inspect", "start", "container start",
})  # fmt: skip

#: the ``run``/``create`` options the remote runner passes on (argparse dests)
RUN_FLAGS = frozenset({"detach", "name", "env", "label", "tty", "interactive", "entrypoint", "workdir", "user",
                       "publish", "rm", "hostname", "args", "sig_proxy", "pull", "quiet"})  # fmt: skip


def remote_runner(verb: str) -> Runner:
    """The runner of ``verb`` on a remote engine; a daemon that does not answer gets the CLI's one line."""
    found = _pick(verb)

    def run_remote(ns: argparse.Namespace, ctx: Context) -> int:
        try:
            return found(ns, ctx)
        except Unavailable as err:
            ctx.eprint(str(err))  # docker's "Cannot connect to the Docker daemon at ...", exit code 1
            return 1
        except DockernbError:
            raise  # dispatch prints it as the CLI does
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            # an answer this backend did not expect (another engine's JSON): one line, not a traceback
            ctx.eprint(f"Error: unexpected answer from the engine at {_url(ctx)} to {verb}: {err!r}")
            return 1

    return run_remote


def _url(ctx: Context) -> str:
    return str(getattr(ctx._engine, "url", "?"))


def _pick(verb: str) -> Runner:
    if verb in ("run", "container run", "create", "container create"):
        return lambda ns, ctx: run(ns, ctx, verb)
    if verb in ("exec", "container exec"):
        return exec_
    if verb in SHARED:
        found = shared_runner(verb)
        if found is not None:
            return _guarded(verb, found)
    return _refused(verb)


def _refused(verb: str) -> Runner:
    def refuse(ns: argparse.Namespace, ctx: Context) -> int:
        ctx.eprint(str(not_remote(verb)))
        return 1

    return refuse


def _guarded(verb: str, shared: Runner) -> Runner:
    def run_shared(ns: argparse.Namespace, ctx: Context) -> int:
        if verb in ("inspect", "container inspect") and getattr(ns, "size", False):
            ctx.eprint(str(not_remote(f"{verb} --size")))
            return 1
        if verb in ("start", "container start") and (ns.attach or ns.interactive):
            ctx.eprint(str(not_remote(f"{verb} -a")))
            return 1
        return shared(ns, ctx)

    return run_shared


def _containers(ctx: Context) -> RemoteContainers:
    engine = cast(Any, ctx.engine)
    if not isinstance(engine, RemoteEngine):
        raise InvalidArgument("not a remote engine")
    return engine.containers


def _unsupported_flags(verb: str, ns: argparse.Namespace) -> list[str]:
    defaults = vars(parse(verb, ["x"]))
    return [k for k, v in vars(ns).items() if k not in RUN_FLAGS and not k.startswith("_") and defaults.get(k) != v]


def _ports(specs: list[str]) -> tuple[list[Any], dict[str, Any]]:
    exposed: list[Any] = []
    bindings: dict[str, Any] = {}
    for spec in specs:
        body, _, proto = spec.partition("/")
        parts = body.split(":")
        port = f"{parts[-1]}/{proto or 'tcp'}"
        exposed.append((int(parts[-1]), proto or "tcp"))
        host = parts[-2] if len(parts) >= 2 else None
        ip = parts[-3] if len(parts) >= 3 else ""
        bound: Any = (ip, int(host) if host else None) if ip else (int(host) if host else None)
        bindings.setdefault(port, []).append(bound)
    return exposed, bindings


def run(ns: argparse.Namespace, ctx: Context, verb: str = "run") -> int:
    """``run``/``create``: create (pulling a missing image, docker's words), start, then the id or the output."""
    creating = verb.endswith("create")
    odd = _unsupported_flags("create" if creating else "run", ns)
    if odd:
        ctx.eprint(str(not_remote(f"{verb} --{odd[0].replace('_', '-')}")))
        return 1
    if not creating and (ns.tty or ns.interactive) and not ns.detach:
        ctx.eprint(str(not_remote(f"{verb} -it")))
        return 1
    containers = _containers(ctx)
    api = cast(RemoteEngine, ctx.engine).api
    image = ns.args[0]
    exposed, bindings = _ports(list(ns.publish))
    detach = creating or ns.detach
    labels = dict(item.split("=", 1) if "=" in item else (item, "") for item in ns.label)
    host_config = api.create_host_config(port_bindings=bindings or None, auto_remove=bool(ns.rm and detach))
    options: dict[str, Any] = dict(
        name=ns.name or None, environment=list(ns.env) or None, labels=labels or None, tty=ns.tty,
        stdin_open=ns.interactive, entrypoint=[ns.entrypoint] if ns.entrypoint else None,
        working_dir=ns.workdir or None, user=ns.user or None, hostname=ns.hostname or None,
        ports=exposed or None, host_config=host_config,
    )  # fmt: skip
    cmd = list(ns.args[1:]) or None
    try:
        cid = containers.create(image, cmd, **options)
    except NoSuchImage:
        ref = parse_reference(image)
        shown = (ref if ref.tag or ref.digest else ref.with_default_tag()).familiar
        ctx.eprint(f"Unable to find image '{shown}' locally")
        from dockernb.present.images import ProgressPrinter

        printer = ProgressPrinter(ctx.err)
        for message in containers.images.pull(shown):
            printer.write(message)
        cid = containers.create(image, cmd, **options)
    for warning in containers.last_warnings:
        ctx.eprint(f"WARNING: {warning}")
    if creating:
        ctx.print(cid)
        return 0
    try:
        containers.start(cid)
    except DockernbError:
        if ns.rm:
            containers.remove(cid, force=True)
        raise
    if ns.detach:
        ctx.print(cid)
        return 0
    code = containers.wait(cid)
    for line in containers.logs(cid):
        target = ctx.err if line.stream == "stderr" else ctx.out
        target.write(line.data.decode("utf-8", "replace"))
    ctx.out.flush()
    if ns.rm:
        containers.remove(cid, force=True)
    return code


def exec_(ns: argparse.Namespace, ctx: Context) -> int:
    """``exec`` without a terminal (``-it`` is refused): the command's output and exit code."""
    if ns.tty or ns.interactive or ns.env_file:
        flag = "-it" if ns.tty or ns.interactive else "--env-file"
        ctx.eprint(str(not_remote(f"exec {flag}")))
        return 1
    ref = ns.args[0]
    try:
        code, out, err = _containers(ctx).exec_demux(ref, ns.args[1:], env=list(ns.env), workdir=ns.workdir,
                                                     user=ns.user, privileged=ns.privileged, detach=ns.detach)
    except NoSuchContainer:
        ctx.eprint(f"Error: No such container: {ref}")
        return 1
    ctx.out.write(out.decode("utf-8", "replace"))
    ctx.err.write(err.decode("utf-8", "replace"))
    ctx.out.flush()
    return 0 if code is None else code
