"""Waiting for a container to stop: ``docker wait``, ``stop``'s grace period, ``run``'s end (layer L4).

The monitor announces an exit by renaming ``exit.json`` into the container directory (after the
last log line), and the post-exit handler then rewrites ``state.json``; both are renames into
the directory, so an inotify watch on it wakes the waiter at once. A short poll covers what
inotify cannot see: a monitor that was killed (see :func:`.reconcile.effective`).
"""

from __future__ import annotations

import time

from dockernb.errors import NoSuchContainer
from dockernb.linux.inotify import IN_CREATE, IN_DELETE_SELF, IN_MOVED_TO, Inotify
from dockernb.monitor.reconcile import effective
from dockernb.spec.status import ContainerState, ContainerStatus
from dockernb.store.containers import ContainerStore

__all__ = ["wait_until_stopped"]

_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


def wait_until_stopped(
    store: ContainerStore,
    container_id: str,
    timeout: float | None = None,
    *,
    through_restarts: bool = False,
    poll: float = 0.25,
) -> ContainerState | None:
    """The container's state once it is not running, or None when ``timeout`` passed first.

    A container that is ``restarting`` counts as stopped unless ``through_restarts``. Raises
    NoSuchContainer if it is removed meanwhile (``--rm``: callers that expect that catch it).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    live = _LIVE if through_restarts else (ContainerStatus.RUNNING, ContainerStatus.PAUSED)
    notify: Inotify | None = None
    try:
        try:
            notify = Inotify()
            notify.watch(store.paths(container_id).dir, IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF)
        except OSError:
            if notify is not None:
                notify.close()
            notify = None
            if not store.paths(container_id).dir.exists():
                raise NoSuchContainer(container_id) from None
        while True:
            state = effective(store, container_id)
            if state.status not in live:
                return state
            left = poll if deadline is None else min(poll, deadline - time.monotonic())
            if left <= 0:
                return None
            if notify is not None:
                notify.wait(left)
            else:
                time.sleep(left)
    finally:
        if notify is not None:
            notify.close()
