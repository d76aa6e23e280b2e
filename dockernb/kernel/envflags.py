"""``-e NAME`` in the Docker kernel takes NAME's value from bash, as docker's CLI would (top layer).

The kernel runs docker lines in its own process, whose environment is not bash's: before a
``run``/``create``/``exec`` line is dispatched, every ``-e NAME`` / ``--env NAME`` / ``--env=NAME``
among the flags (not in the container's command) becomes ``NAME=value`` from the caller's
environment, and is dropped when NAME is unset there (docker passes only variables that exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dockernb.present.args import HelpRequested, UsageError, parse, resolve_verb

__all__ = ["with_caller_env"]

_VERBS = {"run", "create", "exec", "container run", "container create", "container exec"}


def with_caller_env(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``argv`` with bare ``-e NAME`` flags resolved against ``env`` (other lines unchanged)."""
    argv = list(argv)
    found = resolve_verb(argv)
    if found is None or found[0] not in _VERBS:
        return argv
    verb, used = found
    try:
        ns = parse(verb, argv[used:])
    except (UsageError, HelpRequested):
        return argv  # dispatch reports it
    positional = len(getattr(ns, "args", ()) or ())
    flags_end = len(argv) - positional
    out = argv[:used]
    i = used
    while i < flags_end:
        word = argv[i]
        if word in ("-e", "--env") and i + 1 < flags_end:
            resolved = _resolve(argv[i + 1], env)
            if resolved is not None:
                out += [word, resolved]
            i += 2
            continue
        if word.startswith("--env="):
            resolved = _resolve(word[len("--env="):], env)
            if resolved is not None:
                out.append("--env=" + resolved)
        elif word.startswith("-e") and not word.startswith("--") and len(word) > 2:
            resolved = _resolve(word[2:].removeprefix("="), env)
            if resolved is not None:
                out.append("-e" + resolved)
        else:
            out.append(word)
        i += 1
    return out + argv[flags_end:]


def _resolve(item: str, env: Mapping[str, str]) -> str | None:
    if "=" in item:
        return item
    return f"{item}={env[item]}" if item in env else None
