"""Test helpers shipped with the package: fakes and conformance suites."""
