"""The container state machine: one table, predicates derived from it, docker's sentences."""

from __future__ import annotations

import pytest

from dockernb.spec import status as st
from dockernb.spec.status import ContainerStatus as S
from dockernb.spec.status import Event as E

pytestmark = pytest.mark.rootless


def test_status_words_are_dockers() -> None:
    assert [s.value for s in S] == ["created", "running", "paused", "restarting", "removing", "exited", "dead"]


def test_table_covers_every_status_and_targets_are_statuses() -> None:
    assert set(st.TRANSITIONS) == set(S)
    for edges in st.TRANSITIONS.values():
        assert all(isinstance(t, S) for t in edges.values())


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        (S.CREATED, E.START, S.RUNNING),
        (S.CREATED, E.START_FAILED, S.CREATED),
        (S.RUNNING, E.EXIT, S.EXITED),
        (S.RUNNING, E.PAUSE, S.PAUSED),
        (S.PAUSED, E.UNPAUSE, S.RUNNING),
        (S.RUNNING, E.SCHEDULE_RESTART, S.RESTARTING),
        (S.RESTARTING, E.START, S.RUNNING),
        (S.EXITED, E.START, S.RUNNING),
        (S.EXITED, E.REMOVE, S.REMOVING),
        (S.REMOVING, E.REMOVE_FAILED, S.DEAD),
        (S.DEAD, E.REMOVE, S.REMOVING),
        (S.EXITED, E.PAUSE, None),
        (S.CREATED, E.EXIT, None),
        (S.PAUSED, E.EXEC, None),
        (S.REMOVING, E.START, None),
        (S.DEAD, E.START, None),
    ],
)
def test_transitions(status: S, event: E, expected: S | None) -> None:
    assert st.next_status(status, event) is expected


def test_predicates_follow_the_table() -> None:
    for s in S:
        assert st.can_start(s) == (E.START in st.TRANSITIONS[s])
        assert st.can_pause(s) == (E.PAUSE in st.TRANSITIONS[s])
        assert st.can_exec(s) == (E.EXEC in st.TRANSITIONS[s])
    assert st.can_pause(S.RUNNING) and not st.can_pause(S.PAUSED) and not st.can_pause(S.EXITED)
    assert st.can_unpause(S.PAUSED) and not st.can_unpause(S.RUNNING)
    assert st.can_exec(S.RUNNING) and not st.can_exec(S.PAUSED) and not st.can_exec(S.CREATED)
    assert st.can_kill(S.RUNNING) and st.can_kill(S.PAUSED) and not st.can_kill(S.EXITED)


def test_remove_needs_force_for_live_containers() -> None:
    assert st.can_remove(S.EXITED) and st.can_remove(S.CREATED) and st.can_remove(S.DEAD)
    for live in (S.RUNNING, S.PAUSED, S.RESTARTING):
        assert not st.can_remove(live)
        assert st.can_remove(live, force=True)
    assert not st.can_remove(S.REMOVING, force=True)


def test_conflict_sentences_match_golden() -> None:
    cid = "a" * 64
    assert st.conflict_message("pause", S.PAUSED, cid) == f"Container {cid} is already paused"
    assert st.conflict_message("pause", S.EXITED, cid) == f"Container {cid} is not running"
    assert st.conflict_message("unpause", S.RUNNING, cid) == f"Container {cid} is not paused"
    assert st.conflict_message("exec", S.PAUSED, cid, "lc-a") == (
        "Container lc-a is paused, unpause the container before exec"
    )
    assert st.conflict_message("exec", S.EXITED, cid) == f"Container {cid} is not running"
    assert st.conflict_message("kill", S.EXITED, cid, "lc-stopped") == (
        f"Cannot kill container: lc-stopped: Container {cid} is not running"
    )
    assert st.conflict_message("remove", S.RUNNING, cid) == (
        f"You cannot remove a running container {cid}. Stop the container before attempting removal or force remove"
    )


def test_running_flag_is_dockers() -> None:
    assert st.ContainerState(status=S.RESTARTING).running
    assert st.ContainerState(status=S.PAUSED).running
    assert not st.ContainerState(status=S.EXITED).running
