"""The per-container supervisor that outlives its caller (L4)."""
