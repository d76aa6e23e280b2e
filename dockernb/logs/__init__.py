"""Container log drivers (docker's json-file) and the reader behind `logs` (L2)."""
