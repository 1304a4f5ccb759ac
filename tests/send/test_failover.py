"""Failover across profiles through injected faults, with the cooldowns the gateway would store."""

from __future__ import annotations

import asyncio
import time

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.failures import ApiError
from clawdbot_nb.errors import ClawdbotError, NoAvailableProfileError
from tests.send.conftest import LONG_SYSTEM, set_order, store_api_key, store_token

MIN = 60_000
HOUR = 3_600_000


@pytest.fixture
def two_keys(agent, simulator) -> tuple[str, str]:
    first = simulator.add_api_key("sk-ant-api03-" + "F" * 80 + "KEY1")
    second = simulator.add_api_key("sk-ant-api03-" + "S" * 80 + "KEY2")
    store_api_key(agent, first, "anthropic:first")
    store_api_key(agent, second, "anthropic:second")
    set_order(agent, "anthropic:first", "anthropic:second")
    return first, second


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "rate_limit"), (529, "rate_limit"), (401, "auth"), (403, "auth"), (500, "unknown")],
)
def test_fails_over_and_cools_the_profile_down(workspace, agent, simulator, two_keys, status, reason) -> None:
    first, _ = two_keys
    simulator.faults.next(status, credential=first, retry_after=30)
    before = now_ms()
    started = time.monotonic()
    reply = workspace.ask("hello", system=LONG_SYSTEM)
    assert time.monotonic() - started < 10, "no SDK retry sleep on a profile failover can leave"
    assert reply.profile == "anthropic:second"
    assert [(a.profile, a.reason, a.status) for a in reply.attempts] == [("anthropic:first", reason, status)]
    stats = agent.store_file.load().stats("anthropic:first")
    assert stats.error_count == 1 and stats.failure_counts == {reason: 1}
    assert before + MIN <= stats.cooldown_until <= now_ms() + MIN
    store = agent.store_file.load()
    assert store.last_good("anthropic") == "anthropic:second"
    assert store.stats("anthropic:second").last_used >= before
    row = workspace.usage().iloc[-1]
    assert row["attempts"] == 2 and row["profiles_tried"] == "anthropic:first,anthropic:second"


