"""The prompt cache: lookup with a 20-block lookback, TTL refresh on hit, delayed visibility.

Rules (reference §2.4, §2.6, §3.3, §3.4, §11.5-7):
- an entry is the cumulative prefix hash at a breakpoint, keyed also by organisation,
  workspace and model, with a TTL of 5 minutes or 1 hour on the virtual clock;
- each breakpoint looks for an entry at its own position, then walks back one block at a time,
  20 positions in all (the breakpoint included), where a run of consecutive `tool_use` blocks,
  or of consecutive `tool_result` blocks, is one position (`Position.slot`, as the docs count
  parallel tool calls); the read `A` is the highest position found;
- every entry found is refreshed (`expires = now + ttl`) at no cost;
- writes happen at the breakpoints after `A` whose cumulative prefix reaches the model's
  minimum; `B` is the last such 1h breakpoint (else `A`), `C` the last such breakpoint (else `A`);
- writes become visible only when the writing response begins (`commit`), so identical
  requests sent in parallel all pay full price.

An entry keeps the TTL it was written with: a later request that marks the same prefix with the
other TTL reads it and refreshes it by the entry's TTL (the real rule is undocumented).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from clawdbot_nb.sim.prefix import PrefixPlan

__all__ = ["LOOKBACK", "TTL_SECONDS", "CacheOutcome", "PromptCache"]

LOOKBACK = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
_SWEEP_EVERY = 2048


@dataclass(slots=True)
class _Entry:
    tokens: int
    ttl: float
    expires_at: float


@dataclass
class CacheOutcome:
    """What the cache did for one request, in tokens (the A/B/C rule of reference §2.6)."""

    read: int = 0
    write_5m: int = 0
    write_1h: int = 0
    input_tokens: int = 0
    hit_position: int | None = None
    pending: list[tuple[tuple, int, float]] = field(default_factory=list)

    @property
    def creation(self) -> int:
        return self.write_5m + self.write_1h


class PromptCache:
    """Entries of every organisation, workspace and model; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, _Entry] = {}
        self._commits = 0

    def evaluate(self, scope: tuple, plan: PrefixPlan, minimum: int, now: float) -> CacheOutcome:
        """Look up and refresh; return usage split and the writes to commit when the reply begins."""
        total = plan.total
        if not plan.breakpoints:
            return CacheOutcome(input_tokens=total)
        hashes, cumulative = plan.hashes, plan.cumulative
        hit = -1
        with self._lock:
            entries = self._entries
            blocks = plan.blocks
            for bp in plan.breakpoints:
                lowest_slot = blocks[bp.position].slot - LOOKBACK + 1
                for position in range(bp.position, -1, -1):
                    if position <= hit or blocks[position].slot < lowest_slot:
                        break
                    key = (scope, hashes[position])
                    entry = entries.get(key)
                    if entry is None:
                        continue
                    if now >= entry.expires_at:
                        del entries[key]
                        continue
                    entry.expires_at = now + entry.ttl
                    hit = position
                    break
        read = cumulative[hit] if hit >= 0 else 0
        written = [bp for bp in plan.breakpoints if bp.position > hit and cumulative[bp.position] >= minimum]
        if not written:
            return CacheOutcome(read=read, input_tokens=total - read, hit_position=hit if hit >= 0 else None)
        c = cumulative[written[-1].position]
        one_hour = [bp for bp in written if bp.ttl == "1h"]
        b = cumulative[one_hour[-1].position] if one_hour else read
        pending = [
            ((scope, hashes[bp.position]), cumulative[bp.position], TTL_SECONDS[bp.ttl]) for bp in written
        ]
        return CacheOutcome(
            read=read,
            write_1h=b - read,
            write_5m=c - b,
            input_tokens=total - c,
            hit_position=hit if hit >= 0 else None,
            pending=pending,
        )

    def commit(self, pending: list[tuple[tuple, int, float]], now: float) -> None:
        """Make a response's writes visible (called when the response begins)."""
        if not pending:
            return
        with self._lock:
            for key, tokens, ttl in pending:
                entry = self._entries.get(key)
                if entry is not None and now < entry.expires_at:
                    entry.ttl = max(entry.ttl, ttl)
                    entry.expires_at = max(entry.expires_at, now + ttl)
                else:
                    self._entries[key] = _Entry(tokens, ttl, now + ttl)
            self._commits += 1
            if self._commits % _SWEEP_EVERY == 0:
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        expired = [key for key, entry in self._entries.items() if now >= entry.expires_at]
        for key in expired:
            del self._entries[key]

    def live_entries(self, now: float) -> int:
        """How many unexpired entries exist (all scopes)."""
        with self._lock:
            return sum(1 for entry in self._entries.values() if now < entry.expires_at)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
