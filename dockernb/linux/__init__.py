"""The only place that talks to the kernel directly: ctypes, mounts, namespaces, cgroups, probes (L1)."""
