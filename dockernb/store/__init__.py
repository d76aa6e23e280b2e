"""On-disk plumbing: the root directory layout, atomic JSON writes and file locks (L1)."""
