"""``python -m dockernb.runtime``: a runc-like command over a bundle, for tests and the runc diff (L4).

Not the user-facing CLI (that is ``dockernb``). Verbs follow runc's: ``run``, ``create``,
``start``, ``state``, ``kill``, ``delete``, ``exec``, ``pause``, ``resume``, ``ps``, plus
``spec`` (docker's default config.json for a bundle, from :mod:`dockernb.runtime.bundle`).
State lives under ``--root`` (default ``/run/dockernb-runtime``, or
``$XDG_RUNTIME_DIR/dockernb-runtime`` for other users), one directory per container id.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Sequence
from pathlib import Path

from dockernb.errors import DockernbError, InvalidArgument

__all__ = ["main"]

PROG = "dockernb-runtime"


def _default_root() -> Path:
    if os.geteuid() == 0:
        return Path("/run/dockernb-runtime")
    return Path(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/dockernb-runtime-{os.geteuid()}") / "dockernb-runtime"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="run OCI bundles with dockernb's runtime (runc's verbs)")
    p.add_argument("--root", type=Path, default=None, help="state directory root")
    sub = p.add_subparsers(dest="verb", required=True)
    for verb in ("run", "create"):
        s = sub.add_parser(verb)
        s.add_argument("-b", "--bundle", type=Path, default=Path("."))
        s.add_argument("--pid-file", type=Path)
        s.add_argument("--keep", action="store_true", help="run: do not delete the container after it exits")
        s.add_argument("id")
    for verb in ("start", "state", "pause", "resume", "ps"):
        sub.add_parser(verb).add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("-a", "--all", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="TERM")
    d = sub.add_parser("delete")
    d.add_argument("-f", "--force", action="store_true")
    d.add_argument("id")
    e = sub.add_parser("exec")
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-u", "--user")
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("--cwd")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("--privileged", action="store_true")
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("spec", help="write docker's default config.json for the bundle's rootfs")
    s.add_argument("-b", "--bundle", type=Path, default=Path("."))
    s.add_argument("--id", default="0" * 64)
    s.add_argument("-t", "--tty", action="store_true")
    s.add_argument("-u", "--user")
    s.add_argument("-w", "--workdir")
    s.add_argument("-e", "--env", action="append", default=[])
    s.add_argument("--network", default="none")
    s.add_argument("--privileged", action="store_true")
    s.add_argument("--read-only", action="store_true")
    s.add_argument("--init", action="store_true")
    s.add_argument("--cap-add", action="append", default=[])
    s.add_argument("--cap-drop", action="append", default=[])
    s.add_argument("--memory", type=int, default=0)
    s.add_argument("--pids-limit", type=int, default=0)
    s.add_argument("--cpus", type=float, default=0.0)
    s.add_argument("--security-opt", action="append", default=[])
    s.add_argument("command", nargs=argparse.REMAINDER)
    return p


def _signal(name: str) -> int:
    name = name.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise InvalidArgument(f"invalid signal: {name}") from None


def _relay(master: int, pid: int) -> None:
    """Copy between the caller's terminal (raw mode) and the container's pty until it closes."""
    from dockernb.runtime.console import resize, window_size

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        try:
            resize(master, *window_size(0))
        except OSError:
            pass
    try:
        fds = [master, 0] if saved is not None else [master]
        while True:
            ready, _, _ = select.select(fds, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    fds.remove(0)
                else:
                    os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _spec(args: argparse.Namespace) -> int:
    from dockernb.runtime.bundle import ContainerIntent, build_spec, write_bundle

    command = [c for c in args.command if c != "--"] or ["sh"]
    intent = ContainerIntent(
        container_id=args.id,
        cmd=tuple(command),
        env=tuple(args.env),
        user=args.user,
        workdir=args.workdir,
        tty=args.tty,
        network=args.network,
        privileged=args.privileged,
        read_only=args.read_only,
        init=args.init,
        cap_add=tuple(args.cap_add),
        cap_drop=tuple(args.cap_drop),
        memory=args.memory,
        pids_limit=args.pids_limit,
        cpus=args.cpus,
        no_new_privileges="no-new-privileges" in args.security_opt
        or "no-new-privileges:true" in args.security_opt,
        seccomp="unconfined" if "seccomp=unconfined" in args.security_opt else "default",
    )
    spec = build_spec(intent, rootfs=args.bundle / "rootfs")
    write_bundle(args.bundle, spec)
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    from dockernb import runtime as rt

    if args.verb == "spec":
        return _spec(args)
    root: Path = args.root or _default_root()
    state_dir = root / args.id
    if args.verb in ("run", "create"):
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = rt.create(args.id, state_dir=state_dir, bundle=args.bundle.resolve(), stdio=rt.Stdio(0, 1, 2))
        for w in created.warnings:
            print(f"WARNING: {w}", file=sys.stderr)
        if args.pid_file:
            args.pid_file.write_text(str(created.pid))
        if args.verb == "create":
            if created.pty_master is not None:
                os.close(created.pty_master)
            return 0
        try:
            rt.start(state_dir)
            if created.pty_master is not None:
                _relay(created.pty_master, created.pid)
        except BaseException:
            rt.delete(state_dir, force=True)
            rt.wait(created.pid)
            raise
        code = rt.wait(created.pid)
        if not args.keep:
            rt.delete(state_dir, force=True)
        return 255 if code is None else code
    if args.verb == "start":
        rt.start(state_dir)
        return 0
    if args.verb == "state":
        print(json.dumps(rt.state(state_dir).to_json(), indent=2))
        return 0
    if args.verb == "kill":
        rt.kill(state_dir, _signal(args.signal), all_processes=args.all)
        return 0
    if args.verb == "delete":
        rt.delete(state_dir, force=args.force)
        return 0
    if args.verb == "pause":
        rt.pause(state_dir)
        return 0
    if args.verb == "resume":
        rt.resume(state_dir)
        return 0
    if args.verb == "ps":
        print("\n".join(str(p) for p in rt.pids(state_dir)))
        return 0
    if args.verb == "exec":
        command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
        proc = rt.exec_process(
            state_dir,
            command,
            env=args.env,
            cwd=args.cwd,
            user=args.user,
            tty=args.tty,
            privileged=args.privileged,
            stdio=rt.Stdio(0, 1, 2),
        )
        if args.detach:
            print(proc.pid)
            return 0
        if proc.pty_master is not None:
            _relay(proc.pty_master, proc.pid)
            os.close(proc.pty_master)
        code = proc.wait()
        return 255 if code is None else code
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except DockernbError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return err.exit_code if err.exit_code != 1 or args.verb not in ("run", "exec") else 125
    except BrokenPipeError:
        # the reader went away (`... state c1 | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
