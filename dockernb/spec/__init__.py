"""Pure data types shared by every layer: references, digests, OCI records, container intent, events (L0)."""
