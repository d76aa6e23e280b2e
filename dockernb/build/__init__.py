"""The Dockerfile builder and its layer cache (L5)."""
