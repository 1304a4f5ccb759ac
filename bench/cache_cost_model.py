"""A cost model of notebook sessions under a cache-TTL policy, and the offline oracle.

Importable by the benches (`bench_ttl.py`, and others that need an oracle): trace families,
the per-call cache arithmetic of what the planner sends, the replay of a TTL sequence, the
dynamic-programming oracle, and the driver of a step-by-step policy such as `ttl="auto"`.

What it models (see `bench_ttl.py` for the whole list of assumptions): one agent and one model;
a session is a run of one-shot calls sharing one system prompt of `S` tokens; the planner marks
the system block and, unless `last_turn_mark=False`, the last user turn, both at the call's TTL;
a call is sent `gap_s` after the previous one; entries follow the simulator's rules (found while
`age < TTL`, refreshed on every hit, keeping the TTL they were written with).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clawdbot_nb import catalog, tokenizer
from clawdbot_nb.api.cache_rules import TTL_SECONDS, entry_alive
from clawdbot_nb.api.pricing import UsageCounts, prices_for

TTLS = ("5m", "1h")
PREFIX_SIZES = (5_000, 20_000, 100_000)


@dataclass(frozen=True)
class Call:
    gap_s: float  # since the previous call of the session (0 for the first)
    user_words: int  # the question, in base tokens (one 5-letter word each)
    output_tokens: int
    repeat: bool  # the same question as the previous call (a re-run cell)


@dataclass(frozen=True)
class Session:
    family: str
    index: int
    prefix_tokens: int  # the target size of the system prompt
    calls: tuple[Call, ...]

    @property
    def duration_s(self) -> float:
        return sum(c.gap_s for c in self.calls)


# ---------------------------------------------------------------------------------------------
# Trace families


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _user_words(rng: random.Random) -> int:
    return int(min(1500, max(3, rng.lognormvariate(math.log(40), 1.0))))


def _output_tokens(rng: random.Random) -> int:
    return int(min(4000, max(5, rng.lognormvariate(math.log(250), 0.8))))


def _gaps(family: str, rng: random.Random) -> list[float]:
    if family == "quick":  # iterating on a cell: about 40 s between calls
        count = rng.randint(14, 59)
        return [min(600.0, max(5.0, rng.lognormvariate(math.log(35), 0.5))) for _ in range(count)]
    if family == "mixed":  # mostly 1-4 min, one pause in five of 6-40 min
        return [
            rng.uniform(60, 240) if rng.random() < 0.8 else rng.uniform(360, 2400)
            for _ in range(rng.randint(14, 49))
        ]
    if family == "sparse":  # one call every 10-50 min
        return [rng.uniform(600, 3000) for _ in range(rng.randint(3, 13))]
    if family == "bursts":  # bursts of quick calls, pauses of 6 min to 6 h between them
        gaps: list[float] = []
        for burst in range(rng.randint(2, 6)):
            if burst:
                gaps.append(_log_uniform(rng, 360, 6 * 3600))
            gaps += [rng.uniform(10, 90) for _ in range(rng.randint(2, 9))]
        return gaps
    raise ValueError(f"unknown family {family!r}")


FAMILIES = ("quick", "mixed", "sparse", "bursts")


def make_session(family: str, index: int, prefix_tokens: int, seed: int) -> Session:
    rng = random.Random(f"{family}/{prefix_tokens}/{index}/{seed}")
    calls = []
    previous_words = 0
    for number, gap in enumerate([0.0, *_gaps(family, rng)]):
        repeat = number > 0 and rng.random() < 0.1
        words = previous_words if repeat else _user_words(rng)
        calls.append(Call(gap, words, _output_tokens(rng), repeat))
        previous_words = words
    return Session(family, index, prefix_tokens, tuple(calls))


def sessions(family: str, prefix_tokens: int, count: int, seed: int = 12) -> list[Session]:
    """`count` seeded sessions of `family`; family "any" draws each session's family at random
    (a user without one rhythm)."""
    if family == "any":
        rng = random.Random(f"any/{prefix_tokens}/{seed}")
        return [make_session(rng.choice(FAMILIES), i, prefix_tokens, seed + 1) for i in range(count)]
    return [make_session(family, i, prefix_tokens, seed) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# The cache arithmetic


@dataclass(frozen=True)
class State:
    """The entries alive after a call (each last used by that call), by the TTL they keep."""

    system: str | None = None
    turn: str | None = None  # the entry of the call's whole prompt (found again by a re-run)


class CostModel:
    """Per-call usage and cost of what the planner sends, for one model."""

    def __init__(self, model: str = catalog.DEFAULT_MODEL, *, last_turn_mark: bool = True) -> None:
        prices = prices_for(model)
        if prices is None:
            raise ValueError(f"{model} has no price")
        self.model = model
        self.last_turn_mark = last_turn_mark
        self.prices = prices
        self.factor = tokenizer.model_factor(model)
        self.trailing = tokenizer.scale(tokenizer.TRAILING_TOKENS, self.factor)
        per = 1e-6
        self._price = (
            prices.input * per,
            prices.output * per,
            prices.cache_read * per,
            prices.cache_write_5m * per,
            prices.cache_write_1h * per,
        )

    # Token counts as the shared tokenizer gives them for the texts the replay sends.
    def system_words(self, prefix_tokens: int) -> int:
        return max(1, round(prefix_tokens / self.factor) - tokenizer.SYSTEM_FRAMING)

    def system_tokens(self, words: int) -> int:
        return tokenizer.scale(words + tokenizer.SYSTEM_FRAMING, self.factor)

    def user_tokens(self, words: int) -> int:
        return tokenizer.scale(words + tokenizer.MESSAGE_FRAMING, self.factor)

    def output(self, tokens: int) -> int:
        return tokens  # max_tokens cuts the reply at exactly this many

    def step(self, state: State, call: Call, system: int, ttl: str) -> tuple[UsageCounts, State]:
        """The usage of `call` and the entries after it, from the entries before it."""
        user = self.user_tokens(call.user_words)
        out = self.output(call.output_tokens)
        system_alive = state.system is not None and entry_alive(call.gap_s, state.system)
        if not self.last_turn_mark:
            if system_alive:
                return UsageCounts(user + self.trailing, out, system, 0, 0), state
            written = (system, 0) if ttl == "5m" else (0, system)
            return UsageCounts(user + self.trailing, out, 0, *written), State(ttl)
        turn_alive = call.repeat and state.turn is not None and entry_alive(call.gap_s, state.turn)
        if turn_alive:
            # A re-run reads its whole prompt; the system entry is refreshed only if alive.
            return UsageCounts(self.trailing, out, system + user, 0, 0), State(
                state.system if system_alive else None, state.turn
            )
        if system_alive:
            written = (user, 0) if ttl == "5m" else (0, user)
            return UsageCounts(self.trailing, out, system, *written), State(state.system, ttl)
        written = (system + user, 0) if ttl == "5m" else (0, system + user)
        return UsageCounts(self.trailing, out, 0, *written), State(ttl, ttl)

    def cost(self, usage: UsageCounts) -> float:
        p_in, p_out, p_read, p_5m, p_1h = self._price
        total = (
            usage.input_tokens * p_in
            + usage.output_tokens * p_out
            + usage.cache_read_tokens * p_read
            + usage.cache_write_5m_tokens * p_5m
            + usage.cache_write_1h_tokens * p_1h
        )
        band = self.prices.long_prompt_band
        if band is not None and usage.prompt_tokens > band[0]:
            total *= band[1]
        return total

    def replay(self, session: Session, ttls: list[str]) -> tuple[float, list[UsageCounts]]:
        """The cost of `session` when call i is sent with `ttls[i]`."""
        system = self.system_tokens(self.system_words(session.prefix_tokens))
        state, usages = State(), []
        for call, ttl in zip(session.calls, ttls, strict=True):
            usage, state = self.step(state, call, system, ttl)
            usages.append(usage)
        return sum(self.cost(u) for u in usages), usages

    def oracle(self, session: Session) -> tuple[float, list[str]]:
        """The cheapest TTL per call, knowing every future gap (dynamic programming over the
        entries alive between calls: at most 3 x 3 states)."""
        system = self.system_tokens(self.system_words(session.prefix_tokens))
        best: dict[State, tuple[float, tuple[str, ...]]] = {State(): (0.0, ())}
        for call in session.calls:
            nxt: dict[State, tuple[float, tuple[str, ...]]] = {}
            for state, (so_far, choices) in best.items():
                for ttl in TTLS:
                    usage, after = self.step(state, call, system, ttl)
                    total = so_far + self.cost(usage)
                    if after not in nxt or total < nxt[after][0] - 1e-15:
                        nxt[after] = (total, (*choices, ttl))
            best = nxt
        total, choices = min(best.values(), key=lambda item: item[0])
        return total, list(choices)


# ---------------------------------------------------------------------------------------------
# Step-by-step policies


@dataclass(frozen=True)
class Moment:
    """What a policy knows when it picks the TTL of call `number` of `session`."""

    session: Session
    number: int
    at: float  # absolute time (seconds)
    system_tokens: int
    user_tokens: int
    system_alive: bool  # the system entry is alive (the watch knows it, as the cache does)
    turn_alive: bool  # a re-run whose whole prompt is still cached
    system_ttl: str | None  # the TTL the live system entry keeps
    system_expires_at: float | None


Policy = Callable[[Moment], str]


def fixed(ttl: str) -> Policy:
    return lambda moment: ttl


def run_policy(
    model: CostModel, session: Session, policy: Policy, start: float = 0.0
) -> tuple[float, list[str]]:
    """Drive `policy` call by call through `session` (starting at time `start`)."""
    system = model.system_tokens(model.system_words(session.prefix_tokens))
    state, at, total, ttls = State(), start, 0.0, []
    last_use = start
    for number, call in enumerate(session.calls):
        at += call.gap_s
        system_alive = state.system is not None and entry_alive(call.gap_s, state.system)
        turn_alive = (
            model.last_turn_mark
            and call.repeat
            and state.turn is not None
            and entry_alive(call.gap_s, state.turn)
        )
        expires = last_use + TTL_SECONDS[state.system] if system_alive and state.system else None
        moment = Moment(
            session,
            number,
            at,
            system,
            model.user_tokens(call.user_words),
            system_alive,
            turn_alive,
            state.system if system_alive else None,
            expires,
        )
        ttl = policy(moment)
        usage, state = model.step(state, call, system, ttl)
        total += model.cost(usage)
        ttls.append(ttl)
        last_use = at
    return total, ttls


def session_starts(items: list[Session], rng_seed: int = 7) -> Iterator[tuple[Session, float]]:
    """Sessions one after another, 12-36 h apart, as one user's days."""
    rng = random.Random(rng_seed)
    at = 0.0
    for session in items:
        yield session, at
        at += session.duration_s + rng.uniform(12 * 3600, 36 * 3600)
