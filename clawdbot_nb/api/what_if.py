"""What this agent's calls would have cost under always-5m, always-1h and `ttl="auto"`, beside
what they cost: the cache watch's recorded calls (prefix hashes, token counts, breakpoints, in
the order they were sent) replayed through the documented cache rules and priced as the ledger
prices them.

The replay keeps its own cache: an entry is found while its age is under its TTL, a hit
refreshes it and keeps its TTL, a read walks back 20 blocks from each breakpoint, writes follow
the A/B/C rule and need the model's minimum. Token counts are the API's where any recorded
reply stated them (the prefix read, the prefix written: `token_counts`), the tokenizer's
estimates fitted between those points elsewhere, so a replay of the TTLs actually sent ("as
sent") reproduces what was paid when the API behaved as documented — the replay's own check. Calls are
taken as sequential (parallel calls would change nothing but in-flight writes). OAuth and
setup-token calls keep 5m under every policy: their wire path ignores TTLs.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.api.cache_explain import Scope, walk_lookup
from clawdbot_nb.api.cache_rules import TTL_SECONDS, entry_alive
from clawdbot_nb.api.cache_store import usage_of
from clawdbot_nb.api.pricing import UsageCounts, compute_cost
from clawdbot_nb.api.token_counts import anchored, usage_points
from clawdbot_nb.api.ttl_policy import PriceRatios, UseHistory, choose_for_request, turn_reuse

if TYPE_CHECKING:
    import pandas as pd

POLICIES = ("as sent", "always-5m", "always-1h", "auto")
_OAUTH_KINDS = ("token", "oauth")
_TURN_SAMPLE = 20


def _field(row: Mapping[str, Any], name: str) -> Any:
    """A column of a stored row, or None (a sqlite3.Row has no `.get`)."""
    return row[name] if name in row.keys() else None  # noqa: SIM118


@dataclass(frozen=True)
class RecordedCall:
    """One call as the watch stored it (no text)."""

    sent_at: float
    scope: Scope
    prefixes: tuple[bytes, ...]
    cumulative: tuple[int, ...]
    breakpoints: tuple[tuple[int, str], ...]
    last_turn_start: int
    total_tokens: int
    usage: UsageCounts
    paid_usd: float | None = None
    request_id: str | None = None
    hit: int = -1  # the position the call read through
    written: tuple[int, ...] = ()  # the breakpoints it wrote

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RecordedCall:
        shape = json.loads(row["shape"])
        blocks = shape["blocks"]
        usage = usage_of(row)
        return cls(
            sent_at=row["sent_at"],
            scope=Scope(row["model"], row["credential"], row["organization"], row["workspace"]),
            prefixes=tuple(bytes.fromhex(b[7]) for b in blocks),
            cumulative=tuple(b[9] for b in blocks),
            breakpoints=tuple((p, ttl) for p, ttl, _ in shape["breakpoints"]),
            last_turn_start=shape["last_turn_start"],
            total_tokens=shape["total_tokens"],
            usage=usage,
            paid_usd=_field(row, "cost_usd"),
            request_id=_field(row, "request_id"),
            hit=_field(row, "hit") if _field(row, "hit") is not None else -1,
            written=tuple(json.loads(_field(row, "written") or "[]")),
        )

    def exact_counts(self) -> dict[bytes, int]:
        """The prefixes whose size this call's usage stated, by prefix digest."""
        ttls = dict(self.breakpoints)
        written = [(p, ttls.get(p, "5m")) for p in self.written if 0 <= p < len(self.prefixes)]
        hit = self.hit if 0 <= self.hit < len(self.prefixes) else -1
        return {self.prefixes[p]: n for p, n in usage_points(hit, written, self.usage).items()}

    def calibrated(self, known: Mapping[bytes, int] | None = None) -> tuple[list[int], int]:
        """(cumulative tokens per position, total): exact where this call or `known` (prefix
        digest → size, from other calls) says, fitted to the reported prompt size elsewhere."""
        known = {**(known or {}), **self.exact_counts()}
        exact = {p: known[prefix] for p, prefix in enumerate(self.prefixes) if prefix in known}
        observed = self.usage.prompt_tokens or None
        return anchored(self.cumulative, exact, estimated_total=self.total_tokens, total=observed)


