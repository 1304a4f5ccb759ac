"""One ledger row: what a call cost and did, as recorded — the row model and how a row is built.

Adding a column: a field on `LedgerRow`, its name in exactly one of `INT_FIELDS`,
`REAL_FIELDS`, `LABEL_FIELDS`, `TEXT_FIELDS` (how it is stored), a migration step in
`schema.py`, and its place in `frames.FRAME_COLUMNS`.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from clawdbot_nb.api.pricing import Cost, UsageCounts, compute_cost, usage_counts
from clawdbot_nb.state.redaction import redact_line

_ERROR_MAX_CHARS = 500
NAN = float("nan")

_session_id: tuple[int, str] | None = None


def current_session() -> str:
    """An id for this process (kernel), so a notebook can filter its own calls.

    Regenerated in a forked child, whose calls belong to a different process.
    """
    global _session_id
    pid = os.getpid()
    if _session_id is None or _session_id[0] != pid:
        _session_id = (pid, uuid.uuid4().hex[:12])
    return _session_id[1]


def one_line_error(message: str) -> str:
    """An error message as the ledger keeps it: one line, secrets masked, at most 500 characters."""
    # Masked before shortening, so a secret cut in half is still recognised.
    line = redact_line(message)
    if len(line) > _ERROR_MAX_CHARS:
        line = line[: _ERROR_MAX_CHARS - 1] + "…"
    return line


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One API call as the ledger records it.

    Money is NaN when the model has no price (stored as NULL). `ttl_requested` is "5m", "1h",
    "none" or None; `ttl_applied` is what the usage shows was written. `credential_type` is
    "api_key", "token" or "oauth". `profiles_tried` lists every profile attempted, in order.
    Timings (seconds): `latency_s` is the successful HTTP exchange (sending to the last byte),
    `ttft_s` sending to the first text, `setup_s` the time before the first request went out
    (validation, profile order, imports, client construction), `attempts_s` the time spent in
    attempts that failed (other profiles, the SDK's retries) before the successful one.
    """

    time_ms: int
    model: str
    agent: str | None = None
    profile_id: str | None = None
    credential_type: str | None = None
    ttl_requested: str | None = None
    ttl_applied: str | None = None
    ttl_note: str | None = None
    #: Why the call wrote where an earlier one could have let it read (the cache watch's
    #: short cause, e.g. "expired: gap 7 min > 5 min"); None on a hit or a first write.
    why_miss: str | None = None
    #: The conversation (`Workspace.chat` name) this call was a turn of.
    conversation: str | None = None
    breakpoints: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cost_usd: float = NAN
    cost_without_cache_usd: float = NAN
    savings_usd: float = NAN
    latency_s: float | None = None
    ttft_s: float | None = None
    setup_s: float | None = None
    attempts_s: float | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    error: str | None = None
    cell: str | None = None
    session: str | None = None
    stream: bool = False
    attempts: int = 1
    profiles_tried: tuple[str, ...] = ()
    #: A map or batch job's id (`Workspace.map`, `Workspace.batch`), the row of that job this
    #: call answered, and the Message Batch it went through (None for a direct call).
    job: str | None = None
    row_key: str | None = None
    batch_id: str | None = None
    #: The ledger's row id, set when read back.
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.error is not None:
            object.__setattr__(self, "error", one_line_error(self.error))

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)

    @property
    def usage(self) -> UsageCounts:
        """The token counts, with pricing's derived totals and hit ratio."""
        return UsageCounts(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
        )

    @property
    def cache_write_tokens(self) -> int:
        return self.usage.cache_write_tokens

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens

    @property
    def hit(self) -> bool:
        """Whether anything was read from the cache."""
        return self.cache_read_tokens > 0

    @property
    def hit_ratio(self) -> float:
        """cache_read / (cache_read + cache writes + input); NaN when the call had no input."""
        return self.usage.hit_ratio

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ISO time, derived hit columns, None for missing money."""
        out: dict[str, Any] = {"id": self.id, "time": iso_time(self.time_ms)}
        for name in ROW_FIELDS:
            value = getattr(self, name)
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif name == "profiles_tried":
                value = list(value)
            out[name] = value
        ratio = self.hit_ratio
        out["hit"] = self.hit
        out["hit_ratio"] = None if math.isnan(ratio) else ratio
        return out


# How each field is stored. Repeated text (model, profile, session, cell, error ...) is stored
# once in `labels` and the calls refer to it by id: rows stay small, and the DataFrame is built
# from integer columns that SQLite concatenates in C.
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
MONEY_FIELDS = ("cost_usd", "cost_without_cache_usd", "savings_usd")
LABEL_FIELDS = (
    "agent",
    "profile_id",
    "credential_type",
    "model",
    "ttl_requested",
    "ttl_applied",
    "ttl_note",
    "stop_reason",
    "error",
    "cell",
    "session",
    "profiles_tried",
    "why_miss",
    "job",
    "batch_id",
    "conversation",
)
INT_FIELDS = ("time_ms", "breakpoints", *TOKEN_FIELDS, "stream", "attempts")
REAL_FIELDS = (*MONEY_FIELDS, "latency_s", "ttft_s", "setup_s", "attempts_s")
TEXT_FIELDS = ("request_id", "row_key")
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LedgerRow) if f.name != "id")
STORED_FIELDS = (*INT_FIELDS, *LABEL_FIELDS, *REAL_FIELDS, *TEXT_FIELDS)
assert sorted(STORED_FIELDS) == sorted(ROW_FIELDS), "every row field needs exactly one storage kind"


def iso_time(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def written_ttls(counts: UsageCounts) -> str | None:
    """ "5m", "1h" or "5m+1h" for what the usage shows was written; None when nothing was."""
    written = [
        ttl for ttl, n in (("5m", counts.cache_write_5m_tokens), ("1h", counts.cache_write_1h_tokens)) if n
    ]
    return "+".join(written) or None


def build_row(
    *,
    model: str,
    usage: Any = None,
    cost: Cost | None = None,
    agent: str | None = None,
    profile_id: str | None = None,
    credential_type: str | None = None,
    ttl_requested: str | None = None,
    ttl_applied: str | None = None,
    ttl_note: str | None = None,
    why_miss: str | None = None,
    conversation: str | None = None,
    breakpoints: int = 0,
    latency_s: float | None = None,
    ttft_s: float | None = None,
    setup_s: float | None = None,
    attempts_s: float | None = None,
    stop_reason: str | None = None,
    request_id: str | None = None,
    error: str | BaseException | None = None,
    cell: int | str | None = None,
    session: str | None = None,
    stream: bool = False,
    attempts: int = 1,
    profiles_tried: Sequence[str] = (),
    time_ms: int | None = None,
    job: str | None = None,
    row_key: str | None = None,
    batch_id: str | None = None,
) -> LedgerRow:
    """A ledger row for one call from its SDK usage (any shape `pricing.usage_counts` takes; None
    for a call that failed before usage) and its `Cost` (computed here when not given).

    `ttl_applied`, when not given, is read off the usage (see `written_ttls`). `session`
    defaults to this process's.
    """
    counts = usage_counts(usage)
    if cost is None:
        cost = compute_cost(model, counts)
    if ttl_applied is None:
        ttl_applied = written_ttls(counts)
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return LedgerRow(
        time_ms=now_ms() if time_ms is None else int(time_ms),
        model=model,
        agent=agent,
        profile_id=profile_id,
        credential_type=credential_type,
        ttl_requested=ttl_requested,
        ttl_applied=ttl_applied,
        ttl_note=ttl_note,
        why_miss=why_miss,
        conversation=conversation,
        breakpoints=breakpoints,
        input_tokens=counts.input_tokens,
        output_tokens=counts.output_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_5m_tokens=counts.cache_write_5m_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        cost_usd=cost.cost_usd,
        cost_without_cache_usd=cost.cost_without_cache_usd,
        savings_usd=cost.savings_usd,
        latency_s=latency_s,
        ttft_s=ttft_s,
        setup_s=setup_s,
        attempts_s=attempts_s,
        stop_reason=stop_reason,
        request_id=request_id,
        error=error,
        cell=None if cell is None else str(cell),
        session=current_session() if session is None else session,
        stream=stream,
        attempts=attempts,
        profiles_tried=tuple(profiles_tried),
        job=job,
        row_key=row_key,
        batch_id=batch_id,
    )
