"""``python -m dockernb.labkit [up|build|down|status|env]`` (``make kit`` runs ``up``)."""

from __future__ import annotations

import argparse
import sys
import time

from dockernb.labkit import kit as kitmod
from dockernb.labkit import recipes, registries


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dockernb.labkit", description="the offline image kit")
    ap.add_argument("action", nargs="?", default="up", choices=["up", "build", "down", "status", "env"])
    args = ap.parse_args(argv)
    kit = kitmod.kit_dir()

    def log(msg: str) -> None:
        print(f"[kit] {msg}", file=sys.stderr, flush=True)

    if args.action == "build":
        kitmod.build(kit, log)
        return 0
    if args.action == "down":
        for name in registries.stop_all(kit):
            log(f"stopped {name}")
        return 0
    if args.action == "status":
        for name, alive in registries.status(kit).items():
            print(f"{name}: {'running' if alive else 'stopped'}")
        return 0
    if args.action == "env":
        for k, v in kitmod.env(kit).items():
            print(f"export {k}={v}")
        return 0
    t0 = time.monotonic()
    variables = kitmod.up(kit, log)
    regs = registries.registries(kit)
    log(f"kit ready in {time.monotonic() - t0:.1f}s at {kit}")
    log(f"registries: {regs['open'].addr} (open), {regs['basic'].addr} (basic auth), "
        f"{regs['token'].addr} (token auth); credentials {registries.KIT_USER} / {registries.KIT_PASSWORD}")
    log("images: " + ", ".join(sorted({f"{i.repo.removeprefix('library/')}:{i.tag}" for i in recipes.IMAGES})))
    log(f"use it with:  . {kit}/env.sh   (or set these)")
    for k, v in variables.items():
        print(f"export {k}={v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
