"""Grammar of ``build`` (and ``image build``): docker 20.10's flags and flag errors (layer L7).

Values are checked while parsing, as docker's pflag types check them, so a bad ``-t``,
``--label`` or ``--build-arg`` is a usage error (exit 125) in docker's words:
``invalid argument "Bad::Ref" for "-t, --tag" flag: invalid reference format: repository
name must be lowercase``. ``--build-arg NAME`` takes NAME's value from the environment, or
none (docker's ``ValidateEnv``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any

from docker_image import reference as _ref

from dockernb.present.args import DockerParser, UsageError, Verb

_USAGE = "build [OPTIONS] PATH | URL | -"
_SUMMARY = "Build an image from a Dockerfile"

SPECS = {
    "build": Verb("build", _USAGE, _SUMMARY, 1, 1),
    "image build": Verb("image build", "image " + _USAGE, _SUMMARY, 1, 1),
}


def _tag(value: str) -> tuple[object, str | None]:
    """docker's validateTag (reference.ParseNormalizedNamed), in its words."""
    if value == "":
        return None, "invalid reference format"
    try:
        _ref.Reference.parse_normalized_named(value)
    except Exception as err:  # docker_image raises its own exception classes
        if "must be lowercase" in str(err):
            return None, "invalid reference format: repository name must be lowercase"
        return None, "invalid reference format"
    return value, None


def _build_arg(value: str) -> tuple[object, str | None]:
    """docker's ValidateEnv: ``NAME=value``, or ``NAME`` whose value comes from the environment."""
    name, eq, val = value.partition("=")
    if name == "":
        return None, f"invalid environment variable: {value}"
    if eq:
        return (name, val), None
    return (name, os.environ.get(name)), None


def _label(value: str) -> tuple[object, str | None]:
    """docker's ValidateLabel."""
    if "=" not in value:
        return None, f"bad attribute format: {value}"
    key, _, val = value.partition("=")
    return (key, val), None


class _Checked(argparse.Action):
    """Append a value after docker's check; a bad one is a usage error with pflag's wording."""

    def __init__(
        self, *args: Any, check: Callable[[str], tuple[object, str | None]], flag_names: str, **kwargs: Any
    ) -> None:
        self.check = check
        self.flag_names = flag_names
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        value = str(values)
        result, error = self.check(value)
        if error is not None:
            prog = getattr(parser, "prog_name", "dockernb")
            verb = getattr(getattr(parser, "verb", None), "name", "build")
            raise UsageError(
                f'invalid argument "{value}" for "{self.flag_names}" flag: {error}\nSee \'{prog} {verb} --help\'.',
                125,
            )
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(result)
        setattr(namespace, self.dest, items)


def _arguments(p: DockerParser) -> None:
    p.add_argument(
        "-t",
        "--tag",
        dest="tags",
        action=_Checked,
        check=_tag,
        flag_names="-t, --tag",
        default=[],
        help="Name and optionally a tag in the 'name:tag' format",
    )
    p.add_argument("-f", "--file", dest="file", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    p.add_argument("--target", default="", help="Set the target build stage to build.")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building the image")
    p.add_argument("--pull", action="store_true", help="Always attempt to pull a newer version of the image")
    p.add_argument(
        "--build-arg",
        dest="build_args",
        action=_Checked,
        check=_build_arg,
        flag_names="--build-arg",
        default=[],
        help="Set build-time variables",
    )
    p.add_argument(
        "--label",
        dest="labels",
        action=_Checked,
        check=_label,
        flag_names="--label",
        default=[],
        help="Set metadata for an image",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the build output and print image ID on success")
    p.add_argument("--iidfile", default="", help="Write the image ID to the file")
    p.add_argument("--network", default="default", help="Set the networking mode for the RUN instructions during build")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    # the classic builder's container-removal flags: dockernb never keeps intermediate containers
    p.add_argument("--rm", nargs="?", const="true", default="true", help="Remove intermediate containers")
    p.add_argument("--force-rm", action="store_true", help="Always remove intermediate containers")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {"build": _arguments, "image build": _arguments}