@dataclass(frozen=True)
class ReplayedCall:
    ttl: str  # what the policy sent ("5m", "1h", or "as sent")
    usage: UsageCounts
    cost_usd: float


@dataclass
class _Entry:
    ttl: str
    last_used: float
    turn: bool
    read_again: bool = False


def _minimum(model: str) -> int:
    info = catalog.lookup(model)
    return info.min_cacheable_tokens if info else 0


class _Replayer:
    """The replay's cache and the history `ttl="auto"` reads, advanced one call at a time."""

    def __init__(self, policy: str, overrides: Mapping[str, Any] | None) -> None:
        self.policy = policy
        self.overrides = overrides
        self.cache: dict[tuple[Scope, bytes], _Entry] = {}
        self.uses = UseHistory()
        self.turns: deque[_Entry] = deque(maxlen=_TURN_SAMPLE)

    def _entry(self, call: RecordedCall, position: int) -> _Entry | None:
        return self.cache.get((call.scope, call.prefixes[position]))

    def _ttl(self, call: RecordedCall, cumulative: list[int], positions: list[int], hit: int) -> str:
        if call.scope.credential in _OAUTH_KINDS:
            return "5m"
        if self.policy != "auto":
            return self.policy.removeprefix("always-")
        deepest = self._entry(call, hit) if hit >= 0 else None
        return choose_for_request(
            cumulative,
            positions,
            call.last_turn_start,
            hit=hit,
            cached_ttl=deepest.ttl if deepest else None,
            cached_until=None,
            evidence=self.uses.evidence(call.prefixes[_use_position(call)], call.sent_at),
            turn_reuse=turn_reuse([e.read_again for e in self.turns]),
            ratios=PriceRatios.for_model(call.scope.model, self.overrides),
        ).ttl

    def step(self, call: RecordedCall, known: Mapping[bytes, int] | None = None) -> ReplayedCall:
        at = call.sent_at
        cumulative, total = call.calibrated(known)
        positions = [p for p, _ in call.breakpoints]

        def live(position: int) -> bool:
            entry = self._entry(call, position)
            return entry is not None and entry_alive(at - entry.last_used, entry.ttl)

        found = walk_lookup(positions, live)
        hit = found[-1] if found else -1
        if self.policy == "as sent" or not positions:
            ttls, sent = [ttl for _, ttl in call.breakpoints], "as sent"
        else:
            sent = self._ttl(call, cumulative, positions, hit)
            ttls = [sent] * len(positions)
            self.uses.record(call.prefixes[_use_position(call)], at)
        for position in found:
            entry = self._entry(call, position)
            assert entry is not None
            entry.last_used = at
            entry.read_again = True

        def tokens(position: int) -> int:
            return cumulative[position] if position >= 0 else 0

        read = tokens(hit)
        minimum = _minimum(call.scope.model)
        written = [(p, t) for p, t in zip(positions, ttls, strict=True) if p > hit and tokens(p) >= minimum]
        write_1h = write_5m = 0
        plain = total - read
        if written:
            one_hour = [p for p, t in written if t == "1h"]
            b = tokens(one_hour[-1]) if one_hour else read
            c = tokens(written[-1][0])
            write_1h, write_5m, plain = b - read, c - b, total - c
        for position, ttl in written:
            key = (call.scope, call.prefixes[position])
            entry = self.cache.get(key)
            if entry is not None and entry_alive(at - entry.last_used, entry.ttl):
                if TTL_SECONDS[ttl] > TTL_SECONDS[entry.ttl]:
                    entry.ttl = ttl
                entry.last_used = at
            else:
                entry = self.cache[key] = _Entry(ttl, at, turn=position >= call.last_turn_start)
                if entry.turn:
                    self.turns.append(entry)
        usage = UsageCounts(plain, call.usage.output_tokens, read, write_5m, write_1h)
        cost = compute_cost(call.scope.model, usage, overrides=self.overrides).cost_usd
        return ReplayedCall(sent, usage, cost)


