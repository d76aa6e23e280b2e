"""One module per docker verb; each defines `register(subparsers)` and `run(args, ctx) -> int`."""
