"""`make demo`: what dockernb can do on this machine so far, end to end and headless.

It grows into running every lab notebook (issue: the labs); today it shows the engine's view
of the machine and the kit's registries.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from dockernb.cli.main import main as cli


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dockernb.demo")
    ap.add_argument("--lab", action="store_true", help="start JupyterLab on notebooks/ instead")
    args = ap.parse_args(argv)
    if args.lab:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--notebook-dir=notebooks"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        print("starting JupyterLab; open the URL it prints", flush=True)
        return subprocess.call(cmd)
    steps = [["version"], ["info"]]
    for argv_ in steps:
        print(f"$ dockernb {' '.join(argv_)}", flush=True)
        code = cli(argv_)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
