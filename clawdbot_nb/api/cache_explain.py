"""Why a call wrote (or cached nothing) where an earlier call could have let it read: the pure
`explain`, and the records it reads (`Scope`, `CacheEntry`, `PastCall`) and returns (`MissCause`).

Causes, checked in this order against what the watch knows (most specific first):

- `in_flight`: the earlier write had not started its response when this call was sent;
- `expired`: the entry outlived its TTL ("gap 7 min > 5 min");
- `beyond_lookback`: the entry is alive but more than 20 blocks before every breakpoint;
- `scope_changed`: the prefix was cached under another model, credential kind or organisation;
- `prefix_changed`: an earlier block changed (which one, the first differing character, and a
  redacted excerpt when it is not a secret), or a setting that invalidates part of the prefix;
- `under_minimum`: the marked prefix (or the part shared with earlier calls) is under the
  model's minimum cacheable length, so it never was cached;
- `not_found`: everything says the entry should have been read, yet it was not (evicted early,
  or another organisation or workspace than known).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clawdbot_nb.api.cache_prints import (
    PrefixDivergence,
    RequestPrint,
    block_text,
    common_positions,
    compare_text,
    divergence,
)
from clawdbot_nb.api.cache_rules import LOOKBACK_BLOCKS, TTL_SECONDS, entry_alive
from clawdbot_nb.api.pricing import UsageCounts

EXPIRED = "expired"
PREFIX_CHANGED = "prefix_changed"
SCOPE_CHANGED = "scope_changed"
IN_FLIGHT = "in_flight"
UNDER_MINIMUM = "under_minimum"
BEYOND_LOOKBACK = "beyond_lookback"
NOT_FOUND = "not_found"
CAUSES = (IN_FLIGHT, EXPIRED, BEYOND_LOOKBACK, SCOPE_CHANGED, PREFIX_CHANGED, UNDER_MINIMUM, NOT_FOUND)

_TTL_WORDS = {"5m": "5 min", "1h": "1 h"}


@dataclass(frozen=True, slots=True)
class Scope:
    """What a cache entry is isolated by (reference §3.1), as far as the client knows it."""

    model: str
    credential: str  # api_key | token | oauth
    organization: str | None = None
    workspace: str | None = None

    def difference(self, other: Scope) -> tuple[str, str, str] | None:
        """(field, this value, other value) of the first field that differs; None if equal."""
        for name in ("model", "credential", "organization", "workspace"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs and not (name in ("organization", "workspace") and None in (mine, theirs)):
                return name, str(mine), str(theirs)
        return None


@dataclass
class CacheEntry:
    """One prefix the agent's calls wrote at a breakpoint."""

    scope: Scope
    prefix: bytes
    position: int
    area: str  # tools | system | message n
    location: str
    tokens: int
    ttl: str
    written_at: float
    last_used: float
    hits: int = 0
    saved_usd: float = 0.0
    writer: int = 0
    #: Event number at which the writing response began (entries are visible from then on), in
    #: this process; an entry loaded from the store is compared by `began_at` instead.
    visible_after: int | None = None
    began_at: float | None = None
    loaded: bool = False
    #: Written at the writer's last user turn (read again only by a re-run or the next turn).
    turn: bool = False
    #: A stable id of this entry (the store's key).
    uid: str = field(default_factory=lambda: os.urandom(8).hex())

    def visible_to(self, sent_seq: int, sent_at: float) -> bool:
        """Whether a call sent at event `sent_seq` (time `sent_at`) could already see it."""
        if self.loaded:
            return self.began_at is None or self.began_at <= sent_at
        return self.visible_after is not None and self.visible_after <= sent_seq

    @property
    def expires_at(self) -> float:
        return self.last_used + TTL_SECONDS[self.ttl]

    def alive(self, at: float) -> bool:
        return entry_alive(at - self.last_used, self.ttl)


@dataclass(frozen=True, slots=True)
class PastCall:
    """What the watch remembers of a finished call."""

    call: int
    print: RequestPrint
    scope: Scope
    sent_at: float
    written: tuple[int, ...]  # positions it wrote
    hit: int  # deepest position read, -1 for none


