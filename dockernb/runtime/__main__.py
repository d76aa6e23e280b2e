"""``python -m dockernb.runtime``: see :mod:`dockernb.runtime.cli`."""

from __future__ import annotations

from dockernb.runtime.cli import main

raise SystemExit(main())
