"""A block-level cost model of conversations under a breakpoint placement, and the TTL oracle.

Importable by the benches (`bench_chat.py`) and the tests: conversation traces, the requests a
placement sends (claudette's: one breakpoint on the last message at 5m; the planner's, from the
real `planner.plan_cache` with `last_turn=True`, as `Workspace.chat` sends), the cache
arithmetic by the documented rules as the simulator implements them, the replay of a TTL
sequence, `ttl="auto"` as the client decides it, and a dynamic-programming oracle that picks
5m or 1h per turn knowing every future gap. The oracle is the one of `cache_cost_model.py`
(issue 12) with its state grown from one system entry to the entries of a conversation.

What it models (see `bench_chat.py` for the whole list of assumptions): one agent, one model with
a tokenizer factor of 1 (so a reply cut at N tokens is N tokens when sent back); a conversation
of text turns over one system document; each request is the system block, the earlier turns
(user blocks, one assistant text block each) and the new user turn; the cache follows the
simulator's rules (each breakpoint walks back 20 lookback slots and takes the first live entry,
every entry found is refreshed by its own TTL, writes at the breakpoints after the hit that reach
the model's minimum, A/B/C accounting, a rewrite of a live entry keeps the longer TTL).

The model stands for the server, so it counts as the server does: every request it lays out is
counted position by position by the simulator's own counter (`clawdbot_nb.sim.positions`: its
BPE vocabulary and framing), with the simulator's minimum and lookback (`clawdbot_nb.sim`),
never by the client's estimate. Sizes in tokens (a document, a question, a reply) are those
counts: the texts are built to them by `sized_texts.sized_text`. Only the breakpoints come from
the client: they are where the planner (or claudette) puts them.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sized_texts import sized_text

from clawdbot_nb.api.planner import plan_cache
from clawdbot_nb.api.pricing import UsageCounts, prices_for
from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.cache import LOOKBACK, TTL_SECONDS
from clawdbot_nb.sim.positions import SYSTEM_FRAMING, request_positions, trailing_tokens

TTLS = ("5m", "1h")
MODEL = "claude-sonnet-4-6"  # tokenizer factor 1, reads at 0.1x, 1,024-token minimum
FACTOR = 1.0  # the tokenizer factor of every model this model prices (see ConversationModel)
TURNS = 20
LONG_TURN_BLOCKS = 24  # a pasted table or log, one block per chunk


# ---------------------------------------------------------------------------------------------
# Traces


@dataclass(frozen=True)
class ChatTurn:
    gap_s: float  # since the previous turn (0 for the first)
    question_tokens: int  # the question's length, in the simulator's tokens
    output_tokens: int
    note_blocks: int = 0  # extra blocks pasted before the question
    new_chat: bool = False  # a new conversation over the same document starts here


@dataclass(frozen=True)
class ChatSession:
    family: str
    index: int
    document_tokens: int
    turns: tuple[ChatTurn, ...]

    @property
    def duration_s(self) -> float:
        return sum(t.gap_s for t in self.turns)


def _question(rng: random.Random) -> int:
    return int(min(600, max(4, rng.lognormvariate(math.log(40), 0.9))))


def _output(rng: random.Random) -> int:
    return int(min(2000, max(10, rng.lognormvariate(math.log(250), 0.7))))


def _gap(family: str, rng: random.Random) -> float:
    if family in ("quick", "long turns"):  # a conversation at reading pace
        return min(300.0, max(8.0, rng.lognormvariate(math.log(40), 0.6)))
    if family in ("paced", "restarts"):  # mostly 1-4 min, one pause in five of 6-40 min
        return rng.uniform(60, 240) if rng.random() < 0.8 else rng.uniform(360, 2400)
    if family == "sparse":  # a turn every 6-40 min
        return rng.uniform(360, 2400)
    raise ValueError(f"unknown family {family!r}")


FAMILIES = ("quick", "paced", "sparse", "long turns", "restarts")


def make_session(family: str, index: int, document_tokens: int, seed: int = 14) -> ChatSession:
    rng = random.Random(f"chat/{family}/{document_tokens}/{index}/{seed}")
    turns = []
    for number in range(TURNS):
        notes = LONG_TURN_BLOCKS if family == "long turns" and number % 3 == 1 else 0
        new_chat = family == "restarts" and number > 0 and number % 5 == 0
        gap = 0.0 if number == 0 else _gap(family, rng)
        turns.append(ChatTurn(gap, _question(rng), _output(rng), notes, new_chat))
    return ChatSession(family, index, document_tokens, tuple(turns))


def sessions(family: str, document_tokens: int, count: int, seed: int = 14) -> list[ChatSession]:
    return [make_session(family, i, document_tokens, seed) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# The requests


def text(tag: int, tokens: int) -> str:
    """A text of exactly `tokens` simulator tokens, distinct by `tag` (`sized_texts`)."""
    return sized_text(tag, tokens)


def user_content(session: ChatSession, number: int) -> list[dict]:
    """The user turn `number` of `session` as content blocks (notes, then the question)."""
    turn = session.turns[number]
    tag = 100 * number  # distinct within the conversation, and short: a question has 4+ tokens
    blocks = [{"type": "text", "text": text(tag + 1 + i, 12)} for i in range(turn.note_blocks)]
    blocks.append({"type": "text", "text": text(tag, turn.question_tokens)})
    return blocks


def system_text(session: ChatSession) -> str:
    """The document: its system position (text and framing) is `document_tokens`."""
    return text(7_000_000 + session.index, session.document_tokens - SYSTEM_FRAMING)


def answer_text(number: int, tokens: int) -> str:
    """What the model assumes the reply to turn `number` was: `tokens` tokens, as many as the
    simulator's reply cut at `max_tokens` (sent back, it counts the same)."""
    return text(900 + number, tokens)


