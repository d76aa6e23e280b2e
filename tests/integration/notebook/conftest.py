"""The IPython shell the magics tests drive: DockerMagics over an engine on the test's own root."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

from dockernb.client import DockerClient
from dockernb.notebook.magics import DockerMagics


@pytest.fixture
def client(images_env: dict[str, str]) -> Iterator[DockerClient]:
    client = DockerClient.from_env(images_env)
    try:
        yield client
    finally:
        # nothing outlives the test: its containers go with their monitors, mounts and networks
        for c in client.containers.list(all=True):
            c.remove(force=True)
        client.close()


@pytest.fixture
def ip(client: DockerClient) -> Iterator[InteractiveShell]:
    shell = start_ipython() or InteractiveShell.instance()  # the first call makes it, later ones return None
    assert shell is not None
    shell.register_magics(DockerMagics(shell, client=client))
    names = set(shell.user_ns)
    try:
        yield shell
    finally:
        for name in set(shell.user_ns) - names:
            shell.user_ns.pop(name, None)
        shell.user_ns.pop("_exit_code", None)


def run(ip: InteractiveShell, line: str) -> tuple[Any, Any]:  # noqa: ANN401
    """``%docker LINE``: its value and what it printed and displayed."""
    with capture_output() as cap:
        value = ip.run_line_magic("docker", line)
    return value, cap
