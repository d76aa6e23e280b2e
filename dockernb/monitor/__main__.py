"""``python -m dockernb.monitor``: the entry points the monitor process execs (not for users).

``post-exit <root> <container-id> [--hooks module:factory]``: what happens after a run
(see :mod:`dockernb.monitor.postexit`). ``supervise``: the Python supervisor, for machines
without a C compiler (configured by DOCKERNB_MONITOR, as the C one).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dockernb.monitor")
    sub = parser.add_subparsers(dest="command", required=True)
    post = sub.add_parser("post-exit")
    post.add_argument("root", type=Path)
    post.add_argument("container_id")
    post.add_argument("--hooks", default="")
    sub.add_parser("supervise")
    args = parser.parse_args(argv)
    if args.command == "post-exit":
        from dockernb.monitor.postexit import handle

        return handle(args.root, args.container_id, args.hooks)
    from dockernb.monitor import pysupervisor

    return pysupervisor.main()


if __name__ == "__main__":
    raise SystemExit(main())
