"""Shared fixtures and the CI skip policy (see tests/capabilities.py)."""

from __future__ import annotations

import os
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
        from dockernb.testing.roots import wipe_root  # rootless: snapshots hold files of subordinate ids

        wipe_root(path)


@pytest.fixture
def kit_env() -> dict[str, str]:
    """The environment that points the engine at the kit's registries (from `make kit`)."""
    keys = ("DOCKERNB_REGISTRY_MIRRORS", "DOCKERNB_INSECURE_REGISTRIES", "DOCKERNB_KIT_DIR")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    if "DOCKERNB_REGISTRY_MIRRORS" not in env:
        pytest.fail("the kit environment is not set: run the tests through `make test` (or `make kit` first)")
    return env


# --- images shared by the session ------------------------------------------------------------
#
# Tests that are not about pulling should not pull: `shared_images` pulls busybox:latest and
# debian:bookworm from the kit once per session into a root of its own, and `images_env` points a
# test's engine at it as an extra read-only image store (DOCKERNB_IMAGE_STORES). Its images and
# names are visible in the test's root at once (`images`, `run busybox`...); their layers are
# unpacked into the test's own root on first use (ImageService.ensure_unpacked / prepare_rootfs:
# busybox in a few ms, debian in about a second), never downloaded again. Removing or retagging
# them in a test changes only that test's root. Usage:
#
#     def test_x(images_env):
#         engine = Engine.from_env(images_env)        # or: subprocess env={**os.environ, **images_env}

SHARED_IMAGES = ("busybox:latest", "debian:bookworm")


@pytest.fixture(scope="session")
def shared_images() -> Iterator[Path]:
    """A state root holding SHARED_IMAGES, pulled once per session (read it through `images_env`)."""
    if "DOCKERNB_REGISTRY_MIRRORS" not in os.environ:
        pytest.fail("the kit environment is not set: run the tests through `make test` (or `make kit` first)")
    from dockernb.config import load_config
    from dockernb.engine.images import ImageService
    from dockernb.testing.roots import wipe_root

    base = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() != 0 else None
    path = Path(tempfile.mkdtemp(prefix="dockernb-test-images-", dir=base or "/var/tmp"))
    try:
        images = ImageService(load_config({**os.environ, "DOCKERNB_ROOT": str(path), "DOCKERNB_IMAGE_STORES": ""}))
        for ref in SHARED_IMAGES:
            for _ in images.pull(ref):
                pass
        images.close()
        yield path
    finally:
        wipe_root(path)


@pytest.fixture
def images_env(root_dir: Path, kit_env: dict[str, str], shared_images: Path) -> dict[str, str]:
    """The environment of an engine on this test's own root that sees the session's shared images."""
    return {"HOME": os.environ.get("HOME", "/nonexistent"), **kit_env, "DOCKERNB_ROOT": str(root_dir),
            "DOCKERNB_IMAGE_STORES": str(shared_images)}  # fmt: skip
