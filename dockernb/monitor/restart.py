"""docker's restart manager, as a pure function: whether to restart, and after how long (layer L4).

The backoff starts at 100 ms and doubles on every restart up to one minute; a run that lasted
10 seconds or more resets it. ``no`` never restarts; ``always`` and ``unless-stopped`` restart
unless the user stopped the container; ``on-failure[:N]`` restarts on a non-zero exit code,
at most N times (0 = no limit). A stop by the user always wins (docker cancels the manager).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockernb.spec.container import RestartPolicy, RestartPolicyName

__all__ = ["DEFAULT_DELAY", "MAX_DELAY", "RestartDecision", "decide"]

DEFAULT_DELAY = 0.1
MAX_DELAY = 60.0
_RESET_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class RestartDecision:
    restart: bool
    #: seconds to wait before starting again (also the backoff to keep for next time)
    delay: float


def decide(
    policy: RestartPolicy,
    *,
    exit_code: int,
    manually_stopped: bool,
    restart_count: int,
    ran_for: float,
    previous_delay: float,
) -> RestartDecision:
    """docker's RestartManager.ShouldRestart for one exit."""
    if policy.name is RestartPolicyName.NO or manually_stopped:
        return RestartDecision(False, 0.0)
    delay = 0.0 if ran_for >= _RESET_AFTER else previous_delay
    if delay <= 0:
        delay = DEFAULT_DELAY
    elif delay < MAX_DELAY:
        delay *= 2
    delay = min(delay, MAX_DELAY)
    if policy.name in (RestartPolicyName.ALWAYS, RestartPolicyName.UNLESS_STOPPED):
        restart = True
    else:  # on-failure
        limit = policy.maximum_retry_count
        restart = exit_code != 0 and (limit == 0 or restart_count < limit)
    return RestartDecision(restart, delay if restart else 0.0)