@dataclass(frozen=True)
class MissCause:
    """Why a call wrote (or cached nothing) where it could have read."""

    code: str
    summary: str  # short, for the footer
    detail: str  # a sentence with the specifics and what to do
    location: str | None = None
    missed_tokens: int = 0
    offset: int | None = None
    offset_exact: bool = False
    excerpt: str | None = None
    previous_excerpt: str | None = None
    gap_s: float | None = None
    ttl: str | None = None

    def __str__(self) -> str:
        return self.summary


# ---------------------------------------------------------------------------------------------
# Words


def format_duration(seconds: float) -> str:
    """`45 s`, `7 min`, `5.5 min`, `1.5 h`: short and readable in a footer."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"{minutes:.1f}".rstrip("0").rstrip(".") + " min"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{seconds / 3600:.1f}".rstrip("0").rstrip(".") + " h"


def clock_time(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M")


def _setting_words(value: Any) -> str:
    if isinstance(value, tuple) and value and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return "{" + ", ".join(f"{k}: {_setting_words(v)}" for k, v in value) + "}"
    return repr(value)


# ---------------------------------------------------------------------------------------------
# The pure explanation


def walk_lookup(
    breakpoints: Sequence[int], live: Callable[[int], bool], *, ceiling: int | None = None
) -> list[int]:
    """The positions a request reads, as the API looks them up: for each breakpoint in order,
    walking back at most `LOOKBACK_BLOCKS` positions (the breakpoint included), the first
    position where `live(position)`; a walk stops where an earlier one already found an entry.
    Positions above `ceiling` are passed over (the API is known to have read no deeper)."""
    found: list[int] = []
    deepest = -1
    for point in breakpoints:
        for position in range(point, max(point - LOOKBACK_BLOCKS + 1, 0) - 1, -1):
            if position <= deepest:
                break
            if ceiling is not None and position > ceiling:
                continue
            if live(position):
                found.append(position)
                deepest = position
                break
    return sorted(found)


def _windows_reach(current: RequestPrint, position: int) -> bool:
    return any(bp.position - LOOKBACK_BLOCKS < position <= bp.position for bp in current.breakpoints)


def _scope_cause(field_name: str, mine: str, theirs: str, location: str, tokens: int) -> MissCause:
    words = {
        "model": ("different model", f"cached for {theirs}; entries are per model"),
        "credential": (
            "different credential kind",
            f"cached with a {theirs} credential; this call used {mine}",
        ),
        "organization": ("different organisation", f"cached in organisation {theirs}"),
        "workspace": ("different workspace", f"cached in workspace {theirs}"),
    }[field_name]
    extra = ""
    if field_name == "credential" and "api_key" in (mine, theirs):
        extra = (
            " (OAuth/setup-token calls start the system prompt with the Claude Code identity block, "
            "so they share no prefix with API-key calls)"
        )
    return MissCause(
        SCOPE_CHANGED,
        f"{words[0]}: {words[1].split(';')[0]}",
        f"The {location} prefix ({tokens:,} tokens) was {words[1]}{extra}. Caches are kept per "
        "organisation, workspace and model: use the same profile and model to read it.",
        location=location,
        missed_tokens=tokens,
    )


def _prefix_cause(
    current: RequestPrint,
    params: dict[str, Any],
    earlier: PastCall,
    split: PrefixDivergence,
    key: bytes,
) -> MissCause | None:
    """The `prefix_changed` cause for `current` against `earlier`, or None when the two simply
    are different prompts (a block replaced by an unrelated one)."""
    when = clock_time(earlier.sent_at)
    missed = max((earlier.print.cumulative(q) for q in earlier.written if q >= split.position), default=0)
    if split.what == "settings":
        return MissCause(
            PREFIX_CHANGED,
            f"prefix changed: {split.setting} changed",
            f"{split.setting} changed from {_setting_words(split.old_value)} to "
            f"{_setting_words(split.new_value)} since the call at {when}; it invalidates the cache from "
            f"{current.blocks[split.position].area} on. Keep request settings the same between calls.",
            location=split.location,
            missed_tokens=missed,
        )
    location = split.location
    if split.what in ("inserted", "removed", "moved"):
        verb = {"inserted": "was added", "removed": "was removed before it", "moved": "moved"}[split.what]
        if split.what == "removed":
            location = earlier.print.blocks[split.position].location
            summary = f"prefix changed: {location} removed"
            sentence = f"{location} of the call at {when} is gone"
        else:
            summary = f"prefix changed: {location} {verb}"
            sentence = f"{location} {verb} since the call at {when}"
        return MissCause(
            PREFIX_CHANGED,
            summary,
            f"{sentence}, so every later block is a new prefix. Add new blocks after the cached ones.",
            location=location,
            missed_tokens=missed,
        )
    block = current.blocks[split.position]
    old_block = earlier.print.blocks[split.position]
    text = block_text(params, block.path)
    difference = compare_text(old_block.text, text, key) if text is not None else None
    if difference is None or not difference.edited:
        return None
    where = f"char {difference.offset:,}" if difference.exact else f"near char {difference.offset:,}"
    summary = f"prefix changed: {location}, {where}"
    excerpt = difference.new_excerpt
    if difference.old_excerpt is not None and excerpt and "…" not in excerpt:
        # Both are short spans (e.g. a time): the change itself fits in the footer.
        summary += f" ({difference.old_excerpt!r} → {excerpt!r})"
    detail = f"{location} differs from the call at {when} from {where}"
    if excerpt:
        detail += f": now {excerpt!r}"
        if difference.old_excerpt is not None:
            detail += f", was {difference.old_excerpt!r}"
    elif text is not None:
        detail += " (excerpt withheld: it holds a secret)"
    detail += (
        ". Everything from there on is a new prefix; move changing parts (times, counters) after "
        "the cached blocks, e.g. into the question."
    )
    return MissCause(
        PREFIX_CHANGED,
        summary,
        detail,
        location=location,
        missed_tokens=missed,
        offset=difference.offset,
        offset_exact=difference.exact,
        excerpt=excerpt,
        previous_excerpt=difference.old_excerpt,
    )


def explain(
    current: RequestPrint,
    params: dict[str, Any],
    scope: Scope,
    usage: UsageCounts,
    *,
    sent_at: float,
    sent_seq: int,
    entries: Iterable[CacheEntry],
    history: Sequence[PastCall],
    minimum: int | None,
    key: bytes,
    hit: int | None = None,
) -> MissCause | None:
    """Why `current` (sent at `sent_at`, event number `sent_seq`) wrote or cached nothing where
    an earlier call could have let it read; None on a hit, a first write, or caching off.

    `entries` and `history` are the watch's knowledge before this call; `params` is the body
    sent (only to locate a change inside a block; nothing of it is kept). `hit` is the position
    the call read through (-1 for none), when the caller located it; else the position whose
    size is nearest what was read.
    """
    if not current.breakpoints:
        return None
    written = usage.cache_write_tokens
    read = usage.cache_read_tokens
    if written == 0:
        if read > 0:
            return None
        largest = max(current.cumulative(bp.position) for bp in current.breakpoints)
        model = current.model
        if minimum is not None and largest < minimum:
            return MissCause(
                UNDER_MINIMUM,
                f"under minimum: ~{largest:,} < {minimum:,} tokens",
                f"Nothing was cached: the longest marked prefix is about {largest:,} tokens, under the "
                f"{minimum:,}-token minimum of {model}. A longer system prompt or context fixes it.",
                location=current.blocks[current.breakpoints[-1].position].area,
            )
        return MissCause(
            UNDER_MINIMUM,
            "nothing cached: under the API's minimum?",
            f"The API cached nothing although the longest marked prefix is about {largest:,} tokens by "
            f"our estimate; by the API's count it is probably under {model}'s minimum.",
        )

    if hit is None:
        hit = current.position_of_tokens(read) if read else -1
    last_mark = max(bp.position for bp in current.breakpoints)

    # 1. An entry the watch knows holds a deeper prefix of this very request.
    by_prefix: dict[bytes, list[CacheEntry]] = {}
    for entry in entries:
        by_prefix.setdefault(entry.prefix, []).append(entry)
    for position in range(last_mark, hit, -1):
        found = by_prefix.get(current.blocks[position].prefix)
        if not found:
            continue
        tokens = current.cumulative(position)
        area = current.blocks[position].area
        same = [e for e in found if e.scope.difference(scope) is None]
        if not same:
            other = max(found, key=lambda e: e.last_used)
            difference = scope.difference(other.scope)
            assert difference is not None
            return _scope_cause(*difference, area, tokens)
        entry = max(same, key=lambda e: e.last_used)
        if not entry.visible_to(sent_seq, sent_at):
            return MissCause(
                IN_FLIGHT,
                "in flight: a parallel call was still writing it",
                f"An earlier call wrote the same {area} prefix ({tokens:,} tokens), but its response had "
                "not begun when this one was sent, so both paid for the write. Send one call, wait for "
                "its first token, then fan out.",
                location=area,
                missed_tokens=tokens,
            )
        if entry.last_used <= sent_at and not entry.alive(sent_at):
            gap = sent_at - entry.last_used
            ttl_words = _TTL_WORDS[entry.ttl]
            fix = "ttl='1h' keeps it for an hour" if entry.ttl == "5m" else "an entry lives 1 h at most"
            return MissCause(
                EXPIRED,
                f"expired: gap {format_duration(gap)} > {ttl_words}",
                f"The {area} entry ({tokens:,} tokens, TTL {entry.ttl}) was last used at "
                f"{clock_time(entry.last_used)}; this call came {format_duration(gap)} later, past its "
                f"{ttl_words} lifetime ({fix}).",
                location=area,
                missed_tokens=tokens,
                gap_s=gap,
                ttl=entry.ttl,
            )
        if not _windows_reach(current, position):
            nearest = min(
                (bp.position for bp in current.breakpoints if bp.position >= position), default=None
            )
            span = (nearest - position + 1) if nearest is not None else None
            where = current.blocks[nearest].location if nearest is not None else "the last breakpoint"
            return MissCause(
                BEYOND_LOOKBACK,
                f"beyond lookback: {span} blocks back (max {LOOKBACK_BLOCKS})",
                f"The cached prefix ending at {current.blocks[position].location} is {span} blocks back "
                f"from the nearest breakpoint ({where}); the API looks back {LOOKBACK_BLOCKS} blocks. "
                "Mark a block within 20 of it (fewer breakpoints of your own leave the planner a slot).",
                location=area,
                missed_tokens=tokens,
            )
        return MissCause(
            NOT_FOUND,
            "not found: evicted early or another workspace",
            f"The {area} entry ({tokens:,} tokens) should still be alive, yet the API did not read it: "
            "it was evicted early, or this profile reaches another organisation or workspace.",
            location=area,
            missed_tokens=tokens,
        )

    # 2. An earlier call cached a deeper prefix that this one's changed blocks no longer match.
    best: tuple[int, int, PastCall, PrefixDivergence] | None = None
    for earlier in history:
        split = divergence(earlier.print, current)
        if split is None or split.position <= hit:
            continue
        if not any(q >= split.position for q in earlier.written):
            continue
        in_new_turn = split.position >= current.last_turn_start and split.what != "settings"
        if in_new_turn:
            continue
        rank = (split.position, earlier.call)
        if best is None or rank > best[:2]:
            best = (split.position, earlier.call, earlier, split)
    if best is not None:
        _, _, earlier, split = best
        cause = _prefix_cause(current, params, earlier, split, key)
        if cause is not None:
            difference = scope.difference(earlier.scope)
            if difference is not None:
                return _scope_cause(*difference, cause.location or "", cause.missed_tokens)
            return cause

    # 3. The part shared with earlier calls is too short to be cached on its own.
    if minimum is not None:
        for earlier in reversed(history):
            if earlier.scope.difference(scope) is not None:
                continue
            shared = common_positions(earlier.print, current)
            if shared == 0:
                continue
            marks = [bp for bp in current.breakpoints if bp.position < shared]
            if marks and current.cumulative(marks[-1].position) < minimum:
                tokens = current.cumulative(marks[-1].position)
                area = current.blocks[marks[-1].position].area
                return MissCause(
                    UNDER_MINIMUM,
                    f"under minimum: shared {area} ~{tokens:,} < {minimum:,}",
                    f"The part this call shares with the call at {clock_time(earlier.sent_at)} ({area}, "
                    f"about {tokens:,} tokens) is under the {minimum:,}-token minimum of "
                    f"{current.model}, so it is never cached on its own and each new question writes "
                    "everything again. A longer shared prefix fixes it.",
                    location=area,
                    missed_tokens=tokens,
                )
            break
    return None


# ---------------------------------------------------------------------------------------------
# The stateful watch
