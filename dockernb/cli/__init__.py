"""The `dockernb` command: docker's verbs and flags over dockernb.engine (L8)."""
