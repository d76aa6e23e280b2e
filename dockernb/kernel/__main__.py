"""``python -m dockernb.kernel``: start the kernel (``-f CONNECTION_FILE``) or ``install`` its spec."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "dockernb"
DISPLAY_NAME = "Docker (dockernb)"


def spec() -> dict[str, object]:
    return {
        "argv": [sys.executable, "-m", "dockernb.kernel", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "bash",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }


def install(argv: list[str]) -> int:
    from jupyter_client.kernelspec import KernelSpecManager

    p = argparse.ArgumentParser(prog="python -m dockernb.kernel install",
                                description=f"Install the {DISPLAY_NAME} kernel spec")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="into the user's Jupyter data directory")
    where.add_argument("--sys-prefix", action="store_true", help=f"into {sys.prefix} (this environment)")
    where.add_argument("--prefix", default=None, help="into PREFIX/share/jupyter/kernels")
    ns = p.parse_args(argv)
    prefix = sys.prefix if ns.sys_prefix else ns.prefix
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec(), indent=2) + "\n")
        path = KernelSpecManager().install_kernel_spec(tmp, KERNEL_NAME, user=ns.user, prefix=prefix)
    print(f"Installed kernelspec {KERNEL_NAME} ({DISPLAY_NAME}) in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["install"]:
        return install(args[1:])
    from ipykernel.kernelapp import IPKernelApp

    from dockernb.kernel.kernel import DockerKernel

    IPKernelApp.launch_instance(argv=args, kernel_class=DockerKernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
