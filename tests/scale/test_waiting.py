"""A map waits for a cooling-down profile instead of failing its rows, honours the server's
`retry-after` and rate-limit headers, spreads rows over profiles; `ask` still fails fast."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api import scheduling
from clawdbot_nb.api.failures import ServerWait, server_wait
from clawdbot_nb.api.reply import Attempt
from clawdbot_nb.errors import NoAvailableProfileError
from clawdbot_nb.sim.ratelimits import RateLimits
from tests.scale.conftest import INSTRUCTIONS, answered

ROWS = [f"Ticket {n}: the export button does nothing." for n in range(12)]


def test_when_every_profile_cools_down_the_map_waits_for_the_first_back(make_workspace, simulator) -> None:
    workspace = make_workspace(profiles=2)
    simulator.faults.next(529, times=2)  # the warm-up fails on both profiles: both cool down 1 min
    started = simulator.clock.now()
    frame = workspace.map(ROWS, system=INSTRUCTIONS, progress=False)
    assert list(frame["status"]) == ["succeeded"] * len(ROWS)
    report = frame.attrs["report"]
    assert report.waits == 1 and 59.9 <= report.waited_s <= 61 and report.failed_attempts == 2
    assert simulator.clock.now() - started >= 59.999  # virtual time: the test took no minute
    first_answer = simulator.requests.messages(status=200)[0]
    assert first_answer.time - started >= 59.999
    assert answered(simulator) == len(ROWS)


def test_a_wait_longer_than_max_wait_fails_the_rows_left_and_says_when(make_workspace, simulator) -> None:
    workspace = make_workspace(profiles=1)
    simulator.faults.next(429, times=1, retry_after=1)
    frame = workspace.map(ROWS[:3], system=INSTRUCTIONS, max_wait="30s", progress=False)
    assert set(frame["status"]) == {"errored"}
    message = frame["error"].iloc[0]
    assert "No available auth profile" in message and "The first is back in 1m (anthropic:p0)" in message
    assert "longer than max_wait" in message
    assert len(simulator.requests.messages()) == 1


def test_retry_after_longer_than_the_cooldown_is_honoured(make_workspace, simulator) -> None:
    workspace = make_workspace(profiles=1)
    simulator.faults.next(429, retry_after=300)  # cooldown: 1 min; the server asks for 5
    failed_at = simulator.clock.now()
    frame = workspace.map(ROWS[:4], system=INSTRUCTIONS, progress=False)
    assert list(frame["status"]) == ["succeeded"] * 4
    resent = simulator.requests.messages(status=200)[0]
    assert resent.time - failed_at >= 299.999
    stats = workspace.agent.store_file.load().stats("anthropic:p0")
    assert stats.cooldown_until is None  # the success cleared the 1-minute cooldown, as the formula says


def test_exhausted_rate_limit_headers_pause_the_profile_until_their_reset(agent, make_workspace) -> None:
    limited = sim.Simulator(rate_limits=RateLimits(requests_per_minute=5))
    workspace = make_workspace(profiles=1, simulator=limited)
    frame = workspace.map(ROWS, system=INSTRUCTIONS, concurrency=1, progress=False)
    assert list(frame["status"]) == ["succeeded"] * len(ROWS)
    minutes = [int(r.time // 60) for r in limited.requests.messages()]
    assert max(minutes.count(m) for m in set(minutes)) <= 5 and len(set(minutes)) >= 3
    assert frame.attrs["report"].waits >= 2


def test_rows_are_spread_over_the_usable_profiles(make_workspace, simulator) -> None:
    frame = make_workspace(profiles=3).map(ROWS * 3, system=INSTRUCTIONS, concurrency=6, progress=False)
    counts = frame["profile"].value_counts()
    assert set(counts.index) == {"anthropic:p0", "anthropic:p1", "anthropic:p2"} and counts.min() >= 6


def test_ask_fails_fast_and_says_when_the_first_profile_is_back(make_workspace, simulator) -> None:
    workspace = make_workspace(profiles=2, max_retries=0)  # no SDK retry on the last profile
    simulator.faults.next(429, times=2)
    with pytest.raises(Exception, match="All 2 profiles failed"):
        workspace.ask("hello")
    simulator.clock.advance(30)
    with pytest.raises(NoAvailableProfileError) as info:
        workspace.ask("hello again")
    text = str(info.value)
    assert 'No available auth profile (all in cooldown/unavailable) for provider "anthropic"' in text
    assert (
        "The first is back in 1m (anthropic:p0)" in text or "The first is back in 1m (anthropic:p1)" in text
    )
    assert len(simulator.requests.messages()) == 2  # nothing was sent for the second ask


# -- the decisions, without I/O --------------------------------------------------------------------


def test_until_the_cache_is_warm_one_warm_up_goes_alone() -> None:
    pick = scheduling.pick_profile
    both = ["a", "b"]
    assert pick(both, now_ms=0, in_flight={}, held_until={}, warm=set(), warming=set()) == ("a", True)
    assert pick(both, now_ms=0, in_flight={"a": 1}, held_until={}, warm=set(), warming={"a"}) is None
    # Once a's reply began, b warms up (its own cache scope may differ) while a takes rows.
    assert pick(both, now_ms=0, in_flight={"a": 1}, held_until={}, warm={"a"}, warming=set()) == ("b", True)
    assert pick(both, now_ms=0, in_flight={"a": 3}, held_until={}, warm={"a"}, warming={"b"}) == ("a", False)
    assert pick(
        both, now_ms=0, in_flight={"a": 3, "b": 1}, held_until={}, warm={"a", "b"}, warming=set()
    ) == (
        "b",
        False,
    )
    assert (
        pick(both, now_ms=0, in_flight={}, held_until={"a": 5, "b": 5}, warm={"a", "b"}, warming=set())
        is None
    )
    assert pick(both, now_ms=0, in_flight={"a": 2}, held_until={}, warm=None, warming=set()) == ("b", False)
    sent = {"a": 5, "b": 9}
    assert pick(both, now_ms=0, in_flight={"a": 1}, held_until={}, warm=None, warming=set(), sent=sent) == (
        "a",
        False,
    )


def test_what_a_failed_call_means_for_the_row() -> None:
    from clawdbot_nb.api.failures import ApiError
    from clawdbot_nb.errors import NoCredentialsError, UsageError

    assert scheduling.outcome_of(NoAvailableProfileError("all cooling")) == scheduling.RETRY
    assert (
        scheduling.outcome_of(ApiError("All 3 profiles failed", fix=None, status=429, reason="rate_limit"))
        == "retry"
    )
    assert scheduling.outcome_of(ApiError("Anthropic API error 400", fix=None, status=400)) == scheduling.ROW
    assert (
        scheduling.outcome_of(ApiError("Unknown model — 404 model: x", fix=None, status=404))
        == scheduling.JOB
    )
    assert scheduling.outcome_of(ApiError("Cannot reach", fix=None, unreachable=True)) == scheduling.JOB
    assert scheduling.outcome_of(NoCredentialsError("none")) == scheduling.JOB
    assert scheduling.outcome_of(UsageError("empty")) == scheduling.ROW


def test_when_the_first_profile_is_back() -> None:
    back = scheduling.first_back_at
    assert back(["a", "b"], {"a": 5_000, "b": 3_000}, {}, 1_000) == ("b", 3_000)
    assert back(["a", "b"], {"a": 5_000, "b": 3_000}, {"b": 9_000}, 1_000) == ("a", 5_000)
    assert back(["a"], {"a": None}, {"a": 4_000}, 1_000) == ("a", 4_000)
    assert back(["a"], {"a": 500}, {}, 1_000) is None


def test_the_servers_wait_is_read_from_the_headers() -> None:
    assert server_wait({"retry-after": "30"}) == ServerWait(30.0, None)
    assert server_wait({"retry-after-ms": "1500", "retry-after": "9"}) == ServerWait(1.5, None)
    exhausted = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-11-01T12:00:30Z",
        "anthropic-ratelimit-tokens-remaining": "5000",
        "anthropic-ratelimit-tokens-reset": "2026-11-01T12:05:00Z",
    }
    wait = server_wait(exhausted)
    assert wait is not None and wait.retry_after_s is None and wait.reset_ms == 1_793_534_430_000
    assert server_wait({"anthropic-ratelimit-requests-remaining": "12"}) is None
    assert server_wait({"retry-after": "0"}) is None
    holds = scheduling.holds_after([Attempt("a", "rate_limit", 429, "429", ServerWait(60.0, None))], 1_000)
    assert holds == {"a": 61_000}
