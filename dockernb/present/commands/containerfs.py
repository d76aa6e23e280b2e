"""Runners of ``cp``, ``diff``, ``commit``, ``export`` (layer L7): docker's CLI output and errors.

``cp`` splits its arguments as docker does (``CONTAINER:PATH``; a path with a colon is local when
it starts with ``/`` or ``.``), and prints the client's own refusals as they are but a missing
container or path as ``Error: No such container:path: c:/x``. ``commit`` checks the reference on
the client side as docker's does (``invalid reference format``), prints the new image id.
``export`` refuses to write a tar to a terminal; ``-o`` writes a temporary file beside the target
and renames it, as docker's CopyToFile.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, BinaryIO

from dockernb.errors import InvalidCopyPath, InvalidReference, NoSuchContainer, NoSuchPath
from dockernb.present.context import Context
from dockernb.present.terminal import binary
from dockernb.present.tofile import copy_to_file

__all__ = ["RUNNERS", "split_cp_arg"]


def split_cp_arg(arg: str) -> tuple[str, str]:
    """docker's ``splitCpArg``: (container, path), with container "" for a local path."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def cp(ns: argparse.Namespace, ctx: Context) -> int:
    source, destination = ns.args
    if source == "":
        ctx.eprint("source can not be empty")
        return 1
    if destination == "":
        ctx.eprint("destination can not be empty")
        return 1
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(destination)
    if src_container and dst_container:
        ctx.eprint("copying between containers is not supported")
        return 1
    if not src_container and not dst_container:
        ctx.eprint("must specify at least one container source")
        return 1
    containers = ctx.engine.containers
    container, asked = (src_container, src_path) if src_container else (dst_container, dst_path)
    try:
        if src_container:
            out = binary(ctx.out)
            ctx.out.flush()
            containers.copy_from(src_container, src_path, dst_path, follow_link=ns.follow_link, out=out)
            out.flush()
        else:
            stdin: IO[bytes] = ctx.stdin if ctx.stdin is not None else sys.stdin.buffer
            containers.copy_to(dst_container, src_path, dst_path, follow_link=ns.follow_link,
                               copy_uid_gid=ns.archive, stdin=stdin)  # fmt: skip
    except NoSuchContainer:
        ctx.eprint(f"Error: No such container:path: {container}:{asked}")
        return 1
    except NoSuchPath as err:
        ctx.eprint(f"Error: No such container:path: {container}:{getattr(err, 'path', asked) or asked}")
        return 1
    except InvalidCopyPath as err:
        ctx.eprint(str(err))
        return 1
    return 0


def diff(ns: argparse.Namespace, ctx: Context) -> int:
    for change in ctx.engine.containers.diff(ns.args[0]):
        ctx.print(str(change))
    return 0


def commit(ns: argparse.Namespace, ctx: Context) -> int:
    from dockernb.spec.reference import parse_reference

    container = ns.args[0]
    repository = ns.args[1] if len(ns.args) > 1 else ""
    if repository:
        try:
            ref = parse_reference(repository)
        except InvalidReference as err:
            ctx.eprint(str(err))
            return 1
        if ref.digest is not None:
            ctx.eprint("refusing to create a tag with a digest reference")
            return 1
    image_id = ctx.engine.containers.commit(container, repository, message=ns.message, author=ns.author,
                                            changes=ns.changes, pause=ns.pause)  # fmt: skip
    ctx.print(image_id)
    return 0


def export(ns: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    if ns.output:
        target = os.path.abspath(ns.output)
        chunks = containers.export(ns.args[0])  # a missing container fails before the file is made
        try:
            return _export_to(ctx, chunks, target)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # the container's rootfs is released even when the file could not be written
    out = binary(ctx.out)
    isatty = getattr(ctx.out, "isatty", None)
    if isatty is not None and isatty():
        ctx.eprint("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        return 1
    ctx.out.flush()
    for chunk in containers.export(ns.args[0]):
        out.write(chunk)
    out.flush()
    return 0


def _export_to(ctx: Context, chunks: Iterable[bytes], target: str) -> int:
    def write(f: BinaryIO) -> None:
        for chunk in chunks:
            f.write(chunk)

    return copy_to_file(ctx, target, write)


def _spelled(fn: Callable[[argparse.Namespace, Context], int], *names: str) -> dict[str, Any]:
    return {spelled: fn for name in names for spelled in (name, f"container {name}")}


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    **_spelled(cp, "cp"), **_spelled(diff, "diff"), **_spelled(commit, "commit"), **_spelled(export, "export"),
}  # fmt: skip
