"""The content-addressed blob store: ingest with digest verification, read, walk, delete (L2)."""
