"""Tar to filesystem and back: safe layer application (whiteouts, zstd/gzip) and diffs (L2)."""
