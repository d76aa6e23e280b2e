"""Human output shared by the CLI and the notebook: tables, durations, sizes, --format (L7)."""
