"""The image verbs' runners: parsed arguments + engine.images -> docker's output and exit codes (layer L7).

Client-side behaviour docker's CLI has is here too: ``Using default tag: latest``, the final
reference line of ``pull``, ``rmi``'s per-argument errors (``Error: No such image: x``, exit 0 with
``-f`` when every error is a missing image), ``inspect``'s ``[]`` on a miss, ``login``'s password
warnings, ``save``'s refusal to write a tar to a terminal, ``image prune``'s confirmation prompt.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import IO, Any, BinaryIO

from dockernb.errors import DockernbError, InvalidReference, NoSuchImage, NotFound
from dockernb.present import images as view
from dockernb.present.context import Context
from dockernb.present.flagvalues import filters_of
from dockernb.present.gotemplate import TemplateError, render
from dockernb.present.prompt import confirm
from dockernb.present.tofile import copy_to_file
from dockernb.present.units import human_size
from dockernb.spec.events import LayerStatus
from dockernb.spec.reference import parse_reference, parse_tag_target

__all__ = ["RUNNERS"]

_UNENCRYPTED = """WARNING! Your password will be stored unencrypted in {}.
Configure a credential helper to remove this warning. See
https://docs.docker.com/engine/reference/commandline/login/#credentials-store
"""


def _print_table(ctx: Context, fmt: str, rows: list[Any], headers: dict[str, str]) -> int:
    try:
        ctx.out.write(view.format_table(fmt, rows, headers))
    except TemplateError as err:
        ctx.eprint(str(err))
        return 1
    return 0


# --- pull, push, login, logout ---------------------------------------------------------------


def pull(ns: argparse.Namespace, ctx: Context) -> int:
    text = ns.args[0]
    try:
        ref = parse_reference(text)
    except InvalidReference as err:
        ctx.eprint(str(err))
        return 1
    if ns.all_tags and (ref.tag is not None or ref.digest is not None):
        ctx.eprint("tag can't be used with --all-tags/-a")
        return 1
    if not ns.all_tags and ref.tag is None and ref.digest is None:
        ref = ref.with_default_tag()
        if not ns.quiet:
            ctx.print(f"Using default tag: {ref.tag}")
    printer = view.ProgressPrinter(ctx.out)
    for message in ctx.engine.images.pull(text, platform=ns.platform, all_tags=ns.all_tags):
        if not ns.quiet:
            printer.write(message)
    ctx.print(ref.familiar)
    return 0


def push(ns: argparse.Namespace, ctx: Context) -> int:
    text = ns.args[0]
    try:
        ref = parse_reference(text)
    except InvalidReference as err:
        ctx.eprint(str(err))
        return 1
    if ns.all_tags and (ref.tag is not None or ref.digest is not None):
        ctx.eprint("tag can't be used with --all-tags/-a")
        return 1
    if not ns.all_tags and ref.tag is None and ref.digest is None:
        ref = ref.with_default_tag()
        if not ns.quiet:
            ctx.print(f"Using default tag: {ref.tag}")
    printer = view.ProgressPrinter(ctx.out)
    for message in ctx.engine.images.push(str(ref), all_tags=ns.all_tags):
        if not ns.quiet:
            printer.write(message)
    if ns.quiet:
        ctx.print(str(ref))
    return 0


def _stdin(ctx: Context) -> BinaryIO:
    return ctx.stdin if ctx.stdin is not None else sys.stdin.buffer


def login(ns: argparse.Namespace, ctx: Context) -> int:
    server = ns.args[0] if ns.args else ""
    username, password = ns.username.strip(), ns.password
    if password and ns.password_stdin:
        ctx.eprint("--password and --password-stdin are mutually exclusive")
        return 1
    if ns.password_stdin:
        if not username:
            ctx.eprint("Must provide --username with --password-stdin")
            return 1
        password = _stdin(ctx).read().decode().rstrip("\n").rstrip("\r")
    if ns.password:
        ctx.eprint("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username or not password:
        if ctx.stdin is not None or not sys.stdin.isatty():
            ctx.eprint("Error: Cannot perform an interactive login from a non TTY device")
            return 1
        if not username:
            ctx.out.write("Username: ")
            ctx.out.flush()
            username = sys.stdin.readline().strip()
        if not password:
            password = getpass.getpass("Password: ")
        if not username:
            ctx.eprint("Error: Non-null Username Required")
            return 1
        if not password:
            ctx.eprint("Error: Non-null Password Required")
            return 1
    result = ctx.engine.images.login(server, username, password)
    if result.plaintext:
        ctx.eprint(_UNENCRYPTED.format(result.stored_in))
    ctx.print(result.status)
    return 0


def logout(ns: argparse.Namespace, ctx: Context) -> int:
    result = ctx.engine.images.logout(ns.args[0] if ns.args else "")
    ctx.print(result.message)
    return 0


# --- images, tag, rmi, inspect, history ---------------------------------------------------------


def images(ns: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(ns)
    if ns.args:
        filters.setdefault("reference", []).append(ns.args[0])
    found = ctx.engine.images.list(all=ns.all, filters=filters)
    rows = view.image_rows(found, trunc=not ns.no_trunc, digests=ns.digests)
    fmt = ns.format or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if ns.quiet else view.IMAGES_TABLE_DIGESTS if ns.digests else view.IMAGES_TABLE
    return _print_table(ctx, fmt, rows, view.IMAGE_HEADERS)


def tag(ns: argparse.Namespace, ctx: Context) -> int:
    source, target = ns.args
    try:
        parse_tag_target(target)
    except InvalidReference as err:
        ctx.eprint(str(err))  # docker's CLI checks the target itself: no "Error response from daemon"
        return 1
    ctx.engine.images.tag(source, target)
    return 0


def rmi(ns: argparse.Namespace, ctx: Context) -> int:
    errors: list[str] = []
    fatal = False
    for name in ns.args:
        try:
            items = ctx.engine.images.remove(name, force=ns.force, prune=not ns.no_prune)
        except NoSuchImage:
            errors.append(f"Error: No such image: {name}")
            continue
        except DockernbError as err:
            errors.append(f"Error response from daemon: {err}")
            fatal = True
            continue
        for item in items:
            ctx.print(f"Deleted: {item.deleted}" if item.deleted else f"Untagged: {item.untagged}")
    if errors:
        ctx.eprint("\n".join(errors))
        return 1 if (fatal or not ns.force) else 0
    return 0


def _inspect_output(ctx: Context, fmt: str, found: list[Any], errors: list[str]) -> int:
    if fmt:
        try:
            text = "".join(render(fmt, item) + "\n" for item in found)
        except TemplateError as err:
            ctx.eprint(f"Template parsing error: {err}")
            return 1
        ctx.out.write(text or "\n")
    else:
        ctx.print(view.go_json(found) if found else "[]")
    if errors:
        ctx.eprint("\n".join(errors))
        return 1
    return 0


def image_inspect(ns: argparse.Namespace, ctx: Context) -> int:
    found: list[Any] = []
    errors: list[str] = []
    for name in ns.args:
        try:
            found.append(ctx.engine.images.inspect(name))
        except NoSuchImage:
            errors.append(f"Error: No such image: {name}")
        except DockernbError as err:
            errors.append(f"Error response from daemon: {err}")
    return _inspect_output(ctx, ns.format, found, errors)


#: ``inspect --type`` values and what a miss says; the finders are looked up on the engine, so that
#: services landing later (containers, networks, volumes) join without changing this verb
_TYPES = ("container", "image", "network", "volume", "plugin", "node", "service", "task", "secret", "config")


def _finder(ctx: Context, kind: str) -> Callable[[str], Any] | None:
    if kind == "image":
        return ctx.engine.images.inspect
    service = getattr(ctx.engine, kind + "s", None)
    method = getattr(service, "inspect", None)
    return method if callable(method) else None


def inspect(ns: argparse.Namespace, ctx: Context) -> int:
    kind = ns.type
    if kind and kind not in _TYPES:
        ctx.eprint(f'"{kind}" is not a valid value for --type')
        return 1
    kinds = [kind] if kind else ["container", "image"]
    found: list[Any] = []
    errors: list[str] = []
    for name in ns.args:
        hit = False
        for k in kinds:
            finder = _finder(ctx, k)
            if finder is None:
                continue
            try:
                found.append(finder(name))
                hit = True
                break
            except (NotFound, InvalidReference):
                continue
            except DockernbError as err:
                errors.append(f"Error response from daemon: {err}")
                hit = True
                break
        if not hit:
            what = {"": "object", "image": "image", "container": "container"}.get(kind, kind)
            errors.append(f"Error: No such {what}: {name}")
    return _inspect_output(ctx, ns.format, found, errors)


def history(ns: argparse.Namespace, ctx: Context) -> int:
    items = ctx.engine.images.history(ns.args[0])
    rows = view.history_rows(items, human=ns.human, trunc=not ns.no_trunc)
    fmt = ns.format or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if ns.quiet else view.HISTORY_TABLE
    return _print_table(ctx, fmt, rows, view.HISTORY_HEADERS)


# --- save, load, import, prune, df -------------------------------------------------------------


def _binary_out(ctx: Context) -> IO[bytes] | None:
    buffer = getattr(ctx.out, "buffer", None)
    return buffer if buffer is not None else None


def save(ns: argparse.Namespace, ctx: Context) -> int:
    if ns.output:
        return copy_to_file(ctx, ns.output, lambda f: ctx.engine.images.save(ns.args, f))
    out = _binary_out(ctx)
    isatty = getattr(ctx.out, "isatty", None)
    if out is None or (isatty is not None and isatty()):
        ctx.eprint("Cowardly refusing to save to a terminal. Use the -o flag or redirect")
        return 1
    ctx.out.flush()
    ctx.engine.images.save(ns.args, out)  # type: ignore[arg-type]
    out.flush()
    return 0


def load(ns: argparse.Namespace, ctx: Context) -> int:
    if ns.input:
        try:
            stream: BinaryIO = open(ns.input, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            ctx.eprint(f"open {ns.input}: {(err.strerror or str(err)).lower()}")
            return 1
    else:
        stream = _stdin(ctx)
        if ctx.stdin is None and sys.stdin.isatty():
            ctx.eprint("requested load from stdin, but stdin is empty")
            return 1
    printer = view.ProgressPrinter(ctx.out)
    try:
        for message in ctx.engine.images.load(stream):
            if ns.quiet and message.status == LayerStatus.LOADING:
                continue
            printer.write(message)
    finally:
        if ns.input:
            stream.close()
    return 0


def import_(ns: argparse.Namespace, ctx: Context) -> int:
    source = ns.args[0]
    repository = ns.args[1] if len(ns.args) > 1 else ""
    if source == "-":
        image_id = ctx.engine.images.import_(_stdin(ctx), repository=repository, changes=ns.changes,
                                             message=ns.message, platform=ns.platform)  # fmt: skip
    elif "://" in source:
        image_id = ctx.engine.images.import_url(source, repository=repository, changes=ns.changes,
                                                message=ns.message, platform=ns.platform)  # fmt: skip
    else:
        try:
            f = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            ctx.eprint(f"open {source}: {(err.strerror or str(err)).lower()}")
            return 1
        with f:
            image_id = ctx.engine.images.import_(f, repository=repository, changes=ns.changes,
                                                 message=ns.message, platform=ns.platform)  # fmt: skip
    ctx.print(image_id)
    return 0


def image_prune(ns: argparse.Namespace, ctx: Context) -> int:
    if not ns.force:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if ns.all else "WARNING! This will remove all dangling images.")  # fmt: skip
        if not confirm(ctx, f"{warning}\nAre you sure you want to continue?"):
            ctx.print("Total reclaimed space: 0B")
            return 0
    report = ctx.engine.images.prune(all=ns.all, filters=filters_of(ns))
    if report.deleted:
        lines = ["Deleted Images:"]
        for item in report.deleted:
            lines.append(f"untagged: {item.untagged}" if item.untagged else f"deleted: {item.deleted}")
        ctx.print("\n".join(lines) + "\n")
    ctx.print(f"Total reclaimed space: {human_size(report.space_reclaimed)}")
    return 0


def system_df(ns: argparse.Namespace, ctx: Context) -> int:
    usage = ctx.engine.images.df()
    fmt = ns.format or view.DF_TABLE
    return _print_table(ctx, fmt, view.df_rows(usage), view.DF_HEADERS)


RUNNERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "pull": pull, "image pull": pull, "push": push, "image push": push, "login": login, "logout": logout,
    "images": images, "image ls": images, "tag": tag, "image tag": tag,
    "rmi": rmi, "image rm": rmi, "image inspect": image_inspect, "inspect": inspect,
    "history": history, "image history": history, "save": save, "image save": save, "load": load,
    "image load": load, "import": import_, "image import": import_, "image prune": image_prune,
    "system df": system_df,
}  # fmt: skip