def test_billing_disables_for_five_hours(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.next(402, credential=two_keys[0])
    before = now_ms()
    assert workspace.ask("hello").profile == "anthropic:second"
    stats = agent.store_file.load().stats("anthropic:first")
    assert stats.disabled_reason == "billing" and stats.cooldown_until is None
    assert before + 5 * HOUR <= stats.disabled_until <= now_ms() + 5 * HOUR


def test_cooling_profile_is_skipped_next_time_and_escalates(workspace, agent, simulator, two_keys) -> None:
    first, _ = two_keys
    simulator.faults.next(429, credential=first)
    workspace.ask("one")
    reply = workspace.ask("two")
    assert reply.profile == "anthropic:second" and reply.attempts == ()
    # The cooldown ends; the next failure in the window escalates to 5 minutes.
    agent.store_file.update(
        lambda s: s.set_stats(
            "anthropic:first",
            s.stats("anthropic:first").__class__(
                error_count=1,
                failure_counts={"rate_limit": 1},
                last_failure_at=now_ms() - 1000,
                cooldown_until=now_ms() - 1,
            ),
        )
    )
    simulator.faults.next(429, credential=first)
    before = now_ms()
    assert workspace.ask("three").profile == "anthropic:second"
    stats = agent.store_file.load().stats("anthropic:first")
    assert stats.error_count == 2 and before + 5 * MIN <= stats.cooldown_until <= now_ms() + 5 * MIN


def test_success_resets_the_counters(workspace, agent, simulator, two_keys) -> None:
    agent.store_file.update(
        lambda s: s.set_stats(
            "anthropic:first",
            s.stats("anthropic:first").__class__(
                error_count=3, failure_counts={"auth": 3}, last_failure_at=123, cooldown_until=now_ms() - 1
            ),
        )
    )
    assert workspace.ask("hello").profile == "anthropic:first"
    stats = agent.store_file.load().stats("anthropic:first")
    assert stats.error_count == 0 and stats.failure_counts is None and stats.cooldown_until is None
    assert stats.last_failure_at == 123


def test_all_profiles_failing_names_each_and_the_fix(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.next(429, times=None)
    with pytest.raises(ApiError) as info:
        workspace.ask("hello")
    text = str(info.value)
    assert (
        "All 2 profiles failed" in text
        and "anthropic:first: rate_limit" in text
        and "anthropic:second" in text
    )
    assert "add another Anthropic profile" in info.value.fix
    with pytest.raises(NoAvailableProfileError) as later:
        workspace.ask("again")
    assert "No available auth profile (all in cooldown/unavailable)" in str(later.value)
    assert workspace.usage().iloc[-2]["error"].startswith("All 2 profiles failed")


def test_the_last_profile_gets_the_sdk_retries(workspace, agent, simulator) -> None:
    store_api_key(agent, sim.DEMO_API_KEY)
    simulator.faults.next(529, retry_after=0.01)
    reply = workspace.ask("hello")
    assert reply.attempts == () and reply.profile == "anthropic:default"
    assert simulator.requests.count(path="/v1/messages", status=529) == 1


def test_a_bad_request_does_not_fail_over_or_cool_down(workspace, agent, simulator, two_keys) -> None:
    with pytest.raises(ApiError) as info:
        workspace.ask("hello", model="claude-made-up-9")
    assert "Unknown model" in str(info.value) and "404 not_found_error" in str(info.value)
    assert simulator.requests.count(path="/v1/messages") == 1
    assert agent.store_file.load().stats("anthropic:first").error_count is None


def test_token_invalid_401_gives_the_setup_token_fix(workspace, agent, simulator) -> None:
    token = simulator.add_setup_token("sk-ant-oat01-" + "t" * 80 + "TOK1")
    store_token(agent, token)
    simulator.revoke(token)
    with pytest.raises(ClawdbotError) as info:
        workspace.ask("hello")
    assert "401 token invalid for profile anthropic:manual" in str(info.value)
    assert "claude setup-token" in info.value.fix and "paste-token" in info.value.fix
    assert agent.store_file.load().stats("anthropic:manual").failure_counts == {"auth": 1}


def test_streaming_fails_over_before_the_first_token(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.next(529, credential=two_keys[0])
    stream = workspace.stream("hello", system=LONG_SYSTEM)
    text = "".join(stream)
    assert stream.reply.profile == "anthropic:second" and text == stream.reply.text
    assert stream.reply.attempts[0].reason == "rate_limit"


def test_overloaded_sse_error_before_text_fails_over(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.sse_error("overloaded_error", after_events=1, credential=two_keys[0])
    stream = workspace.stream("hello")
    "".join(stream)
    assert stream.reply.profile == "anthropic:second"


def test_a_stream_cut_after_text_reports_it(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.drop_stream(after_events=6, credential=two_keys[0])
    stream = workspace.stream("hello there, tell me a long story")
    received = []
    with pytest.raises(ApiError) as info:
        for chunk in stream:
            received.append(chunk)
    assert received, "some text arrived before the cut"
    assert "broke off" in str(info.value) and "run the call again" in info.value.fix


def test_async_failover(workspace, agent, simulator, two_keys) -> None:
    simulator.faults.next(429, credential=two_keys[0], retry_after=30)

    async def scenario():
        reply = await workspace.aask("hello")
        stream = workspace.astream("hello again")
        return reply, stream, [c async for c in stream]

    reply, stream, _ = asyncio.run(scenario())
    assert reply.profile == "anthropic:second" and reply.attempts[0].reason == "rate_limit"
    assert stream.reply.profile == "anthropic:second"


def test_round_robin_prefers_tokens_then_least_recently_used(workspace, agent, simulator) -> None:
    key = simulator.add_api_key("sk-ant-api03-" + "R" * 80 + "RRRR")
    store_api_key(agent, key, "anthropic:key")
    store_token(agent, sim.DEMO_SETUP_TOKEN, "anthropic:token")
    assert workspace.ask("hello").profile == "anthropic:token"
