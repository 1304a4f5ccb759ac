"""The map's scheduling decisions, as pure functions: what a failed row's call means for the row
and the job, which profile the next row should prefer (and whether it must go alone to warm the
cache), how long the server asked us to leave a profile alone, and when the first profile is
back. Failover inside a call stays the call engine's (`call.py`): a row is always one call, and
sending it again after a wait is scheduling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clawdbot_nb.api.failures import ApiError
from clawdbot_nb.errors import NoAvailableProfileError, NoCredentialsError, UsageError

#: What a failed call means: send the row again once a profile is usable (`RETRY`), report the
#: row as failed and go on (`ROW`), or fail every row not yet answered (`JOB`: no row can
#: succeed — no credentials, an unknown model, an unreachable host).
RETRY, ROW, JOB = "retry", "row", "job"


def outcome_of(error: BaseException) -> str:
    if isinstance(error, NoAvailableProfileError):
        return RETRY  # every profile cooling down: waiting is the answer
    if isinstance(error, NoCredentialsError):
        return JOB
    if isinstance(error, UsageError):
        return ROW
    if isinstance(error, ApiError):
        if error.unreachable or (error.status == 404 and "model" in error.message.lower()):
            return JOB
        if error.reason is None or error.reason == "format":
            return ROW  # the request's own fault: another profile, or later, fails the same way
        return RETRY
    return ROW


def called(error: BaseException) -> bool:
    """Whether the failed call reached the API (it counts against the row's calls)."""
    return not isinstance(error, NoAvailableProfileError | NoCredentialsError | UsageError)


def holds_after(attempts: Iterable[Any], now_ms: int) -> dict[str, int]:
    """Profile → moment (epoch ms) the server asked us not to come back before (retry-after, an
    exhausted rate limit), from a call's attempts (`reply.Attempt` with `.wait`)."""
    holds: dict[str, int] = {}
    for attempt in attempts:
        wait = getattr(attempt, "wait", None)
        if wait is not None:
            holds[attempt.profile] = max(holds.get(attempt.profile, 0), wait.until_ms(now_ms))
    return holds


def pick_profile(
    available: list[str | None],
    *,
    now_ms: int,
    in_flight: Mapping[str | None, int],
    held_until: Mapping[str | None, int],
    warm: set[str | None] | None,
    warming: set[str | None],
    sent: Mapping[str | None, int] | None = None,
) -> tuple[str | None, bool] | None:
    """The profile the next row should prefer, and whether it is that profile's warm-up (the
    row goes alone, streamed, and the profile takes more rows once its reply begins); None when
    no row should go now. `available` is the engine's candidate order (usable profiles, best
    first). `warm` is None when the job does not warm the cache. Among the profiles that may
    take a row, the one sent the fewest rows so far (rate limits count per credential), then
    the one with the fewest in flight, goes first.

    Until some profile is warm, one warm-up at a time: parallel first requests would each write
    the same prefix. Then warm profiles take rows (the least busy first) while each other
    profile gets its own warm-up (a read if it shares the first one's cache, one write if not)."""
    usable = [p for p in available if held_until.get(p, 0) <= now_ms]
    if not usable:
        return None
    sent = sent or {}

    def load(profile: str | None) -> tuple[int, int]:
        return sent.get(profile, 0), in_flight.get(profile, 0)

    if warm is None:
        return min(usable, key=load), False
    cold = [p for p in usable if p not in warm and p not in warming]
    if not warm:
        return (cold[0], True) if cold and not warming else None
    if cold:
        return cold[0], True
    ready = [p for p in usable if p in warm]
    if not ready:
        return None
    return min(ready, key=load), False


def first_back_at(
    profiles: Iterable[str],
    unusable_until: Mapping[str, int | None],
    held_until: Mapping[str | None, int],
    now_ms: int,
) -> tuple[str, int] | None:
    """Of the agent's profiles, the one usable again soonest and when (epoch ms): each is back
    when its cooldown (or disable) is over and the server's wait for it has passed. None when
    none of them is waiting for a time to pass."""
    best: tuple[int, str] | None = None
    for profile in profiles:
        until = unusable_until.get(profile)
        held = held_until.get(profile, 0)
        if (until is None or until <= now_ms) and held <= now_ms:
            continue
        back = max(until or 0, held, now_ms)
        if best is None or back < best[0]:
            best = (back, profile)
    return None if best is None else (best[1], best[0])
