"""The CLI's context is the shared one (kept here for imports from CLI-only commands)."""

from dockernb.present.context import Context

__all__ = ["Context"]
