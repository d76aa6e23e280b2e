"""`python -m dockernb.apiserver [serve flags]`: what `dockernb serve` execs."""

from __future__ import annotations

from dockernb.apiserver.serve import main

raise SystemExit(main())
