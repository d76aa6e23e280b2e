"""Image records, unpacking content into snapshots, save/load archives (L3)."""
