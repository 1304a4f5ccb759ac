"""What the prompt cache holds for one agent, as far as its calls show, and why a call missed.

`CacheWatch` follows the calls of one agent: `begin` when a request is sent (with its planned
body), `began` when its response starts (the moment its cache writes become visible, reference
§3.3), `finish` with the usage it reported. From the fingerprints of `cache_prints` and the
usage it keeps one `CacheEntry` per written breakpoint and scope — when written and last read,
TTL, tokens, hits, what it saved — and `finish` returns a `CallReport` whose `why_miss` comes
from the pure `cache_explain.explain`. `advise_ttl` is `ttl="auto"`: it predicts what a planned
request will read and write, and asks `ttl_policy.choose_ttl` with the agent's use history.

With a `CacheWatchStore` the state survives a kernel restart and is shared by every kernel of
the agent: each decision first reloads what another process committed. Without one, it lives in
memory. Either way it holds no prompt text: prints, digests, token counts and times.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import threading
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from clawdbot_nb.api.cache_explain import (
    BEYOND_LOOKBACK,
    CAUSES,
    EXPIRED,
    IN_FLIGHT,
    NOT_FOUND,
    PREFIX_CHANGED,
    SCOPE_CHANGED,
    UNDER_MINIMUM,
    CacheEntry,
    MissCause,
    PastCall,
    Scope,
    clock_time,
    explain,
    format_duration,
    walk_lookup,
)
from clawdbot_nb.api.cache_prints import BreakpointPrint, RequestPrint, fingerprint
from clawdbot_nb.api.cache_rules import TTL_SECONDS
from clawdbot_nb.api.pricing import ModelPrices, UsageCounts
from clawdbot_nb.api.token_counts import anchored, locate, usage_points
from clawdbot_nb.api.ttl_policy import (
    Evidence,
    PriceRatios,
    TtlChoice,
    UseHistory,
    choose_for_request,
    choose_ttl,
    turn_reuse,
)

__all__ = [
    "BEYOND_LOOKBACK",
    "CAUSES",
    "EXPIRED",
    "IN_FLIGHT",
    "NOT_FOUND",
    "PREFIX_CHANGED",
    "SCOPE_CHANGED",
    "UNDER_MINIMUM",
    "CacheEntry",
    "CacheWatch",
    "CallReport",
    "CallTicket",
    "MissCause",
    "PastCall",
    "Scope",
    "TimelineEvent",
    "format_duration",
]

#: Calls remembered for explaining later ones, and entries kept after they expire.
HISTORY_CALLS = 64
MAX_ENTRIES = 1024
#: Expired entries are forgotten this long after their expiry.
FORGET_AFTER_S = 24 * 3600.0
#: Recent last-turn entries that say whether this agent's new turns get read again.
TURN_SAMPLE = 20
#: Calls kept for what-if replays by a watch without a store.
KEEP_MEMORY_CALLS = 5000
#: Prints (and their stored shapes) of recent plans, reused when a plan is sent again.
MEMO_SIZE = 64
#: Prefixes whose exact size (as the API counts it) is remembered.
MAX_COUNTS = 4096
#: A block's text print is marked used in the store again after this long (for trimming).
TEXT_BUMP_S = 3600.0
#: Another process's changes are looked for at most this often (a look is a query).
SYNC_EVERY_S = 0.1
_PER_TOKEN = 1e-6
_NO_EVIDENCE = Evidence()


@dataclass
class CallTicket:
    """A call between `begin` and `finish`."""

    call: int
    seq: int
    sent_at: float
    print: RequestPrint
    scope: Scope
    params: dict[str, Any] = field(repr=False)
    began_seq: int | None = None
    began_at: float | None = None
    #: Whatever the caller wants back with the ticket (the drivers' watcher keeps its plan here).
    context: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class TimelineEvent:
    at: float
    kind: str  # write | hit | expire
    area: str
    location: str
    tokens: int
    ttl: str
    model: str
    entry: bytes  # the entry's prefix digest (an id, not text)


@dataclass(frozen=True)
class CallReport:
    why_miss: MissCause | None
    hit_position: int
    written: tuple[CacheEntry, ...]
    refreshed: tuple[CacheEntry, ...]


def shared_breakpoint(printed: RequestPrint) -> BreakpointPrint | None:
    """The last breakpoint before the new user turn (tools, system, an earlier turn): what later
    calls share. None when every breakpoint is in the new turn."""
    shared = [bp for bp in printed.breakpoints if bp.position < printed.last_turn_start]
    return shared[-1] if shared else None


def use_key(printed: RequestPrint) -> bytes | None:
    """The prefix whose uses `ttl="auto"` counts: the shared breakpoint's, else the last one's."""
    point = shared_breakpoint(printed) or (printed.breakpoints[-1] if printed.breakpoints else None)
    return printed.blocks[point.position].prefix if point is not None else None


class CacheWatch:
    """The cache entries of one agent's calls, and the explanation of each call's misses.

    Thread-safe: calls may run in parallel. `clock` gives the time used when a method is not
    told `at` (the simulator's virtual clock in tests, the wall clock otherwise). `store`
    (a `cache_store.CacheWatchStore`) keeps the state on disk and shares it between kernels.
    """

    def __init__(
        self,
        *,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        store: Any = None,
    ) -> None:
        self.store = store
        self.key = store.key if store is not None else (key if key is not None else os.urandom(16))
        self.clock = clock
        self._lock = threading.RLock()
        self._events = itertools.count(1)
        self._calls = itertools.count(1)
        self._entries: dict[tuple[Scope, bytes], CacheEntry] = {}
        self._history: deque[PastCall] = deque(maxlen=HISTORY_CALLS)
        self._timeline: list[TimelineEvent] = []
        #: Entries replaced after expiring, or forgotten: kept for views of the session.
        self._retired: deque[CacheEntry] = deque(maxlen=MAX_ENTRIES)
        self._uses = UseHistory()
        self._synced_at = float("-inf")
        #: Without a store, the calls a what-if replays are kept here (as the store's rows).
        self._call_rows: deque[dict[str, Any]] = deque(maxlen=KEEP_MEMORY_CALLS)
        self._prints: dict[int, tuple[dict[str, Any], RequestPrint]] = {}
        self._shapes: dict[int, tuple[RequestPrint, str]] = {}
        #: Block digests whose text print the store holds, and when it was last marked used.
        self._stored_texts: dict[bytes, float] = {}
        #: What the call being finished added, for the store.
        self._new_events: list[TimelineEvent] = []
        self._new_retired: list[CacheEntry] = []
        #: (model, prefix digest) → its exact token count, learned from replies' usage.
        self._counts: OrderedDict[tuple[str, bytes], int] = OrderedDict()

    # -- the store -------------------------------------------------------------------------------

    def _store_failed(self, error: Exception) -> None:
        warnings.warn(
            f"clawdbot_nb: the cache watch file {self.store.path} failed ({error}); cache entries are "
            "followed in memory only from now on. Fix: check the disk, or move the file aside.",
            stacklevel=4,
        )
        self.store = None

    def _sync(self) -> None:
        """Reload the agent's state when another process changed it (called under the lock)."""
        if self.store is None:
            return
        now = time.monotonic()
        if now - self._synced_at < SYNC_EVERY_S:
            return
        self._synced_at = now
        try:
            if not self.store.changed():
                return
            state = self.store.load()
        except Exception as error:  # a broken file must never break a call
            self._store_failed(error)
            return
        from clawdbot_nb.api.cache_store import print_from_json, usage_of

        self._entries.clear()
        self._retired.clear()
        for row in state.entries:
            entry = _entry_from_row(row)
            if row["retired"]:
                self._retired.append(entry)
            else:
                key = (entry.scope, entry.prefix)
                previous = self._entries.get(key)
                if previous is not None:
                    self._retired.append(previous)
                self._entries[key] = entry
        self._history.clear()
        self._stored_texts = dict.fromkeys(state.texts, float("-inf"))
        for row in state.calls:
            scope = Scope(row["model"], row["credential"], row["organization"], row["workspace"])
            written = tuple(json.loads(row["written"]))
            printed = print_from_json(row["shape"], state.texts)
            self._history.append(PastCall(-row["id"], printed, scope, row["sent_at"], written, row["hit"]))
            self._learn(printed, usage_of(row), row["hit"], written)
        self._uses = UseHistory()
        for row in state.uses:
            self._uses.record(bytes(row["prefix"]), row["at"])
        self._timeline = [
            TimelineEvent(
                row["at"], row["kind"], row["area"], row["location"], row["tokens"], row["ttl"], row["model"],
                bytes(row["entry"]),
            )
            for row in state.events
        ]  # fmt: skip

    def _new_texts(self, printed: RequestPrint, at: float) -> list[tuple[bytes, str, float]]:
        """The text prints of `printed` the store lacks (or last marked used over an hour ago)."""
        from clawdbot_nb.api.cache_store import text_to_json

        out = []
        for block in printed.blocks:
            if at - self._stored_texts.get(block.digest, float("-inf")) > TEXT_BUMP_S:
                self._stored_texts[block.digest] = at
                out.append((block.digest, text_to_json(block.text), at))
        return out

    def _persist(
        self,
        entries: list[CacheEntry],
        call: dict[str, Any] | None,
        uses: list[tuple[bytes, float]],
        events: list[TimelineEvent],
        printed: RequestPrint,
        at: float,
    ) -> None:
        if self.store is None:
            if call is not None:
                self._call_rows.append(call)
            return
        retired = {id(e) for e in self._new_retired}
        rows = [_entry_row(e, retired=id(e) in retired) for e in entries]
        try:
            self.store.write(
                entries=rows,
                call=call,
                uses=uses,
                events=[_event_row(e) for e in events],
                texts=self._new_texts(printed, at),
            )
        except Exception as error:
            self._store_failed(error)

    # -- following calls ---------------------------------------------------------------------------

    def _fingerprint(self, params: dict[str, Any]) -> RequestPrint:
        # Plans are immutable and the workspace reuses the plan of a repeated request: its print
        # is reused too (the memo holds the params, so their id is not recycled meanwhile).
        memo = self._prints.get(id(params))
        if memo is not None and memo[0] is params:
            return memo[1]
        printed = fingerprint(params, self.key)
        self._prints[id(params)] = (params, printed)
        if len(self._prints) > MEMO_SIZE:
            self._prints.pop(next(iter(self._prints)))
        return printed

    def begin(self, params: dict[str, Any], scope: Scope, *, at: float | None = None) -> CallTicket:
        """A request is being sent: `params` is the planned body, with its `cache_control` marks
        (not to be changed afterwards: a plan's body never is)."""
        print_ = self._fingerprint(params)
        with self._lock:
            return CallTicket(
                next(self._calls),
                next(self._events),
                self.clock() if at is None else at,
                print_,
                scope,
                params,
            )

    def began(self, ticket: CallTicket, *, at: float | None = None) -> None:
        """Its response began: what it writes is visible to calls sent from now on."""
        with self._lock:
            if ticket.began_seq is None:
                ticket.began_seq = next(self._events)
                ticket.began_at = self.clock() if at is None else at

    def finish(
        self,
        ticket: CallTicket,
        usage: UsageCounts,
        *,
        prices: ModelPrices | None = None,
        minimum: int | None = None,
        record: dict[str, Any] | None = None,
    ) -> CallReport:
        """The call succeeded with `usage`: explain it, then update the entries it read and wrote.

        `record` adds fields to the stored call (request_id, ttl_requested, ttl_applied,
        output_tokens, cost_usd) for the what-if replays.
        """
        self.began(ticket)
        scope, at = ticket.scope, ticket.sent_at
        with self._lock:
            self._sync()
            current, hit, points = self._sized(ticket.print, scope, usage, minimum)
            ticket.print = current
            why = explain(
                current,
                ticket.params,
                scope,
                usage,
                sent_at=at,
                sent_seq=ticket.seq,
                entries=list(self._entries.values()),
                history=list(self._history),
                minimum=minimum,
                key=self.key,
                hit=hit,
            )
            self._new_events, self._new_retired = [], []
            refreshed = self._refresh(ticket, hit, prices)
            written = self._write(ticket, points, hit, prices)
            past = PastCall(ticket.call, current, scope, at, tuple(e.position for e in written), hit)
            self._history.append(past)
            self._forget(at)
            key = use_key(current)
            uses = [(key, at)] if key is not None else []
            for prefix, when in uses:
                self._uses.record(prefix, when)
            touched = list({id(e): e for e in [*refreshed, *written, *self._new_retired]}.values())
            call_row = self._call_row(past, usage, record or {})
            self._persist(touched, call_row, uses, self._new_events, current, at)
            ticket.params = {}
            copies = tuple(copy.copy(e) for e in written), tuple(copy.copy(e) for e in refreshed)
            return CallReport(why, hit, *copies)

    def fail(self, ticket: CallTicket) -> None:
        """The call failed: nothing was read or written."""
        ticket.params = {}

    def _shape(self, printed: RequestPrint) -> str:
        from clawdbot_nb.api.cache_store import shape_to_json

        memo = self._shapes.get(id(printed))
        if memo is None or memo[0] is not printed:
            memo = (printed, shape_to_json(printed))
            self._shapes[id(printed)] = memo
            if len(self._shapes) > MEMO_SIZE:
                self._shapes.pop(next(iter(self._shapes)))
        return memo[1]

    def _call_row(self, past: PastCall, usage: UsageCounts, record: dict[str, Any]) -> dict[str, Any]:
        row = {
            "sent_at": past.sent_at,
            "model": past.scope.model,
            "credential": past.scope.credential,
            "organization": past.scope.organization,
            "workspace": past.scope.workspace,
            "shape": self._shape(past.print),
            "written": json.dumps(list(past.written)),
            "hit": past.hit,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_5m_tokens": usage.cache_write_5m_tokens,
            "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        }
        for name in ("request_id", "ttl_requested", "ttl_applied", "cost_usd"):
            if name in record:
                row[name] = record[name]
        return row

    # -- sizes as the API counts them -------------------------------------------------------------

    def _known(self, printed: RequestPrint) -> dict[int, int]:
        """The positions of `printed` whose exact size an earlier reply told."""
        known = {}
        for block in printed.blocks:
            count = self._counts.get((printed.model, block.prefix))
            if count is not None:
                known[block.position] = count
        return known

    def _learn(self, printed: RequestPrint, usage: UsageCounts, hit: int, written: tuple[int, ...]) -> None:
        ttls = {bp.position: bp.ttl for bp in printed.breakpoints}
        points = usage_points(hit, [(p, ttls.get(p, "5m")) for p in written], usage)
        for position, count in points.items():
            if 0 <= position < len(printed.blocks):
                key = (printed.model, printed.blocks[position].prefix)
                self._counts[key] = count
                self._counts.move_to_end(key)
        while len(self._counts) > MAX_COUNTS:
            self._counts.popitem(last=False)

    def _sized(
        self, printed: RequestPrint, scope: Scope, usage: UsageCounts, minimum: int | None
    ) -> tuple[RequestPrint, int, list[BreakpointPrint]]:
        """(`printed` sized as the API counted it, the position read through, the breakpoints
        written). Reads end where an entry can be (a breakpoint, or an entry the watch knows);
        writes at breakpoints past the read that reach the model's minimum."""
        estimates = [b.cumulative_tokens for b in printed.blocks]
        known = self._known(printed)
        total = usage.prompt_tokens or None
        counts, _ = anchored(estimates, known, estimated_total=printed.total_tokens, total=total)
        marks = [bp.position for bp in printed.breakpoints]
        hit = -1
        if usage.cache_read_tokens and marks:
            # An entry an earlier call wrote can end the read too (the lookback finds it).
            blocks = printed.blocks
            candidates = [p for p in range(max(marks) + 1) if (scope, blocks[p].prefix) in self._entries]
            hit = locate(usage.cache_read_tokens, [*marks, *candidates], counts, known)
        points: list[BreakpointPrint] = []
        if usage.cache_write_tokens:
            beyond = [bp for bp in printed.breakpoints if bp.position > hit]
            through = usage.cache_read_tokens + usage.cache_write_tokens
            last = locate(through, [bp.position for bp in beyond], counts, known)
            points = [bp for bp in beyond if bp.position <= last]
        exact = {**known, **usage_points(hit, [(bp.position, bp.ttl) for bp in points], usage)}
        counts, total = anchored(estimates, exact, estimated_total=printed.total_tokens, total=total)
        if minimum is not None:
            points = [bp for bp in points if counts[bp.position] >= minimum or bp is points[-1]]
        self._learn(printed, usage, hit, tuple(bp.position for bp in points))
        return printed.with_counts(counts, total), hit, points

    def _refresh(self, ticket: CallTicket, hit: int, prices: ModelPrices | None) -> list[CacheEntry]:
        """Entries this call read: per breakpoint, the first live entry walking back (as the API)."""
        if hit < 0:
            return []
        current, at, scope = ticket.print, ticket.sent_at, ticket.scope

        def live(position: int) -> bool:
            entry = self._entries.get((scope, current.blocks[position].prefix))
            return entry is not None and entry.alive(at)

        positions = walk_lookup([bp.position for bp in current.breakpoints], live, ceiling=hit)
        found = [self._entries[(scope, current.blocks[p].prefix)] for p in positions]
        previous = 0
        per_token = (prices.input - prices.cache_read) * _PER_TOKEN if prices else 0.0
        for entry in found:
            segment = current.cumulative(entry.position) - previous
            previous = current.cumulative(entry.position)
            entry.last_used = max(entry.last_used, at)
            entry.hits += 1
            entry.saved_usd += segment * per_token
            self._log(self._event(at, "hit", entry))
        return found

    def _write(
        self,
        ticket: CallTicket,
        points: list[BreakpointPrint],
        hit: int,
        prices: ModelPrices | None,
    ) -> list[CacheEntry]:
        current, at, scope = ticket.print, ticket.sent_at, ticket.scope
        out = []
        previous = current.cumulative(hit)
        for bp in points:
            block = current.blocks[bp.position]
            segment = block.cumulative_tokens - previous
            previous = block.cumulative_tokens
            premium = 0.0
            if prices is not None:
                price = prices.cache_write_1h if bp.ttl == "1h" else prices.cache_write_5m
                premium = segment * (price - prices.input) * _PER_TOKEN
            key = (scope, block.prefix)
            entry = self._entries.get(key)
            if entry is not None and entry.alive(at):
                # Written again while alive (parallel writers): the longer TTL wins, as on the API.
                if TTL_SECONDS[bp.ttl] > TTL_SECONDS[entry.ttl]:
                    entry.ttl = bp.ttl
                entry.last_used = max(entry.last_used, at)
                entry.saved_usd -= premium
            else:
                if entry is not None:  # expired: it lives on in the history and the timeline
                    self._retire(entry)
                entry = CacheEntry(
                    scope=scope,
                    prefix=block.prefix,
                    position=bp.position,
                    area=block.area,
                    location=block.location,
                    tokens=block.cumulative_tokens,
                    ttl=bp.ttl,
                    written_at=at,
                    last_used=at,
                    saved_usd=-premium,
                    writer=ticket.call,
                    visible_after=ticket.began_seq,
                    began_at=ticket.began_at,
                    turn=bp.position >= current.last_turn_start,
                )
                self._entries[key] = entry
            self._log(self._event(at, "write", entry))
            out.append(entry)
        return out

    def _retire(self, entry: CacheEntry) -> None:
        self._retired.append(entry)
        self._new_retired.append(entry)
        self._log(self._event(entry.expires_at, "expire", entry))

    def _log(self, event: TimelineEvent) -> None:
        self._timeline.append(event)
        self._new_events.append(event)

    def _event(self, at: float, kind: str, entry: CacheEntry) -> TimelineEvent:
        return TimelineEvent(
            at, kind, entry.area, entry.location, entry.tokens, entry.ttl, entry.scope.model, entry.prefix
        )

    def _forget(self, now: float) -> None:
        stale = [k for k, e in self._entries.items() if now - e.expires_at > FORGET_AFTER_S]
        if len(self._entries) - len(stale) > MAX_ENTRIES:
            by_age = sorted(self._entries.items(), key=lambda item: item[1].last_used)
            stale += [k for k, _ in by_age[: len(self._entries) - MAX_ENTRIES]]
        for key in dict.fromkeys(stale):
            self._retire(self._entries.pop(key))
        cutoff = now - FORGET_AFTER_S
        if self._timeline and self._timeline[0].at < cutoff:
            self._timeline = [e for e in self._timeline if e.at >= cutoff]

    # -- ttl="auto" ---------------------------------------------------------------------------------

    def _predicted_hit(self, printed: RequestPrint, scope: Scope, at: float) -> tuple[int, CacheEntry | None]:
        """(deepest position the API should read, its entry) from the live entries, as the API
        looks them up: per breakpoint, 20 positions back."""
        seq = next(self._events)

        def find(position: int) -> CacheEntry | None:
            prefix = printed.blocks[position].prefix
            entry = self._entries.get((scope, prefix))
            if entry is None and scope.organization is None:
                # Before this process saw a response of the credential, its organisation is not
                # known: an entry of the same model and credential kind stands for it.
                entry = next(
                    (
                        e
                        for (s, p), e in self._entries.items()
                        if p == prefix and s.model == scope.model and s.credential == scope.credential
                    ),
                    None,
                )
            return entry if entry is not None and entry.alive(at) and entry.visible_to(seq, at) else None

        positions = walk_lookup([bp.position for bp in printed.breakpoints], lambda p: find(p) is not None)
        if not positions:
            return -1, None
        return positions[-1], find(positions[-1])

    def _turn_reuse(self) -> float:
        """How often this agent's last-turn entries were read again (a conversation goes on,
        a one-shot question does not), with a prior leaning to one-shot."""
        turns = [e for e in [*self._retired, *self._entries.values()] if e.turn]
        turns = sorted(turns, key=lambda e: e.written_at)[-TURN_SAMPLE:]
        return turn_reuse([e.hits > 0 for e in turns])

    def advise_ttl(
        self,
        params: dict[str, Any],
        scope: Scope,
        *,
        ratios: PriceRatios,
        oauth: bool = False,
        at: float | None = None,
    ) -> TtlChoice:
        """`ttl="auto"` for a planned request body (planned with any TTL: TTLs change no hash)."""
        if oauth:
            return choose_ttl(_NO_EVIDENCE, shared_tokens=0, one_shot_tokens=0, ratios=ratios, oauth=True)
        printed = self._fingerprint(params)
        now = self.clock() if at is None else at
        with self._lock:
            self._sync()
            if not printed.breakpoints:
                return TtlChoice("5m", "5m: nothing is marked for caching")
            hit, entry = self._predicted_hit(printed, scope, now)
            reuse = self._turn_reuse()
            key = use_key(printed)
            evidence = self._uses.evidence(key, now) if key is not None else _NO_EVIDENCE
            counts, _ = anchored(
                [b.cumulative_tokens for b in printed.blocks],
                self._known(printed),
                estimated_total=printed.total_tokens,
            )
        return choose_for_request(
            counts,
            [bp.position for bp in printed.breakpoints],
            printed.last_turn_start,
            hit=hit,
            cached_ttl=entry.ttl if entry else None,
            cached_until=clock_time(entry.expires_at) if entry else None,
            evidence=evidence,
            turn_reuse=reuse,
            ratios=ratios,
        )

    # -- views ---------------------------------------------------------------------------------------

    def entries(self, at: float | None = None, *, include_expired: bool = False) -> list[CacheEntry]:
        """Copies of the entries alive at `at` (now by default), soonest to expire first."""
        now = self.clock() if at is None else at
        with self._lock:
            self._sync()
            chosen = [replace(e) for e in self._entries.values() if include_expired or e.alive(now)]
            if include_expired:
                chosen += [replace(e) for e in self._retired]
        return sorted(chosen, key=lambda e: e.expires_at)

    def timeline(self, at: float | None = None) -> list[TimelineEvent]:
        """Writes and hits so far, plus the expiry of every entry that has expired by `at`."""
        now = self.clock() if at is None else at
        with self._lock:
            self._sync()
            events = list(self._timeline)
            for entry in self._entries.values():
                if not entry.alive(now):
                    events.append(self._event(entry.expires_at, "expire", entry))
        return sorted(events, key=lambda e: (e.at, e.kind != "write"))

    def recorded_calls(self) -> list[Any]:
        """Every call the watch recorded for replays (rows of the store, oldest first)."""
        with self._lock:
            if self.store is None:
                return list(self._call_rows)
            try:
                return self.store.calls()
            except Exception as error:
                self._store_failed(error)
                return list(self._call_rows)

    def history(self) -> list[PastCall]:
        with self._lock:
            self._sync()
            return list(self._history)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _entry_row(entry: CacheEntry, *, retired: bool) -> dict[str, Any]:
    return {
        "uid": entry.uid,
        "model": entry.scope.model,
        "credential": entry.scope.credential,
        "organization": entry.scope.organization,
        "workspace": entry.scope.workspace,
        "prefix": entry.prefix,
        "position": entry.position,
        "area": entry.area,
        "location": entry.location,
        "tokens": entry.tokens,
        "ttl": entry.ttl,
        "written_at": entry.written_at,
        "last_used": entry.last_used,
        "began_at": entry.began_at,
        "hits": entry.hits,
        "saved_usd": entry.saved_usd,
        "turn": int(entry.turn),
        "retired": int(retired),
    }


def _entry_from_row(row: Any) -> CacheEntry:
    return CacheEntry(
        scope=Scope(row["model"], row["credential"], row["organization"], row["workspace"]),
        prefix=bytes(row["prefix"]),
        position=row["position"],
        area=row["area"],
        location=row["location"],
        tokens=row["tokens"],
        ttl=row["ttl"],
        written_at=row["written_at"],
        last_used=row["last_used"],
        hits=row["hits"],
        saved_usd=row["saved_usd"],
        began_at=row["began_at"],
        loaded=True,
        turn=bool(row["turn"]),
        uid=row["uid"],
    )


def _event_row(event: TimelineEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "kind": event.kind,
        "area": event.area,
        "location": event.location,
        "tokens": event.tokens,
        "ttl": event.ttl,
        "model": event.model,
        "entry": event.entry,
    }


# -- one watch per agent and process ------------------------------------------------------------

_shared: dict[tuple[Any, ...], list[Any]] = {}
_shared_lock = threading.Lock()


def acquire_watch(path: Any, agent_id: str, clock: Callable[[], float]) -> CacheWatch:
    """The process's watch for an agent's watch file (opened on first use): every workspace of
    the agent in this process shares it; other processes share the file."""
    from clawdbot_nb.api.cache_store import CacheWatchStore

    key = (os.getpid(), str(path), agent_id, clock)
    with _shared_lock:
        held = _shared.get(key)
        if held is None:
            store = CacheWatchStore.open(path, agent_id) if path is not None else None
            held = _shared[key] = [CacheWatch(clock=clock, store=store), 0]
        held[1] += 1
        return held[0]


def release_watch(watch: CacheWatch) -> None:
    """A workspace is done with `watch`: the last one closes it (its writes are committed)."""
    with _shared_lock:
        for key, held in list(_shared.items()):
            if held[0] is watch:
                held[1] -= 1
                if held[1] <= 0:
                    del _shared[key]
                    watch.close()
                return


def is_shared(watch: CacheWatch) -> bool:
    with _shared_lock:
        return any(held[0] is watch for held in _shared.values())


# -- which clock an API address runs on ---------------------------------------------------------

_clocks: dict[str, Callable[[], float]] = {}


def use_clock_for(base_url: str, clock: Callable[[], float] | None) -> None:
    """Say that the API at `base_url` keeps time by `clock` (a simulator's virtual clock, so
    `sim advance` expires what it should); None forgets it."""
    key = base_url.rstrip("/")
    if clock is None:
        _clocks.pop(key, None)
    else:
        _clocks[key] = clock


def clock_for(base_url: str | None) -> Callable[[], float]:
    """The clock cache entries of `base_url` (else ANTHROPIC_BASE_URL) live on: the wall clock,
    unless `use_clock_for` said otherwise."""
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or ""
    return _clocks.get(url.rstrip("/"), time.time)
