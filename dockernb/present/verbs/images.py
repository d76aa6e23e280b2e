"""Grammar of the image verbs: pull, push, login, logout, images, tag, rmi, inspect, history, save,
load, import, image prune, system df, and their ``image ...`` spellings (layer L7).

Usage lines and summaries are docker 20.10's; flag values docker checks while parsing (``--filter``
must be ``name=value``) are usage errors in pflag's words (exit 125).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dockernb.present.args import DockerParser, Verb
from dockernb.present.verbs.build import _Checked


def _pair(usage: str, summary: str, lo: int, hi: int | None, *names: str) -> dict[str, Verb]:
    """The same verb under several names (``images`` and ``image ls``...)."""
    out = {}
    for name in names:
        head = usage.split(" ", 1)
        spelled = f"{name} {head[1]}" if len(head) > 1 else name
        out[name] = Verb(name, spelled, summary, lo, hi)
    return out


SPECS: dict[str, Verb] = {
    **_pair("pull [OPTIONS] NAME[:TAG|@DIGEST]", "Pull an image or a repository from a registry", 1, 1,
            "pull", "image pull"),
    **_pair("push [OPTIONS] NAME[:TAG]", "Push an image or a repository to a registry", 1, 1, "push", "image push"),
    "login": Verb("login", "login [OPTIONS] [SERVER]", "Log in to a Docker registry", 0, 1),
    "logout": Verb("logout", "logout [SERVER]", "Log out from a Docker registry", 0, 1),
    **_pair("images [OPTIONS] [REPOSITORY[:TAG]]", "List images", 0, 1, "images", "image ls"),
    **_pair("tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
            2, 2, "tag", "image tag"),
    **_pair("rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", 1, None, "rmi", "image rm"),
    "image inspect": Verb("image inspect", "image inspect [OPTIONS] IMAGE [IMAGE...]",
                          "Display detailed information on one or more images", 1, None),
    "inspect": Verb("inspect", "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker "
                    "objects", 1, None),
    **_pair("history [OPTIONS] IMAGE", "Show the history of an image", 1, 1, "history", "image history"),
    **_pair("save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by "
            "default)", 1, None, "save", "image save"),
    **_pair("load [OPTIONS]", "Load an image from a tar archive or STDIN", 0, 0, "load", "image load"),
    **_pair("import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a "
            "filesystem image", 1, 2, "import", "image import"),
    "image prune": Verb("image prune", "image prune [OPTIONS]", "Remove unused images", 0, 0),
    "system df": Verb("system df", "system df [OPTIONS]", "Show docker disk usage", 0, 0),
}  # fmt: skip


def _filter(value: str) -> tuple[object, str | None]:
    """docker's FilterOpt: ``name=value``, the name lower-cased and trimmed."""
    if "=" not in value:
        return None, "bad format of filter (expected name=value)"
    name, _, val = value.partition("=")
    return (name.strip().lower(), val.strip()), None


def _filters(p: DockerParser, help_text: str = "Filter output based on conditions provided", *,
             short: bool = True) -> None:  # fmt: skip
    flags = ("-f", "--filter") if short else ("--filter",)
    p.add_argument(*flags, dest="filters", action=_Checked, check=_filter, flag_names=", ".join(flags), default=[],
                   help=help_text)  # fmt: skip


def _positional(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _pull(p: DockerParser) -> None:
    p.add_argument("-a", "--all-tags", action="store_true", help="Download all tagged images in the repository")
    p.add_argument("--disable-content-trust", nargs="?", const="true", default="true",
                   help="Skip image verification")  # fmt: skip
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    _positional(p)


def _push(p: DockerParser) -> None:
    p.add_argument("-a", "--all-tags", action="store_true", help="Push all tagged images in the repository")
    p.add_argument("--disable-content-trust", nargs="?", const="true", default="true",
                   help="Skip image signing")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    _positional(p)


def _login(p: DockerParser) -> None:
    p.add_argument("-u", "--username", default="", help="Username")
    p.add_argument("-p", "--password", default="", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    _positional(p)


def _images(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="Show digests")
    _filters(p)
    p.add_argument("--format", default="", help="Pretty-print images using a Go template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    _positional(p)


def _rmi(p: DockerParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    _positional(p)


def _image_inspect(p: DockerParser) -> None:
    p.add_argument("-f", "--format", default="", help="Format the output using the given Go template")
    _positional(p)


def _inspect(p: DockerParser) -> None:
    p.add_argument("-f", "--format", default="", help="Format the output using the given Go template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    p.add_argument("--type", default="", help="Return JSON for specified type")
    _positional(p)


def _human(value: str) -> bool:
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f'"{value}": strconv.ParseBool: parsing "{value}": invalid syntax')


def _history(p: DockerParser) -> None:
    p.add_argument("--format", default="", help="Pretty-print images using a Go template")
    p.add_argument("-H", "--human", nargs="?", const=True, default=True, type=_human,
                   help="Print sizes and dates in human readable format")  # fmt: skip
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    _positional(p)


def _save(p: DockerParser) -> None:
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    _positional(p)


def _load(p: DockerParser) -> None:
    p.add_argument("-i", "--input", default="", help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    _positional(p)


def _import(p: DockerParser) -> None:
    p.add_argument("-c", "--change", dest="changes", action="append", default=[],
                   help="Apply Dockerfile instruction to the created image")  # fmt: skip
    p.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    _positional(p)


def _prune(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    _filters(p, "Provide filter values (e.g. 'until=<timestamp>')", short=False)
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    _positional(p)


def _df(p: DockerParser) -> None:
    p.add_argument("--format", default="", help="Pretty-print images using a Go template")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    _positional(p)


_BY_VERB: dict[str, Callable[[DockerParser], None]] = {
    "pull": _pull, "push": _push, "login": _login, "logout": _positional, "images": _images, "tag": _positional,
    "rmi": _rmi, "image inspect": _image_inspect, "inspect": _inspect, "history": _history, "save": _save,
    "load": _load, "import": _import, "image prune": _prune, "system df": _df,
}  # fmt: skip

ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {}
for _name, _spec in SPECS.items():
    _base = _name.removeprefix("image ") if _name.startswith("image ") and _name not in _BY_VERB else _name
    _base = {"ls": "images", "rm": "rmi"}.get(_base, _base)
    ARGUMENTS[_name] = _BY_VERB[_base]
