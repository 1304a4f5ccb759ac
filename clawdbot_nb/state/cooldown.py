"""Cooldown and billing-disable math for auth profiles, and error classification.

Pure functions over `UsageStats` (the store's `usageStats[profileId]`), reproducing the
gateway's formulas: cooldown 1 min x 5^(n-1) capped at 1 h; billing disable 5 h doubling to
24 h; counters reset after the failure window or a success. Unlike the gateway's bug
(openclaw#3604), a cooldown whose time has passed is simply over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FAILURE_REASONS = ("auth", "format", "rate_limit", "billing", "timeout", "unknown")

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
COOLDOWN_CAP_MS = HOUR_MS

_STATS_KEYS = {
    "lastUsed": "last_used",
    "cooldownUntil": "cooldown_until",
    "disabledUntil": "disabled_until",
    "disabledReason": "disabled_reason",
    "errorCount": "error_count",
    "failureCounts": "failure_counts",
    "lastFailureAt": "last_failure_at",
}


def _ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


@dataclass(frozen=True)
class UsageStats:
    """`usageStats[profileId]`; None means the key is absent (never written as null)."""

    last_used: int | None = None
    cooldown_until: int | None = None
    disabled_until: int | None = None
    disabled_reason: str | None = None
    error_count: int | None = None
    failure_counts: Mapping[str, int] | None = None
    last_failure_at: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: object) -> UsageStats:
        if not isinstance(raw, Mapping):
            return cls()
        counts = raw.get("failureCounts")
        failure_counts = (
            {k: int(v) for k, v in counts.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if isinstance(counts, Mapping)
            else None
        )
        reason = raw.get("disabledReason")
        return cls(
            last_used=_ms(raw.get("lastUsed")),
            cooldown_until=_ms(raw.get("cooldownUntil")),
            disabled_until=_ms(raw.get("disabledUntil")),
            disabled_reason=reason if isinstance(reason, str) else None,
            error_count=_ms(raw.get("errorCount")),
            failure_counts=failure_counts,
            last_failure_at=_ms(raw.get("lastFailureAt")),
            extra={k: v for k, v in raw.items() if k not in _STATS_KEYS},
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for json_name, attr in _STATS_KEYS.items():
            value = getattr(self, attr)
            if value is not None:
                data[json_name] = dict(value) if isinstance(value, Mapping) else value
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def unusable_until(self) -> int | None:
        """The later of `cooldownUntil` and `disabledUntil`, when either is set."""
        ends = [t for t in (self.cooldown_until, self.disabled_until) if t is not None]
        return max(ends) if ends else None

    def in_cooldown(self, now_ms: int) -> bool:
        until = self.unusable_until()
        return until is not None and now_ms < until

    def unusable_kind(self, now_ms: int) -> str | None:
        """`disabled` (billing) or `cooldown`, whichever ends last, while unusable; else None."""
        active = [
            (until, kind)
            for until, kind in ((self.disabled_until, "disabled"), (self.cooldown_until, "cooldown"))
            if until is not None and now_ms < until
        ]
        return max(active)[1] if active else None

    def unusable_reason(self, now_ms: int) -> str | None:
        """Why it is unusable: the disable reason, else the most frequent failure reason."""
        kind = self.unusable_kind(now_ms)
        if kind is None:
            return None
        if kind == "disabled" and self.disabled_reason:
            return self.disabled_reason
        counts = self.failure_counts or {}
        return max(counts, key=lambda reason: counts[reason]) if counts else None


@dataclass(frozen=True)
class CooldownPolicy:
    """`auth.cooldowns` of the config, with the gateway's defaults."""

    billing_backoff_hours: float = 5.0
    billing_backoff_hours_by_provider: Mapping[str, float] = field(default_factory=dict)
    billing_max_hours: float = 24.0
    failure_window_hours: float = 24.0


def cooldown_ms(error_count: int) -> int:
    """1, 5, 25, then 60 minutes for the 1st, 2nd, 3rd and later failures in a window."""
    n = max(1, error_count)
    return min(COOLDOWN_CAP_MS, MINUTE_MS * 5 ** min(n - 1, 3))


def billing_disable_ms(billing_failures: int, provider: str, policy: CooldownPolicy) -> int:
    """5, 10, 20, then 24 hours (defaults) for the 1st, 2nd, 3rd and later billing failures."""
    k = max(1, billing_failures)
    base_hours = policy.billing_backoff_hours_by_provider.get(provider, policy.billing_backoff_hours)
    base_ms = max(MINUTE_MS, round(base_hours * HOUR_MS))
    max_ms = round(policy.billing_max_hours * HOUR_MS)
    return min(max_ms, base_ms * 2 ** min(k - 1, 10))


def prune_expired(stats: UsageStats, now_ms: int) -> UsageStats:
    """Drop cooldown and disable stamps whose time has passed (availability is unchanged)."""
    changes: dict[str, Any] = {}
    if stats.cooldown_until is not None and stats.cooldown_until <= now_ms:
        changes["cooldown_until"] = None
    if stats.disabled_until is not None and stats.disabled_until <= now_ms:
        changes.update(disabled_until=None, disabled_reason=None)
    return replace(stats, **changes) if changes else stats


