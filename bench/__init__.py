"""Benchmarks: dockernb against the reference engines (runc, podman, docker), side by side, as ratios."""
