from __future__ import annotations

import pytest

from clawdbot_nb.state.cooldown import (
    CooldownPolicy,
    UsageStats,
    classify_failure,
    classify_message,
    clear_cooldown,
    prune_expired,
    record_failure,
    record_success,
    success_clears,
    success_needs_writing,
)

MIN = 60_000
HOUR = 3_600_000
NOW = 1_769_650_000_000


def fail_times(n: int, reason: str = "rate_limit", policy: CooldownPolicy | None = None) -> list[UsageStats]:
    stats, history = UsageStats(), []
    for i in range(n):
        stats = record_failure(stats, reason, NOW + i, provider="anthropic", policy=policy)
        history.append(stats)
    return history


@pytest.mark.parametrize(("n", "minutes"), [(1, 1), (2, 5), (3, 25), (4, 60), (5, 60), (9, 60)])
def test_cooldown_table(n: int, minutes: int) -> None:
    stats = fail_times(n)[-1]
    assert stats.error_count == n
    assert stats.cooldown_until == NOW + (n - 1) + minutes * MIN
    assert stats.failure_counts == {"rate_limit": n}
    assert stats.last_failure_at == NOW + n - 1
    assert stats.disabled_until is None


@pytest.mark.parametrize(("k", "hours"), [(1, 5), (2, 10), (3, 20), (4, 24), (7, 24)])
def test_billing_table(k: int, hours: int) -> None:
    stats = fail_times(k, "billing")[-1]
    assert stats.disabled_until == NOW + (k - 1) + hours * HOUR
    assert stats.disabled_reason == "billing"
    assert stats.cooldown_until is None


def test_billing_config_overrides() -> None:
    policy = CooldownPolicy(
        billing_backoff_hours=1, billing_backoff_hours_by_provider={"anthropic": 2}, billing_max_hours=3
    )
    history = fail_times(3, "billing", policy)
    assert [s.disabled_until - (NOW + i) for i, s in enumerate(history)] == [2 * HOUR, 3 * HOUR, 3 * HOUR]


def test_billing_base_is_at_least_a_minute() -> None:
    policy = CooldownPolicy(billing_backoff_hours=0.0001)
    assert fail_times(1, "billing", policy)[-1].disabled_until == NOW + MIN


def test_error_count_spans_reasons_and_failure_counts_split_them() -> None:
    stats = record_failure(UsageStats(), "auth", NOW, provider="anthropic")
    stats = record_failure(stats, "rate_limit", NOW + 1, provider="anthropic")
    assert stats.error_count == 2
    assert stats.failure_counts == {"auth": 1, "rate_limit": 1}
    assert stats.cooldown_until == NOW + 1 + 5 * MIN


def test_counters_reset_after_the_failure_window() -> None:
    stats = fail_times(3)[-1]
    later = NOW + 24 * HOUR + 10
    stats = record_failure(stats, "timeout", later, provider="anthropic")
    assert stats.error_count == 1
    assert stats.failure_counts == {"timeout": 1}
    assert stats.cooldown_until == later + MIN


def test_failure_window_is_configurable() -> None:
    policy = CooldownPolicy(failure_window_hours=1)
    stats = fail_times(2, policy=policy)[-1]
    stats = record_failure(stats, "rate_limit", NOW + HOUR + 5, provider="anthropic", policy=policy)
    assert stats.error_count == 1


def test_success_clears_everything_but_last_failure_at() -> None:
    stats = record_failure(fail_times(2)[-1], "billing", NOW + 5, provider="anthropic")
    stats = record_success(stats, NOW + 10)
    assert stats.to_json() == {"lastUsed": NOW + 10, "errorCount": 0, "lastFailureAt": NOW + 5}


def test_clear_cooldown_resets_only_count_and_cooldown() -> None:
    stats = record_failure(fail_times(1)[-1], "billing", NOW + 1, provider="anthropic")
    cleared = clear_cooldown(stats)
    assert cleared.cooldown_until is None and cleared.error_count == 0
    assert cleared.disabled_until == stats.disabled_until