def record_failure(
    stats: UsageStats,
    reason: str,
    now_ms: int,
    *,
    provider: str,
    policy: CooldownPolicy | None = None,
) -> UsageStats:
    """The stats after one failure with `reason` at `now_ms` (the gateway's `markAuthProfileFailure`)."""
    policy = policy or CooldownPolicy()
    if reason not in FAILURE_REASONS:
        reason = "unknown"
    error_count = stats.error_count or 0
    counts = dict(stats.failure_counts or {})
    window_ms = policy.failure_window_hours * HOUR_MS
    if stats.last_failure_at is not None and now_ms - stats.last_failure_at > window_ms:
        error_count, counts = 0, {}
    error_count += 1
    counts[reason] = counts.get(reason, 0) + 1
    updated = replace(
        prune_expired(stats, now_ms),
        error_count=error_count,
        failure_counts=counts,
        last_failure_at=now_ms,
    )
    if reason == "billing":
        return replace(
            updated,
            disabled_until=now_ms + billing_disable_ms(counts["billing"], provider, policy),
            disabled_reason="billing",
        )
    return replace(updated, cooldown_until=now_ms + cooldown_ms(error_count))


def record_success(stats: UsageStats, now_ms: int) -> UsageStats:
    """After a success at `now_ms`: `lastUsed` moved forward, counters and cooldowns cleared,
    `lastFailureAt` kept.

    A failure recorded at or after `now_ms` (by this process, another kernel or the gateway,
    applied first because it was written at once) is newer than this success and stands: only
    `lastUsed` moves. `lastUsed` never moves back.
    """
    last_used = max(stats.last_used or 0, now_ms)
    if stats.last_failure_at is not None and stats.last_failure_at >= now_ms:
        return replace(stats, last_used=last_used)
    return replace(
        stats,
        last_used=last_used,
        error_count=0,
        failure_counts=None,
        cooldown_until=None,
        disabled_until=None,
        disabled_reason=None,
    )


def success_clears(stats: UsageStats, now_ms: int) -> bool:
    """Whether a success at `now_ms` clears something: a cooldown, a disable, a failure count.
    A count written as 0 where none was stored clears nothing."""
    after = prune_expired(record_success(stats, now_ms), now_ms)
    if stats.error_count is None and after.error_count == 0:
        after = replace(after, error_count=None)
    return replace(after, last_used=stats.last_used) != stats


def success_needs_writing(stats: UsageStats, now_ms: int, *, last_used_slack_ms: int) -> bool:
    """Whether a success at `now_ms` must be written to the store: it clears something, or the
    stored `lastUsed` (round robin's key for the gateway and other kernels) is more than
    `last_used_slack_ms` older than this use. A success that would only nudge `lastUsed` is
    kept in memory instead (see `api.bookkeeping`)."""
    return success_clears(stats, now_ms) or (stats.last_used or 0) < now_ms - last_used_slack_ms


def clear_cooldown(stats: UsageStats) -> UsageStats:
    """`clearAuthProfileCooldown`: resets only `errorCount` and `cooldownUntil`."""
    return replace(stats, error_count=0, cooldown_until=None)


_IMAGE_LIMIT = re.compile(r"image.*(size|dimension)|(size|dimension).*image")
_RATE_LIMIT = re.compile(r"rate[_ ]limit|too many requests|429")
_BILLING_402 = re.compile(r"\b402\b")
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "rate_limit",
        (
            "exceeded your current quota",
            "resource has been exhausted",
            "quota exceeded",
            "resource_exhausted",
            "usage limit",
            "overloaded_error",
            "overloaded",
        ),
    ),
    ("format", ("string should match pattern", "tool_use.id", "tool_use_id", "invalid request format")),
    ("billing", ("payment required", "insufficient credits", "credit balance", "plans & billing")),
    ("timeout", ("timeout", "timed out", "deadline exceeded")),
    (
        "auth",
        (
            "invalid api key",
            "incorrect api key",
            "invalid token",
            "authentication",
            "re-authenticate",
            "oauth token refresh failed",
            "unauthorized",
            "forbidden",
            "access denied",
            "expired",
            "token has expired",
            "401",
            "403",
            "no credentials found",
            "no api key found",
        ),
    ),
)


def classify_message(message: str) -> str | None:
    """The gateway's `classifyFailoverReason` on an error text; None means do not fail over."""
    text = message.lower()
    if _IMAGE_LIMIT.search(text):
        return None
    if _RATE_LIMIT.search(text):
        return "rate_limit"
    for reason, needles in _RULES:
        if reason == "billing" and (
            _BILLING_402.search(text)
            or ("billing" in text and any(w in text for w in ("upgrade", "credits", "payment", "plan")))
        ):
            return "billing"
        if any(needle in text for needle in needles):
            return reason
    return None


def classify_failure(status: int | None, message: str = "", *, timed_out: bool = False) -> str | None:
    """Why a request failed, for failover: by HTTP status first, then by the error text.

    429 and 529 are `rate_limit`, 402 `billing`, 401 and 403 `auth`, 408 and 504 and client
    timeouts `timeout`, other 5xx `unknown`. A 400 or 404 is the request's fault, not the
    profile's: no failover unless the text says otherwise (e.g. a billing message).
    """
    if timed_out:
        return "timeout"
    if status in (429, 529):
        return "rate_limit"
    if status == 402:
        return "billing"
    if status in (401, 403):
        return "auth"
    if status in (408, 504):
        return "timeout"
    by_text = classify_message(message)
    if by_text is not None:
        return by_text
    if status is not None and status >= 500:
        return "unknown"
    return None
