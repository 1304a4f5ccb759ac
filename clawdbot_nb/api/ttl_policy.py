"""`ttl="auto"`: choose 5m or 1h for one call, with the reason in one sentence.

The choice is a ski-rental decision. A 5m write is cheap (1.25x input) but a pause of 5 to 60
minutes makes the next call write the prefix again; a 1h write costs more (2x) and survives such
a pause. Only a call that *writes the reused prefix* decides anything: a call that reads it and
writes just its new turn leaves the entry's TTL as it was, so it takes 5m (the cheap write of a
turn that will not be read again).

Comparing "1h now" with "5m now, and 1h after the first pause that costs a rewrite", per token
of the reused prefix `S` (prices relative to input: write_5m `w5`, write_1h `w1`, read `r`):

- if the next event that matters is a 5–60 min pause, 1h saves `w5 - r` (5m rewrites, 1h reads);
- if it is a pause over an hour, or the end of the work, 1h wasted `w1 - w5`.

So 1h pays when `p * (w5 - r) * S > (1 - p) * (w1 - w5) * S + (w1 - w5) * U`, where `U` is the
one-shot part written with it (the new question, written at the same TTL) and `p` the chance that
the next pause is 5–60 min rather than longer or final. `p` is estimated from what this agent
showed: the pauses of this prefix, and the most recent pauses and ends of its other prefixes
(its rhythm carries over, since the cache watch is kept per agent across kernels), with a small
prior: `p = (mid + prior_mid) / (pauses + prior_mid + prior_long)` over weighted counts.

Everything here is pure: `UseHistory` records when prefixes were used; `choose_ttl` decides.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clawdbot_nb import catalog
from clawdbot_nb.api.cache_rules import TTL_SECONDS
from clawdbot_nb.api.planner import OAUTH_TTL_NOTE

FIVE_MINUTES = TTL_SECONDS["5m"]
ONE_HOUR = TTL_SECONDS["1h"]
#: How many of this prefix's gaps, and of the agent's other pauses, count.
OWN_GAPS = 32
AGENT_EVENTS = 48
#: Weight of one of the agent's other pauses against one of this prefix's.
AGENT_WEIGHT = 1.0
#: Prior pseudo-counts of 5–60 min pauses and of longer pauses or ends.
PRIOR_MID = 2.0
PRIOR_LONG = 2.0
_MAX_USES = 64
_MAX_PREFIXES = 512


@dataclass(frozen=True)
class PriceRatios:
    """Cache prices relative to the input price of a model."""

    write_5m: float = catalog.CACHE_WRITE_5M_MULTIPLIER
    write_1h: float = catalog.CACHE_WRITE_1H_MULTIPLIER
    read: float = catalog.DEFAULT_CACHE_READ_MULTIPLIER

    @classmethod
    def for_model(cls, model: str, overrides: Mapping[str, Any] | None = None) -> PriceRatios:
        from clawdbot_nb.api.pricing import prices_for

        prices = prices_for(model, overrides)
        if prices is not None and prices.input > 0:
            return cls(
                prices.cache_write_5m / prices.input,
                prices.cache_write_1h / prices.input,
                prices.cache_read / prices.input,
            )
        info = catalog.lookup(model)
        return cls(read=info.cache_read_multiplier) if info else cls()


@dataclass(frozen=True)
class Evidence:
    """What the agent showed so far: this prefix's gaps between uses (oldest first), and the
    agent's recent pauses of 5 min or more on other prefixes (`math.inf` for a prefix left
    unused for over an hour: its work ended)."""

    gaps: tuple[float, ...] = ()
    agent_pauses: tuple[float, ...] = ()

    def counts(self) -> tuple[float, float]:
        """(weighted 5–60 min pauses, weighted pauses of 5 min or more, ends included)."""
        own = [g for g in self.gaps if g >= FIVE_MINUTES]
        mid = sum(1 for g in own if g < ONE_HOUR) + AGENT_WEIGHT * sum(
            1 for g in self.agent_pauses if g < ONE_HOUR
        )
        return mid, len(own) + AGENT_WEIGHT * len(self.agent_pauses)

    @property
    def mid_pause_chance(self) -> float:
        mid, total = self.counts()
        return (mid + PRIOR_MID) / (total + PRIOR_MID + PRIOR_LONG)


@dataclass(frozen=True)
class TtlChoice:
    ttl: str  # "5m" | "1h"
    reason: str  # one sentence, starting with the TTL
    mid_pause_chance: float | None = None


class UseHistory:
    """When each prefix (any hashable key) of one agent was used; bounded, pure."""

    def __init__(self) -> None:
        self._uses: OrderedDict[Hashable, deque[float]] = OrderedDict()
        #: (time, pause length, prefix) of every pause of 5 min or more, most recent last.
        self._pauses: deque[tuple[float, float, Hashable]] = deque(maxlen=4 * AGENT_EVENTS + OWN_GAPS)

    def record(self, prefix: Hashable, at: float) -> None:
        uses = self._uses.get(prefix)
        if uses is None:
            uses = self._uses[prefix] = deque(maxlen=_MAX_USES)
            if len(self._uses) > _MAX_PREFIXES:
                self._uses.popitem(last=False)
        else:
            self._uses.move_to_end(prefix)
            gap = at - uses[-1]
            if gap >= FIVE_MINUTES:
                self._pauses.append((at, gap, prefix))
        uses.append(at)

    def uses(self, prefix: Hashable) -> tuple[float, ...]:
        return tuple(self._uses.get(prefix, ()))

    def evidence(self, prefix: Hashable, now: float) -> Evidence:
        uses = list(self._uses.get(prefix, ()))
        gaps = tuple(b - a for a, b in itertools.pairwise(uses))[-OWN_GAPS:]
        events: list[tuple[float, float]] = [(t, g) for t, g, p in self._pauses if p != prefix]
        # A prefix unused for an hour ended (for the cache, the same as an hour's pause).
        ended = 0
        for other in reversed(self._uses):
            if ended >= AGENT_EVENTS:
                break
            if other == prefix:
                continue
            last = self._uses[other][-1]
            if now - last >= ONE_HOUR:
                events.append((last + ONE_HOUR, math.inf))
                ended += 1
        events.sort()
        return Evidence(gaps, tuple(g for _, g in events[-AGENT_EVENTS:]))


# ---------------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}" if seconds >= 90 else f"{seconds / 60:.1f}".rstrip("0").rstrip(".")


def _span(gaps: Sequence[float]) -> str:
    lo, hi = min(gaps), max(gaps)
    if hi < 90:
        return f"{lo:.0f} s" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f} s"
    low, high = _minutes(lo), _minutes(hi)
    return f"{low} min" if low == high else f"{low}–{high} min"


def _uses_sentence(ttl: str, gaps: Sequence[float]) -> str:
    return f"{ttl}: your last {len(gaps) + 1} uses came {_span(gaps)} apart"


def _reason(ttl: str, evidence: Evidence, one_shot_heavy: bool) -> str:
    recent = list(evidence.gaps[-3:])
    pauses = [g for g in evidence.gaps if g >= FIVE_MINUTES][-5:]
    agent = list(evidence.agent_pauses)
    if ttl == "1h":
        if recent and all(FIVE_MINUTES <= g < ONE_HOUR for g in recent):
            return _uses_sentence("1h", recent)
        if pauses and all(g < ONE_HOUR for g in pauses[-2:]):
            mids = [g for g in pauses if g < ONE_HOUR]
            return (
                f"1h: {len(mids)} of your last {len(pauses)} pauses here lasted {_span(mids)}, "
                "too long for 5m"
            )
        mids = [g for g in agent if g < ONE_HOUR]
        if mids:
            return (
                f"1h: {len(mids)} of your last {len(agent)} pauses on this agent lasted {_span(mids)}, "
                "too long for 5m"
            )
        return "1h: no history yet, and one pause of 5–60 min already pays for it"
    if one_shot_heavy:
        return "5m: the new turn written with the prefix outweighs what 1h would save"
    if recent and all(g < FIVE_MINUTES for g in recent):
        return _uses_sentence("5m", recent)
    longs = [g for g in [*pauses, *agent] if g >= ONE_HOUR]
    everything = [*pauses, *agent]
    if longs:
        return (
            f"5m: {len(longs)} of your last {len(everything)} breaks lasted over an hour, "
            "which even a 1h entry does not survive"
        )
    return "5m: no pause of 5–60 min seen yet on this agent"


def choose_ttl(
    evidence: Evidence,
    *,
    shared_tokens: int,
    one_shot_tokens: int,
    ratios: PriceRatios,
    cached_ttl: str | None = None,
    cached_until: str | None = None,
    oauth: bool = False,
) -> TtlChoice:
    """The TTL for one call.

    `shared_tokens` is what the call is expected to write that later calls will read (the
    system prompt and tools when their entry is gone; 0 when it is alive), `one_shot_tokens`
    what it writes that is not read again (the new question). `cached_ttl`/`cached_until`
    describe the live entry the call reads, if any (for the sentence). `oauth`: the credential
    ignores TTLs.
    """
    if oauth:
        return TtlChoice("5m", f"5m: {OAUTH_TTL_NOTE}")
    p = evidence.mid_pause_chance
    premium = ratios.write_1h - ratios.write_5m
    saving = ratios.write_5m - ratios.read
    gain = p * saving * shared_tokens - (1 - p) * premium * shared_tokens - premium * one_shot_tokens
    ttl = "1h" if shared_tokens > 0 and gain > 0 else "5m"
    if ttl == "5m" and cached_ttl is not None:
        until = f", until {cached_until}" if cached_until else ""
        return TtlChoice(
            "5m", f"5m: the prefix is cached ({cached_ttl}{until}); only the new turn is written", p
        )
    if shared_tokens <= 0:
        return TtlChoice("5m", "5m: nothing this call writes is read again", p)
    without_turn = p * saving - (1 - p) * premium > 0
    return TtlChoice(ttl, _reason(ttl, evidence, one_shot_heavy=ttl == "5m" and without_turn), p)


def turn_reuse(read_again: Sequence[bool]) -> float:
    """The share of new turns read again by a later call, from recent last-turn entries (True:
    read again), with a prior of half a read in two turns: one-shot until shown otherwise."""
    return (sum(read_again) + 0.5) / (len(read_again) + 2)


def choose_for_request(
    cumulative: Sequence[int],
    breakpoints: Sequence[int],
    last_turn_start: int,
    *,
    hit: int,
    cached_ttl: str | None,
    cached_until: str | None,
    evidence: Evidence,
    turn_reuse: float,
    ratios: PriceRatios,
) -> TtlChoice:
    """`choose_ttl` for one planned request, from its shape: the cumulative tokens per position,
    the breakpoint positions, where the new user turn starts, and the deepest position it is
    predicted to read (`hit`, -1 for none; `cached_ttl`/`cached_until` describe that entry).

    What it writes splits in two: up to the last breakpoint before the new turn (tools, system,
    earlier turns) is read again by later calls; the new turn only as often as this agent's new
    turns were read again (`turn_reuse`: a conversation goes on, a one-shot question does not).
    """
    if not breakpoints:
        return TtlChoice("5m", "5m: nothing is marked for caching")

    def tokens(position: int) -> int:
        return cumulative[position] if position >= 0 else 0

    shared = [p for p in breakpoints if p < last_turn_start]
    read = tokens(hit)
    last = tokens(max(breakpoints))
    if shared:
        boundary = tokens(shared[-1])
        shared_tokens = max(0, boundary - read)
        tail = max(0, last - max(boundary, read))
    else:
        shared_tokens, tail = 0, max(0, last - read)
    reads_shared = bool(shared) and hit >= shared[-1]
    return choose_ttl(
        evidence,
        shared_tokens=round(shared_tokens + turn_reuse * tail),
        one_shot_tokens=round((1 - turn_reuse) * tail),
        ratios=ratios,
        cached_ttl=cached_ttl if reads_shared else None,
        cached_until=cached_until if reads_shared else None,
    )