def test_a_cooldown_whose_time_has_passed_is_over() -> None:
    stats = fail_times(1)[-1]
    assert stats.in_cooldown(NOW + 30_000)
    assert not stats.in_cooldown(stats.cooldown_until)
    assert not stats.in_cooldown(NOW + 10 * HOUR)
    assert prune_expired(stats, NOW + 10 * HOUR).cooldown_until is None


def test_unusable_kind_and_reason() -> None:
    stats = record_failure(fail_times(1)[-1], "billing", NOW + 1, provider="anthropic")
    assert stats.unusable_kind(NOW + 2) == "disabled"
    assert stats.unusable_reason(NOW + 2) == "billing"
    assert stats.unusable_kind(NOW + 6 * HOUR) is None
    cooling = fail_times(2, "auth")[-1]
    assert (cooling.unusable_kind(NOW + 2), cooling.unusable_reason(NOW + 2)) == ("cooldown", "auth")


def test_stats_json_round_trip_keeps_unknown_keys_and_never_writes_null() -> None:
    raw = {"lastUsed": 5, "errorCount": 2, "failureCounts": {"auth": 2}, "futureField": [1]}
    stats = UsageStats.from_json(raw)
    assert stats.to_json() == raw
    assert None not in record_success(stats, 9).to_json().values()


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        (429, "", "rate_limit"),
        (529, "Overloaded", "rate_limit"),
        (402, "", "billing"),
        (401, "invalid x-api-key", "auth"),
        (403, "", "auth"),
        (408, "", "timeout"),
        (504, "", "timeout"),
        (500, "Internal server error", "unknown"),
        (400, "max_tokens: must be <= 64000", None),
        (404, "model: claude-nope", None),
        (400, "Your credit balance is too low to access the Anthropic API.", "billing"),
        (None, "Request timed out.", "timeout"),
        (None, "Connection error.", None),
    ],
)
def test_classify_failure(status: int | None, message: str, reason: str | None) -> None:
    assert classify_failure(status, message) == reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Image dimensions exceed max allowed size: 8000 pixels", None),
        ("Rate limit reached for requests", "rate_limit"),
        ("429 Too Many Requests", "rate_limit"),
        ("You exceeded your current quota", "rate_limit"),
        ('{"type":"overloaded_error"}', "rate_limit"),
        ("messages.1.content.0.tool_use.id: String should match pattern", "format"),
        ("402 Payment Required", "billing"),
        ("Please upgrade your billing plan", "billing"),
        ("deadline exceeded", "timeout"),
        ("OAuth token refresh failed for anthropic: boom", "auth"),
        ('No API key found for provider "anthropic"', "auth"),
        ("The token has expired", "auth"),
        ("something else entirely", None),
    ],
)
def test_classify_message_follows_the_gateway_rows(message: str, reason: str | None) -> None:
    assert classify_message(message) == reason


def test_timed_out_flag_wins() -> None:
    assert classify_failure(None, "", timed_out=True) == "timeout"


def test_what_a_success_clears_and_when_it_must_be_written() -> None:
    now = 10 * HOUR
    fresh = UsageStats()
    assert not success_clears(fresh, now)  # errorCount 0 where none was stored clears nothing
    assert success_needs_writing(fresh, now, last_used_slack_ms=30_000)  # lastUsed was never set
    cooling = record_failure(UsageStats(last_used=now - 1000), "rate_limit", now - 500, provider="anthropic")
    assert success_clears(cooling, now)
    recent = UsageStats(last_used=now - 1000, error_count=0)
    assert not success_clears(recent, now)
    assert not success_needs_writing(recent, now, last_used_slack_ms=30_000)
    assert success_needs_writing(recent, now + 40_000, last_used_slack_ms=30_000)
