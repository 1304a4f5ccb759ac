"""A cost model of notebook sessions under a cache-TTL policy, and the offline oracle.

Importable by the benches (`bench_ttl.py`, and others that need an oracle): trace families,
the per-call cache arithmetic of what the planner sends, the replay of a TTL sequence, the
dynamic-programming oracle, and the driver of a step-by-step policy such as `ttl="auto"`.

What it models (see `bench_ttl.py` for the whole list of assumptions): one agent and one model;
a session is a run of one-shot calls sharing one system prompt of `S` tokens; the planner marks
the system block and, unless `last_turn_mark=False`, the last user turn, both at the call's TTL;
a call is sent `gap_s` after the previous one; entries follow the simulator's rules (found while
`age < TTL`, refreshed on every hit, keeping the TTL they were written with).

The model stands for the server, so it counts as the server does: the texts a replay sends
(`CostModel.system_text`, `question_texts`, built to exact sizes by `sized_texts.sized_text`)
are counted by the simulator's own counter (`clawdbot_nb.sim.positions.request_positions`: its
BPE vocabulary, its framing, the model's tokenizer factor from `clawdbot_nb.sim.model_facts`),
never by the client's estimate. Sizes in tokens (`S`, a question's length) are those counts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sized_texts import sized_text

from clawdbot_nb import catalog
from clawdbot_nb.api.pricing import UsageCounts, prices_for
from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.cache import TTL_SECONDS
from clawdbot_nb.sim.positions import SYSTEM_FRAMING, request_positions, trailing_tokens

TTLS = ("5m", "1h")
PREFIX_SIZES = (5_000, 20_000, 100_000)
SYSTEM_TAG = 10_000  # system prompts are numbered from here, questions by their call's number


def entry_alive(age_s: float, ttl: str) -> bool:
    """The simulator's rule: an entry is found while its age is under its TTL."""
    return age_s < TTL_SECONDS[ttl]


@dataclass(frozen=True)
class Call:
    gap_s: float  # since the previous call of the session (0 for the first)
    question_tokens: int  # the question's length in the simulator's vocabulary (before the factor)
    output_tokens: int
    repeat: bool  # the same question as the previous call (a re-run cell)


@dataclass(frozen=True)
class Session:
    family: str
    index: int
    prefix_tokens: int  # the size of the system prompt's position, as the simulator counts it
    calls: tuple[Call, ...]

    @property
    def duration_s(self) -> float:
        return sum(c.gap_s for c in self.calls)


# ---------------------------------------------------------------------------------------------
# Trace families


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _question_tokens(rng: random.Random) -> int:
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
    previous = 0
    for number, gap in enumerate([0.0, *_gaps(family, rng)]):
        repeat = number > 0 and rng.random() < 0.1
        tokens = previous if repeat else _question_tokens(rng)
        calls.append(Call(gap, tokens, _output_tokens(rng), repeat))
        previous = tokens
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
        facts = model_facts.lookup(model)
        if prices is None or facts is None:
            raise ValueError(f"{model} has no price or is unknown to the simulator")
        self.model = model
        self.last_turn_mark = last_turn_mark
        self.prices = prices
        self.factor = facts.tokenizer_factor
        self.trailing = trailing_tokens(self.factor)
        self._system_sizes: dict[tuple[int, int], int] = {}
        self._question_sizes: dict[str, int] = {}
        per = 1e-6
        self._price = (
            prices.input * per,
            prices.output * per,
            prices.cache_read * per,
            prices.cache_write_5m * per,
            prices.cache_write_1h * per,
        )

    # The texts a replay sends, and their sizes as the simulator counts them.
    def system_text(self, session: Session) -> str:
        """The system prompt of `session`: its position comes to about `prefix_tokens`."""
        return self.document(SYSTEM_TAG + session.index, session.prefix_tokens)

    def document(self, tag: int, prefix_tokens: int) -> str:
        """A system prompt whose position (text, framing, factor) is about `prefix_tokens`."""
        return sized_text(tag, max(1, round(prefix_tokens / self.factor) - SYSTEM_FRAMING))

    @staticmethod
    def question_texts(session: Session) -> list[str]:
        """Each call's question: a new text numbered by the call, or a re-run's previous one."""
        texts: list[str] = []
        for number, call in enumerate(session.calls):
            texts.append(texts[-1] if call.repeat and texts else sized_text(number, call.question_tokens))
        return texts

    def request(self, system: str, question: str, max_tokens: int) -> dict:
        """The Messages body of one call, before the planner adds its breakpoints (which change
        no count)."""
        return {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": question}],
        }

    def sizes(self, system: str, question: str) -> tuple[int, int]:
        """(the system position's tokens, the user turn's) of a call, counted by the simulator."""
        positions = request_positions(self.request(system, question, 1), self.factor)
        assert [p.section for p in positions] == ["system", "messages"], positions
        return positions[0].tokens, positions[1].tokens

    def counts(self, session: Session) -> tuple[int, list[int]]:
        """(the system position's tokens, each call's user turn) of `session`. A position's
        count depends on its own block only, so each text is counted once, not per call."""
        key = (SYSTEM_TAG + session.index, session.prefix_tokens)
        questions = self.question_texts(session)
        if key not in self._system_sizes:
            self._system_sizes[key] = self.sizes(self.system_text(session), questions[0])[0]
        users = []
        for question in questions:
            if question not in self._question_sizes:
                self._question_sizes[question] = self.sizes("-", question)[1]
            users.append(self._question_sizes[question])
        return self._system_sizes[key], users

    def step(self, state: State, call: Call, system: int, user: int, ttl: str) -> tuple[UsageCounts, State]:
        """The usage of `call` (a system position of `system` tokens, a user turn of `user`) and
        the entries after it, from the entries before it."""
        out = call.output_tokens  # max_tokens cuts the reply at exactly this many
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
        system, users = self.counts(session)
        state, usages = State(), []
        for call, user, ttl in zip(session.calls, users, ttls, strict=True):
            usage, state = self.step(state, call, system, user, ttl)
            usages.append(usage)
        return sum(self.cost(u) for u in usages), usages

    def oracle(self, session: Session) -> tuple[float, list[str]]:
        """The cheapest TTL per call, knowing every future gap (dynamic programming over the
        entries alive between calls: at most 3 x 3 states)."""
        system, users = self.counts(session)
        best: dict[State, tuple[float, tuple[str, ...]]] = {State(): (0.0, ())}
        for call, user in zip(session.calls, users, strict=True):
            nxt: dict[State, tuple[float, tuple[str, ...]]] = {}
            for state, (so_far, choices) in best.items():
                for ttl in TTLS:
                    usage, after = self.step(state, call, system, user, ttl)
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
    system, users = model.counts(session)
    state, at, total, ttls = State(), start, 0.0, []
    last_use = start
    for number, (call, user) in enumerate(zip(session.calls, users, strict=True)):
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
            user,
            system_alive,
            turn_alive,
            state.system if system_alive else None,
            expires,
        )
        ttl = policy(moment)
        usage, state = model.step(state, call, system, user, ttl)
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
