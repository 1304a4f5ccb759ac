"""What one call returns: the text, and what the cache did, cost and saved.

`Reply` renders as plain text (the reply) and, in a notebook, as Markdown with a one-line
usage footer; `footer()` is the same line for a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from clawdbot_nb.api.cache_rules import TTL_SECONDS
from clawdbot_nb.api.planner import CachePlan
from clawdbot_nb.api.pricing import Cost, UsageCounts, compute_cost, usage_counts
from clawdbot_nb.rendering import markdown_text, money, savings


@dataclass(frozen=True)
class Attempt:
    """A profile that failed before the call succeeded (or before it gave up)."""

    profile: str
    reason: str | None  # rate_limit | billing | auth | timeout | format | unknown
    status: int | None
    error: str
    #: What the server said about coming back to this profile (`failures.ServerWait`), if anything.
    wait: Any = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.profile}: {self.reason or 'error'} ({self.error})"


def _money(value: float) -> str:
    """A dollar amount as the footer shows it (see `clawdbot_nb.rendering.money`)."""
    return money(value)


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    agent: str
    profile: str  # profile id, or the environment variable's source label
    credential_type: str  # api_key | token | oauth
    #: The API's usage object (or a dict of its fields); `usage` and `cost` are read from it.
    raw_usage: Any
    plan: CachePlan
    latency_s: float
    ttft_s: float | None
    request_id: str | None
    stop_reason: str | None
    finished_at: datetime
    attempts: tuple[Attempt, ...] = ()
    streamed: bool = False
    message: Any = field(default=None, repr=False, compare=False)
    price_overrides: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    #: Seconds before the first HTTP request went out (validation, profile order, imports,
    #: client construction), and spent in attempts that failed before the successful one.
    #: `latency_s` is the successful exchange alone, `ttft_s` its first text.
    setup_s: float = 0.0
    attempts_s: float = 0.0
    #: The cost as the ledger recorded it (computed once per call).
    precomputed_cost: Cost | None = field(default=None, repr=False, compare=False)
    #: Why this call wrote where an earlier call could have let it read (a
    #: `cache_explain.MissCause`: `.code`, `.summary`, `.detail`); None on a hit or a first write.
    why_miss: Any = None
    #: What the response's headers said about waiting before the next request on this profile
    #: (`failures.ServerWait`: an exhausted rate limit), None when nothing.
    server_wait: Any = field(default=None, repr=False, compare=False)
    #: The conversation turn this reply was (a `conversation.ChatNote`), None outside `chat()`.
    chat: Any = None

    @cached_property
    def usage(self) -> UsageCounts:
        return usage_counts(self.raw_usage)

    @cached_property
    def cost(self) -> Cost:
        if self.precomputed_cost is not None:
            return self.precomputed_cost
        return compute_cost(self.model, self.raw_usage, overrides=self.price_overrides)

    # -- the cache verdict ---------------------------------------------------------------------

    @property
    def cache_read(self) -> int:
        return self.usage.cache_read_tokens

    @property
    def cache_written(self) -> int:
        return self.usage.cache_write_5m_tokens + self.usage.cache_write_1h_tokens

    @property
    def hit(self) -> bool:
        return self.cache_read > 0

    @property
    def hit_ratio(self) -> float:
        """cache read / all input tokens (read + written + uncached)."""
        return self.usage.hit_ratio

    @property
    def verdict(self) -> str:
        """`hit`, `hit+write`, `write`, `miss` (marked but nothing cached), or `off`."""
        if self.plan.ttl_applied == "none":
            return "off"
        if self.hit:
            return "hit+write" if self.cache_written else "hit"
        return "write" if self.cache_written else "miss"

    @property
    def cache_expires_at(self) -> datetime | None:
        """When the entry this call wrote or refreshed expires, if it touched the cache.

        A pure hit refreshes the entry it read at that entry's TTL, which the response does not
        say: this call's TTL is assumed (the footer marks it with `~`).
        """
        if not (self.hit or self.cache_written):
            return None
        if self.usage.cache_write_1h_tokens:
            seconds = TTL_SECONDS["1h"]
        elif self.usage.cache_write_5m_tokens:
            seconds = TTL_SECONDS["5m"]
        else:  # a hit refreshes the entry it read, at the TTL it was written with
            seconds = TTL_SECONDS.get(self.plan.ttl_applied, TTL_SECONDS["5m"])
        return self.finished_at + timedelta(seconds=seconds)

    # -- rendering -------------------------------------------------------------------------------

    def footer(self) -> str:
        u = self.usage
        ratio = "n/a" if math.isnan(self.hit_ratio) else f"{self.hit_ratio:.0%}"
        parts = [
            f"{self.verdict}",
            f"in {u.input_tokens:,}",
            f"out {u.output_tokens:,}",
            f"cache read {u.cache_read_tokens:,}",
            f"write 5m {u.cache_write_5m_tokens:,} / 1h {u.cache_write_1h_tokens:,}",
            f"hit {ratio}",
            f"cost {_money(self.cost.cost_usd)}",
            savings(self.cost.savings_usd),
        ]
        ttl = f"TTL {self.plan.ttl_applied}"
        if self.plan.ttl_note:
            ttl += f" ({self.plan.ttl_note})"
        parts.append(ttl)
        if self.plan.placement:  # what was marked for caching, and why (planner.py)
            parts.append(self.plan.placement)
        if self.chat is not None:  # which turn of which conversation, and what a re-run replaced
            parts.append(str(self.chat))
        expires = self.cache_expires_at
        if expires is not None:
            approximate = "~" if not self.cache_written else ""
            parts.append(f"expires {approximate}{expires.astimezone().strftime('%H:%M:%S')}")
        parts.append(f"{self.latency_s:.2f}s")
        parts.append(f"{self.profile} · {self.model}")
        if self.why_miss is not None:
            parts.append(f"why: {self.why_miss.summary}")
        return " · ".join(parts)

    def notes(self) -> list[str]:
        """Warnings worth showing with the reply (below-minimum prefixes, failovers)."""
        notes = list(self.plan.warnings)
        notes += [f"failed over: {attempt}" for attempt in self.attempts]
        return notes

    def __str__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        # JupyterLab reads `$…$` as LaTeX and tags as HTML, in the reply and in the footer alike.
        lines = [markdown_text(self.text), "", f"<small>{markdown_text(self.footer())}</small>"]
        lines += [f"<small>⚠ {markdown_text(note)}</small>" for note in self.notes()]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text + "\n— " + self.footer())


def utcnow() -> datetime:
    return datetime.now(UTC)
