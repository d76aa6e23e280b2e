"""dockernb's small runc: an OCI bundle turned into namespaced processes (L4)."""