@dataclass(frozen=True)
class Layout:
    """One request as the cache sees it: cumulative tokens per block (the simulator's count),
    each block's prefix key and lookback slot, the breakpoints of a placement, and where the new
    user turn begins."""

    cumulative: tuple[int, ...]
    keys: tuple[tuple, ...]
    breakpoints: tuple[int, ...]  # positions, ascending
    turn_start: int
    total: int  # with the trailing tokens, never cached
    stable: frozenset[int] = field(default_factory=frozenset)  # positions of stable-prefix breakpoints
    slots: tuple[int, ...] = ()  # each position's lookback slot (a tool_use/tool_result run is one)

    def slot(self, position: int) -> int:
        return self.slots[position] if self.slots else position


class Placement:
    """Where breakpoints go: `layouts(session)` gives each turn's request."""

    name = "?"
    ttl_choice = True  # False: the placement fixes the TTL (claudette: 5m)

    def layouts(self, session: ChatSession, replies: Sequence[str] | None = None) -> list[Layout]:
        raise NotImplementedError


def _request(session: ChatSession, number: int, replies: Sequence[str] | None, system: bool) -> dict:
    first = max(i for i in range(number + 1) if i == 0 or session.turns[i].new_chat)
    messages: list[dict] = []
    for earlier in range(first, number):
        answer = replies[earlier] if replies else answer_text(earlier, session.turns[earlier].output_tokens)
        messages += [
            {"role": "user", "content": user_content(session, earlier)},
            {"role": "assistant", "content": answer},
        ]
    messages.append({"role": "user", "content": user_content(session, number)})
    params = {"model": MODEL, "max_tokens": session.turns[number].output_tokens, "messages": messages}
    if system:
        params["system"] = system_text(session)
    return params


