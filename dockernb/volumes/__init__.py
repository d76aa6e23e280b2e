"""Named volumes and bind-mount resolution (L3)."""
