"""The container state machine: docker's status words, ONE transition table, and the state record (L0).

Every status change anywhere in dockernb goes through :data:`TRANSITIONS`: a mapping from a
status to the events allowed in it and the status each event leads to. The ``can_<verb>``
predicates are derived from it; nothing else holds status logic. The lifecycle::

    created --start--> running --exit--> exited --start--> running ...
       |                 |  ^                 \\--remove--> removing --removed--> (gone)
       |                 |  |                                  \\--failed--> dead
       |              pause unpause
       |                 v  |
       |               paused --exit--> exited      (a SIGKILL reaches a frozen process)
       |
    running --schedule_restart--> restarting --start--> running   (restart policy, docker's backoff)
    created --start_failed--> created (exit code 127/126 recorded, as docker does)

``ContainerState`` is the small mutable record persisted as ``state.json`` (see
``dockernb.store.containers``); ``ContainerStatus`` values are docker's ``State.Status`` strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "TRANSITIONS",
    "ContainerState",
    "ContainerStatus",
    "Event",
    "ExitRecord",
    "can",
    "can_attach",
    "can_exec",
    "can_kill",
    "can_pause",
    "can_remove",
    "can_restart",
    "can_start",
    "can_stop",
    "can_unpause",
    "conflict_message",
    "next_status",
]


class ContainerStatus(StrEnum):
    """docker's words for a container's status (``docker inspect -f {{.State.Status}}``)."""

    CREATED = "created"  # made by create/run, never started (or its start failed)
    RUNNING = "running"  # its init process is alive and owned by a monitor
    PAUSED = "paused"  # running, with every process frozen (cgroup freezer)
    RESTARTING = "restarting"  # exited; the restart policy will start it again after a backoff
    REMOVING = "removing"  # rm in progress
    EXITED = "exited"  # started once, its init has exited
    DEAD = "dead"  # removal failed half-way; only rm can act on it


class Event(StrEnum):
    """What happens to a container; the edges of the transition table."""

    START = "start"  # the init was created and released to exec (start, restart, run)
    START_FAILED = "start_failed"  # the init could not exec (127/126): docker leaves it 'created'
    EXIT = "exit"  # the init exited (or was reconciled as gone)
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SCHEDULE_RESTART = "schedule_restart"  # the restart policy said yes; waiting out the backoff
    KILL = "kill"  # a signal was sent (no status change by itself)
    STOP = "stop"  # stop was asked: signal, then SIGKILL after the timeout (no change by itself)
    EXEC = "exec"  # an extra process joins the container (no change)
    ATTACH = "attach"  # a client attaches to its stdio (no change)
    REMOVE = "remove"  # rm: the record and its files are going away
    REMOVE_FAILED = "remove_failed"


S, E = ContainerStatus, Event

#: THE transition table: status -> {event -> next status}. An event missing here is not allowed.
TRANSITIONS: Mapping[ContainerStatus, Mapping[Event, ContainerStatus]] = {
    S.CREATED: {
        E.START: S.RUNNING,
        E.START_FAILED: S.CREATED,
        E.ATTACH: S.CREATED,
        E.REMOVE: S.REMOVING,
        E.STOP: S.CREATED,
    },
    S.RUNNING: {
        E.EXIT: S.EXITED,
        E.PAUSE: S.PAUSED,
        E.SCHEDULE_RESTART: S.RESTARTING,
        E.KILL: S.RUNNING,
        E.STOP: S.RUNNING,
        E.EXEC: S.RUNNING,
        E.ATTACH: S.RUNNING,
        E.START: S.RUNNING,  # start of a running container is a no-op in docker, not an error
        E.REMOVE: S.REMOVING,  # rm -f: killed first, then removed
    },
    S.PAUSED: {
        E.UNPAUSE: S.RUNNING,
        E.EXIT: S.EXITED,
        E.KILL: S.PAUSED,
        E.STOP: S.PAUSED,
        E.ATTACH: S.PAUSED,
        E.REMOVE: S.REMOVING,
    },
    S.RESTARTING: {
        E.START: S.RUNNING,
        E.START_FAILED: S.EXITED,
        E.EXIT: S.EXITED,  # stop during the backoff: it stays down
        E.KILL: S.RESTARTING,
        E.STOP: S.RESTARTING,
        E.REMOVE: S.REMOVING,
    },
    S.EXITED: {
        E.START: S.RUNNING,
        E.START_FAILED: S.EXITED,
        E.SCHEDULE_RESTART: S.RESTARTING,
        E.STOP: S.EXITED,
        E.ATTACH: S.EXITED,
        E.REMOVE: S.REMOVING,
    },
    S.REMOVING: {
        E.REMOVE_FAILED: S.DEAD,
        E.EXIT: S.REMOVING,  # the init of an rm -f'd container exits while it is being removed
    },
    S.DEAD: {
        E.REMOVE: S.REMOVING,
    },
}


def next_status(status: ContainerStatus, event: Event) -> ContainerStatus | None:
    """The status ``event`` leads to from ``status``, or None when the table forbids it."""
    return TRANSITIONS[status].get(event)


def can(event: Event, status: ContainerStatus) -> bool:
    return event in TRANSITIONS[status]


# The predicates the engine's verbs check, each derived from the table.
def can_start(status: ContainerStatus) -> bool:
    return can(E.START, status)


def can_stop(status: ContainerStatus) -> bool:
    return can(E.STOP, status)


def can_kill(status: ContainerStatus) -> bool:
    return can(E.KILL, status)


def can_pause(status: ContainerStatus) -> bool:
    return can(E.PAUSE, status)


def can_unpause(status: ContainerStatus) -> bool:
    return can(E.UNPAUSE, status)


def can_exec(status: ContainerStatus) -> bool:
    return can(E.EXEC, status)


def can_attach(status: ContainerStatus) -> bool:
    return can(E.ATTACH, status)


def can_restart(status: ContainerStatus) -> bool:
    # restart = stop (where it applies) then start; both ends must be allowed along the way
    return can(E.STOP, status) and status is not S.REMOVING


def can_remove(status: ContainerStatus, *, force: bool = False) -> bool:
    """rm without -f only removes containers that are not running (docker's rule)."""
    if not can(E.REMOVE, status):
        return False
    return force or status not in (S.RUNNING, S.PAUSED, S.RESTARTING)


def conflict_message(verb: str, status: ContainerStatus, container_id: str, ref: str = "") -> str:
    """docker's sentence when ``verb`` is refused in ``status`` (../shared/golden wording).

    ``container_id`` is the full id (docker prints it in most of these); ``ref`` is what the
    user typed (docker prints that for exec on a paused container and for kill).
    """
    ref = ref or container_id
    if verb == "pause":
        if status is S.PAUSED:
            return f"Container {container_id} is already paused"
        if status is S.RESTARTING:
            return f"Container {container_id} is restarting, wait until the container is running"
        return f"Container {container_id} is not running"
    if verb == "unpause":
        return f"Container {container_id} is not paused"
    if verb == "exec":
        if status is S.PAUSED:
            return f"Container {ref} is paused, unpause the container before exec"
        if status is S.RESTARTING:
            return f"Container {container_id} is restarting, wait until the container is running"
        return f"Container {container_id} is not running"
    if verb == "kill":
        return f"Cannot kill container: {ref}: Container {container_id} is not running"
    if verb == "remove":
        if status is S.PAUSED:
            return (
                f"You cannot remove a paused container {container_id}. "
                "Unpause and then stop the container before attempting removal or force remove"
            )
        if status is S.RESTARTING:
            return (
                f"You cannot remove a restarting container {container_id}. "
                "Stop the container before attempting removal or force remove"
            )
        if status is S.REMOVING:
            return f"removal of container {ref} is already in progress"
        return (
            f"You cannot remove a running container {container_id}. "
            "Stop the container before attempting removal or force remove"
        )
    if verb == "start":
        if status is S.PAUSED:
            return "cannot start a paused container, try unpause instead"
        if status in (S.REMOVING, S.DEAD):
            return "container is marked for removal and cannot be started"
    if verb == "attach" and status is S.PAUSED:
        return "You cannot attach to a paused container, unpause it first"
    return f"Container {container_id} is not running"


@dataclass(slots=True)
class ContainerState:
    """What is true of a container now (``state.json``): small, mutable, one writer at a time.

    Written under the container's lock through ``ContainerStore.transition``; the monitor's exit
    record (``exit.json``) is folded in by whoever next holds the lock. Times are aware UTC.
    """

    schema_version: int = 1
    status: ContainerStatus = ContainerStatus.CREATED
    #: host pid of the container's init while running, else 0
    pid: int = 0
    #: the init's start time (clock ticks since boot), to tell it from a recycled pid
    pid_start: int = 0
    #: the monitor process owning the init, and its start time (clock ticks since boot, from
    #: /proc/<pid>/stat) so that a recycled pid is never mistaken for the monitor
    monitor_pid: int = 0
    monitor_start: int = 0
    exit_code: int = 0
    #: docker's State.Error (a start failure's message), else ""
    error: str = ""
    oom_killed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: bumped at each start; the exit record carries it so a stale one is never folded in
    generation: int = 0
    restart_count: int = 0
    #: the restart manager's current backoff in seconds (docker: 0.1 s doubling to 60 s)
    restart_delay: float = 0.0
    #: stop/kill by a user: the restart policy must not bring it back
    manually_stopped: bool = False
    #: paths and fds docker reports in inspect are derived; extra facts the runtime wants kept
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """docker's State.Running: true while running, paused or restarting."""
        return self.status in (S.RUNNING, S.PAUSED, S.RESTARTING)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitRecord:
    """How a run ended, as the monitor records it (``exit.json``, written once, atomically).

    ``exit_code`` is docker's: the process's code, or 128+N when signal N killed it;
    ``generation`` matches ``ContainerState.generation`` of the run it ends.
    """

    generation: int
    exit_code: int
    signal: int = 0
    pid: int = 0
    finished_at: datetime
    oom_killed: bool = False
