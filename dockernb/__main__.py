"""`python -m dockernb` is the `dockernb` command."""

from dockernb.cli.main import main

raise SystemExit(main())
