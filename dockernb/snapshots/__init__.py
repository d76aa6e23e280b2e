"""Layer snapshots (key/name/parent) that return mount lists; overlay, fuse-overlayfs, copy (L2)."""
