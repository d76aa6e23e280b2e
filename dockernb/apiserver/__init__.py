"""The Docker Engine API server over dockernb.engine (L8)."""
