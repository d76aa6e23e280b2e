"""docker's PromptForConfirmation, shared by the prune verbs (layer L7, present)."""

from __future__ import annotations

import sys

from dockernb.present.context import Context


def confirm(ctx: Context, warning: str) -> bool:
    """``warning [y/N] `` on stdout, one line read from stdin; true only for y (docker's rule: "yes" is no)."""
    ctx.out.write(f"{warning} [y/N] ")
    ctx.out.flush()
    stream = ctx.stdin if ctx.stdin is not None else sys.stdin.buffer
    answer = stream.readline()
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    return text.strip().lower() == "y"