def _layout(
    session: ChatSession, number: int, params: dict, marked: Sequence[tuple], stable: Sequence[tuple]
) -> Layout:
    blocks = request_positions(params, FACTOR)
    cumulative, total = [], 0
    for block in blocks:
        total += block.tokens
        cumulative.append(total)
    chat = max(i for i in range(number + 1) if i == 0 or session.turns[i].new_chat)
    keys = tuple(("doc", session.index) if b.section == "system" else ("chat", session.index, chat, i)
                 for i, b in enumerate(blocks))  # fmt: skip
    positions = {b.path: i for i, b in enumerate(blocks)}
    turn_start = next(
        i
        for i, b in enumerate(blocks)
        if b.section == "messages" and b.path[1] == len(params["messages"]) - 1
    )
    return Layout(
        tuple(cumulative),
        keys,
        tuple(sorted(positions[p] for p in marked)),
        turn_start,
        total + trailing_tokens(FACTOR),
        frozenset(positions[p] for p in stable),
        tuple(b.slot for b in blocks),
    )


class Planner(Placement):
    """The planner of this package, as `Workspace.chat` calls it (`last_turn=True`)."""

    name = "planner"

    def layouts(self, session: ChatSession, replies: Sequence[str] | None = None) -> list[Layout]:
        out = []
        for number in range(len(session.turns)):
            params = _request(session, number, replies, system=True)
            plan = plan_cache(params, ttl="5m", last_turn=True)
            stable = [b.path for b in plan.breakpoints if b.where in ("system", "tools", "document")]
            out.append(_layout(session, number, plan.params, [b.path for b in plan.breakpoints], stable))
        return out


class Claudette(Placement):
    """claudette's `Chat(cache=True)`: the system prompt as a plain string, one breakpoint on the
    last block of the last message, plain ephemeral (5m)."""

    name = "claudette"
    ttl_choice = False

    def layouts(self, session: ChatSession, replies: Sequence[str] | None = None) -> list[Layout]:
        out = []
        for number in range(len(session.turns)):
            params = _request(session, number, replies, system=True)
            last = len(params["messages"]) - 1
            path = ("messages", last, len(params["messages"][last]["content"]) - 1)
            out.append(_layout(session, number, params, [path], []))
        return out


# ---------------------------------------------------------------------------------------------
# The cache arithmetic


@dataclass(frozen=True)
class Entry:
    tokens: int
    ttl: str
    expires: float


Entries = dict[tuple, Entry]


def evaluate(
    entries: Entries, layout: Layout, ttl: str, now: float, minimum: int
) -> tuple[UsageCounts, Entries]:
    """The usage of one request sent at `now` with every breakpoint at `ttl`, and the entries
    after it (a new dict: `entries` is not changed)."""
    entries = dict(entries)
    hit = -1
    for position in layout.breakpoints:
        lowest = layout.slot(position) - LOOKBACK + 1
        for back in range(position, -1, -1):
            if back <= hit or layout.slot(back) < lowest:
                break
            entry = entries.get(layout.keys[back])
            if entry is None:
                continue
            if now >= entry.expires:
                del entries[layout.keys[back]]
                continue
            entries[layout.keys[back]] = Entry(entry.tokens, entry.ttl, now + TTL_SECONDS[entry.ttl])
            hit = back
            break
    read = layout.cumulative[hit] if hit >= 0 else 0
    written = [p for p in layout.breakpoints if p > hit and layout.cumulative[p] >= minimum]
    if not written:
        return UsageCounts(layout.total - read, 0, read, 0, 0), entries
    c = layout.cumulative[written[-1]]
    b = c if ttl == "1h" else read
    for position in written:
        key = layout.keys[position]
        old = entries.get(key)
        if old is not None and now < old.expires:
            longer = "1h" if "1h" in (old.ttl, ttl) else "5m"
            entries[key] = Entry(old.tokens, longer, max(old.expires, now + TTL_SECONDS[ttl]))
        else:
            entries[key] = Entry(layout.cumulative[position], ttl, now + TTL_SECONDS[ttl])
    return UsageCounts(layout.total - c, 0, read, c - b, b - read), entries


def peek(entries: Entries, layout: Layout, now: float) -> int:
    """The deepest position the request would read (-1: none), without refreshing anything."""
    hit = -1
    for position in layout.breakpoints:
        lowest = layout.slot(position) - LOOKBACK + 1
        for back in range(position, -1, -1):
            if back <= hit or layout.slot(back) < lowest:
                break
            entry = entries.get(layout.keys[back])
            if entry is not None and now < entry.expires:
                hit = back
                break
    return hit


