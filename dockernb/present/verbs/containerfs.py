"""Grammar of ``cp``, ``diff``, ``commit``, ``export`` and their ``container`` spellings (layer L7).

docker 20.10's flags. ``commit --pause`` is a pflag bool that defaults to true: ``-p``,
``--pause`` and ``--pause=true`` keep it, ``--pause=false`` turns it off (only the ``=`` form
takes a value, as in pflag).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb

__all__ = ["ARGUMENTS", "SPECS"]

_CP_USAGE = "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockernb cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"


def _both(usage: str, summary: str, lo: int, hi: int | None, name: str) -> dict[str, Verb]:
    return {name: Verb(name, f"{name} {usage}", summary, lo, hi),
            f"container {name}": Verb(f"container {name}", f"container {name} {usage}", summary, lo, hi)}


SPECS = {
    **_both(_CP_USAGE, "Copy files/folders between a container and the local filesystem", 2, 2, "cp"),
    **_both("CONTAINER", "Inspect changes to files or directories on a container's filesystem", 1, 1, "diff"),
    **_both("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", 1, 2,
            "commit"),
    **_both("[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", 1, 1, "export"),
}  # fmt: skip


def _cp(p: DockerParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _diff(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _commit(p: DockerParser) -> None:
    p.add_argument("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", dest="changes", action="append", default=[],
                   help="Apply Dockerfile instruction to the created image")  # fmt: skip
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-p", "--pause", "--pause=true", "-p=true", dest="pause", action="store_true", default=True,
                   help="Pause container during commit (default true)")  # fmt: skip
    p.add_argument("--pause=false", "-p=false", "--pause=0", dest="pause", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _export(p: DockerParser) -> None:
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    spelled: fn
    for name, fn in (("cp", _cp), ("diff", _diff), ("commit", _commit), ("export", _export))
    for spelled in (name, f"container {name}")
}