def replay(
    calls: Sequence[RecordedCall],
    policy: str,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> list[ReplayedCall]:
    """The usage and cost of every call in `calls` (in the order sent) under `policy` (see
    POLICIES)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    replayer = _Replayer(policy, overrides)
    known = exact_counts(calls)
    ordered = sorted(calls, key=lambda c: c.sent_at)
    return [replayer.step(call, known.get(call.scope.model)) for call in ordered]


def exact_counts(calls: Iterable[RecordedCall]) -> dict[str, dict[bytes, int]]:
    """Per model, every prefix whose size some call's usage stated (prefix digest → tokens)."""
    known: dict[str, dict[bytes, int]] = {}
    for call in calls:
        known.setdefault(call.scope.model, {}).update(call.exact_counts())
    return known


def _use_position(call: RecordedCall) -> int:
    """The breakpoint whose prefix `ttl="auto"` counts uses of (as the watch does)."""
    shared = [p for p, _ in call.breakpoints if p < call.last_turn_start]
    return shared[-1] if shared else call.breakpoints[-1][0]


@dataclass(frozen=True)
class WhatIf:
    """The replayed calls' costs under each policy, beside what they cost."""

    calls: int
    paid_usd: float
    totals: dict[str, float]
    usage: dict[str, UsageCounts]
    unrecorded_calls: int = 0

    def frame(self) -> pd.DataFrame:
        """One row per policy: cost, against what was paid, and the cache tokens it implies."""
        import pandas as pd

        rows = [
            {
                "policy": "paid",
                "cost_usd": self.paid_usd,
                "vs_paid": 1.0 if self.paid_usd else math.nan,
                **_token_columns(self.usage.get("paid")),
            }
        ]
        for policy in POLICIES:
            cost = self.totals[policy]
            rows.append(
                {
                    "policy": "replayed as sent" if policy == "as sent" else policy,
                    "cost_usd": cost,
                    "vs_paid": cost / self.paid_usd if self.paid_usd else math.nan,
                    **_token_columns(self.usage[policy]),
                }
            )
        return pd.DataFrame(rows).set_index("policy")

    def summary(self) -> str:
        """One line: the cheapest policy and what it would have saved."""
        options = {p: self.totals[p] for p in ("always-5m", "always-1h", "auto")}
        best = min(options, key=options.__getitem__)
        delta = self.paid_usd - options[best]
        verb = "saved" if delta > 0 else "cost"
        line = (
            f"{self.calls} calls: paid ${self.paid_usd:.4f}; {best} would have {verb} "
            f"${abs(delta):.4f} ({options[best] / self.paid_usd:.0%} of it)"
            if self.paid_usd
            else f"{self.calls} calls"
        )
        if self.unrecorded_calls:
            line += f"; {self.unrecorded_calls} earlier calls have no cache record and are left out"
        return line


def _token_columns(usage: UsageCounts | None) -> dict[str, int]:
    usage = usage or UsageCounts()
    return {
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_5m_tokens": usage.cache_write_5m_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "input_tokens": usage.input_tokens,
    }


def _add(usages: Iterable[UsageCounts]) -> UsageCounts:
    total = [0, 0, 0, 0, 0]
    for u in usages:
        for i, value in enumerate(
            (
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_5m_tokens,
                u.cache_write_1h_tokens,
            )
        ):
            total[i] += value
    return UsageCounts(*total)


def what_if(
    calls: Sequence[RecordedCall],
    *,
    overrides: Mapping[str, Any] | None = None,
    unrecorded_calls: int = 0,
) -> WhatIf:
    """Every policy over `calls`; what was paid is the calls' recorded cost (priced now when a
    call has none recorded)."""
    paid = 0.0
    for call in calls:
        cost = call.paid_usd
        if cost is None or (isinstance(cost, float) and math.isnan(cost)):
            cost = compute_cost(call.scope.model, call.usage, overrides=overrides).cost_usd
        paid += cost
    totals, usage = {}, {"paid": _add(c.usage for c in calls)}
    for policy in POLICIES:
        replayed = replay(calls, policy, overrides=overrides)
        totals[policy] = sum(r.cost_usd for r in replayed)
        usage[policy] = _add(r.usage for r in replayed)
    return WhatIf(len(calls), paid, totals, usage, unrecorded_calls)