class ConversationModel:
    """Costs of a session under a placement, for one model."""

    def __init__(self, placement: Placement, model: str = MODEL) -> None:
        prices = prices_for(model)
        facts = model_facts.lookup(model)
        if prices is None or facts is None:
            raise ValueError(f"{model} has no price or is unknown to the simulator")
        if facts.tokenizer_factor != FACTOR:
            # A reply cut at N tokens is N tokens sent back only at factor 1: the model's stand-in
            # replies (`answer_text`) would be off on a 4.7+ model.
            raise ValueError(f"{model}: the conversation model prices models of tokenizer factor 1 only")
        self.placement = placement
        self.model = model
        self.minimum = facts.min_cacheable
        per = 1e-6
        self._price = (prices.input * per, prices.output * per, prices.cache_read * per,
                       prices.cache_write_5m * per, prices.cache_write_1h * per)  # fmt: skip

    def cost(self, usage: UsageCounts, output_tokens: int) -> float:
        p_in, p_out, p_read, p_5m, p_1h = self._price
        return (usage.input_tokens * p_in + output_tokens * p_out + usage.cache_read_tokens * p_read
                + usage.cache_write_5m_tokens * p_5m + usage.cache_write_1h_tokens * p_1h)  # fmt: skip

    def replay(
        self, session: ChatSession, ttls: Sequence[str], layouts: Sequence[Layout] | None = None
    ) -> tuple[float, list[UsageCounts]]:
        layouts = layouts or self.placement.layouts(session)
        entries: Entries = {}
        now, total, usages = 0.0, 0.0, []
        for turn, layout, ttl in zip(session.turns, layouts, ttls, strict=True):
            now += turn.gap_s
            usage, entries = evaluate(entries, layout, ttl, now, self.minimum)
            usages.append(UsageCounts(usage.input_tokens, turn.output_tokens, usage.cache_read_tokens,
                                      usage.cache_write_5m_tokens, usage.cache_write_1h_tokens))  # fmt: skip
            total += self.cost(usage, turn.output_tokens)
        return total, usages

    def oracle(
        self, session: ChatSession, layouts: Sequence[Layout] | None = None
    ) -> tuple[float, list[str]]:
        """The cheapest TTL per turn knowing every future gap: dynamic programming over the live
        entries between turns, with entries no later turn can read pruned (see `_prune`)."""
        layouts = layouts or self.placement.layouts(session)
        future_keys = _last_use(layouts)
        best: dict[tuple, tuple[float, tuple[str, ...], Entries]] = {(): (0.0, (), {})}
        now = 0.0
        for number, (turn, layout) in enumerate(zip(session.turns, layouts, strict=True)):
            now += turn.gap_s
            following = layouts[number + 1] if number + 1 < len(layouts) else None
            next_time = now + session.turns[number + 1].gap_s if following else math.inf
            nxt: dict[tuple, tuple[float, tuple[str, ...], Entries]] = {}
            for so_far, choices, entries in best.values():
                for ttl in TTLS:
                    usage, after = evaluate(entries, layout, ttl, now, self.minimum)
                    total = so_far + self.cost(usage, turn.output_tokens)
                    kept = _prune(after, number, following, next_time, future_keys)
                    state = tuple(sorted(kept.items()))
                    if state not in nxt or total < nxt[state][0] - 1e-15:
                        nxt[state] = (total, (*choices, ttl), kept)
            best = nxt
        total, choices, _ = min(best.values(), key=lambda item: item[0])
        return total, list(choices)


def _last_use(layouts: Sequence[Layout]) -> dict[tuple, int]:
    """The last turn whose request holds each prefix key."""
    last: dict[tuple, int] = {}
    for number, layout in enumerate(layouts):
        for key in layout.keys:
            last[key] = number
    return last


