"""Conformance suites: one entry point per seam, run against every implementation."""
