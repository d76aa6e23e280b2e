"""Shared fixtures and the CI skip policy (see tests/capabilities.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capabilities import MISSING_OK, SKIP_PREFIX

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOTLESS_PASS = os.environ.get("DOCKERNB_TEST_PASS") == "rootless"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(SKIP_PREFIX):
        key = reason[len(SKIP_PREFIX) :].split(" ", 1)[0]
        if key in MISSING_OK and not MISSING_OK[key]()[0]:
            return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, which is a failure (not a listed missing capability): {reason}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # the root pass skips nothing by marker; the rootless pass selects `-m rootless` itself
    if ROOTLESS_PASS:
        return
    for item in items:
        if "requires_root" in item.keywords and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="requires root"))


@pytest.fixture
def root_dir() -> Iterator[Path]:
    """A fresh, private DOCKERNB_ROOT for one test (removed afterwards)."""
    base = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() != 0 else None
    path = Path(tempfile.mkdtemp(prefix="dockernb-test-root-", dir=base or "/var/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def kit_env() -> dict[str, str]:
    """The environment that points the engine at the kit's registries (from `make kit`)."""
    keys = ("DOCKERNB_REGISTRY_MIRRORS", "DOCKERNB_INSECURE_REGISTRIES", "DOCKERNB_KIT_DIR")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    if "DOCKERNB_REGISTRY_MIRRORS" not in env:
        pytest.fail("the kit environment is not set: run the tests through `make test` (or `make kit` first)")
    return env