def _prune(
    entries: Entries, number: int, following: Layout | None, next_time: float, last_use: dict[tuple, int]
) -> Entries:
    """The entries that can still matter after turn `number`: alive at the next turn, held by a
    later request, and not dominated. A conversation only grows, so of two live entries of its
    history the later-position one is found first by every later history breakpoint; the earlier
    one can matter only if it outlives the later (longer TTL, later expiry). Entries at a
    stable-prefix breakpoint (the system block) are always kept: their own breakpoint finds them."""
    if following is None:
        return {}
    alive = {k: e for k, e in entries.items() if next_time < e.expires and last_use.get(k, -1) > number}
    position = {k: i for i, k in enumerate(following.keys)}
    marks = [p for p in following.breakpoints if p not in following.stable]
    reach = following.slot(min(marks, default=0)) - LOOKBACK + 1  # slots below it are never looked at
    history = sorted((position[k], k) for k in alive if k in position and position[k] not in following.stable)
    in_history = {k for _, k in history}
    kept = {k: e for k, e in alive.items() if k not in in_history}
    later: list[Entry] = []  # the history entries kept, from the latest position down
    for at, key in reversed(history):
        entry = alive[key]
        if following.slot(at) < reach:
            continue
        if any(s.expires >= entry.expires and TTL_SECONDS[s.ttl] >= TTL_SECONDS[entry.ttl] for s in later):
            continue
        later.append(entry)
        kept[key] = entry
    return kept


# ---------------------------------------------------------------------------------------------
# Policies


Policy = Callable[[int, Layout, Entries, float], str]


def fixed(ttl: str) -> Callable[[ConversationModel, ChatSession], Policy]:
    return lambda model, session: lambda number, layout, entries, now: ttl


def auto(history: object | None = None) -> Callable[[ConversationModel, ChatSession], Policy]:
    """`ttl="auto"` as the client decides it (`ttl_policy.choose_for_request`) on what the cache
    watch knows: which entry the request reads, this agent's pauses, whether its new turns were
    read again."""
    from clawdbot_nb.api.cache_watch import TURN_SAMPLE
    from clawdbot_nb.api.ttl_policy import PriceRatios, UseHistory, choose_for_request, turn_reuse

    uses = history if history is not None else UseHistory()

    def make(model: ConversationModel, session: ChatSession) -> Policy:
        ratios = PriceRatios.for_model(model.model)
        turns: deque[bool] = deque(maxlen=TURN_SAMPLE)
        key = (session.family, session.document_tokens, session.index)
        previous_turn: list[tuple | None] = [None]

        def decide(number: int, layout: Layout, entries: Entries, now: float) -> str:
            hit = peek(entries, layout, now)
            if previous_turn[0] is not None and hit >= 0 and layout.keys[hit] == previous_turn[0] and turns:
                turns[-1] = True
            entry = entries.get(layout.keys[hit]) if hit >= 0 else None
            choice = choose_for_request(
                layout.cumulative, layout.breakpoints, layout.turn_start, hit=hit,
                cached_ttl=entry.ttl if entry else None, cached_until=None,
                evidence=uses.evidence(key, now), turn_reuse=turn_reuse(list(turns)), ratios=ratios,
            )  # fmt: skip
            uses.record(key, now)
            previous_turn[0] = layout.keys[layout.breakpoints[-1]] if layout.breakpoints else None
            turns.append(False)
            return choice.ttl

        return decide

    return make


def run_policy(
    model: ConversationModel,
    session: ChatSession,
    make: Callable,
    start: float = 0.0,
    layouts: Sequence[Layout] | None = None,
) -> tuple[float, list[str]]:
    """Drive a policy (`fixed(ttl)`, `auto()`) turn by turn through `session`, from time `start`."""
    layouts = layouts or model.placement.layouts(session)
    policy = make(model, session)
    entries: Entries = {}
    now, total, ttls = start, 0.0, []
    for number, (turn, layout) in enumerate(zip(session.turns, layouts, strict=True)):
        now += turn.gap_s
        ttl = policy(number, layout, entries, now) if model.placement.ttl_choice else "5m"
        usage, entries = evaluate(entries, layout, ttl, now, model.minimum)
        total += model.cost(usage, turn.output_tokens)
        ttls.append(ttl)
    return total, ttls
