"""What a map or batch job returns: one result per row, the DataFrame aligned with the input, and
the job's report (rows answered, calls, waits, cost, and what faults added to it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.ledger.rows import LedgerRow
from clawdbot_nb.api.pricing import UsageCounts, compute_cost

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.job_inputs import JobRow
    from clawdbot_nb.api.reply import Reply

NAN = float("nan")

#: The result columns, after which nothing else is added.
RESULT_COLUMNS = (
    "text",
    "status",
    "verdict",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "hit_ratio",
    "cost_usd",
    "profile",
    "error",
    "calls",
    "batch_id",
    "request_id",
    "row_key",
)


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row. `status`: succeeded, errored, canceled, expired (a batch's
    request), processing (its batch has not ended yet) or not sent (the job stopped first)."""

    key: str
    status: str
    text: str | None = None
    verdict: str | None = None
    usage: UsageCounts | None = None
    cost_usd: float = NAN
    profile: str | None = None
    error: str | None = None
    calls: int = 0
    batch_id: str | None = None
    request_id: str | None = None
    #: Answered by an earlier run of the same job (read back from the ledger).
    resumed: bool = False

    @property
    def answered(self) -> bool:
        return self.status == "succeeded"


def verdict_of(counts: UsageCounts, ttl_applied: str | None) -> str:
    """The cache verdict of `Reply.verdict`, from recorded counts."""
    if ttl_applied == "none":
        return "off"
    written = counts.cache_write_5m_tokens + counts.cache_write_1h_tokens
    if counts.cache_read_tokens:
        return "hit+write" if written else "hit"
    return "write" if written else "miss"


def from_reply(key: str, reply: Reply, calls: int) -> RowResult:
    return RowResult(
        key,
        "succeeded",
        text=reply.text,
        verdict=reply.verdict,
        usage=reply.usage,
        cost_usd=reply.cost.cost_usd,
        profile=reply.profile,
        calls=calls,
        request_id=reply.request_id,
    )


def from_ledger(
    key: str, status: str, text: str | None, error: str | None, call: LedgerRow | None
) -> RowResult:
    """A row an earlier run finished, from its `job_rows` entry and its call in the ledger."""
    if call is None:
        return RowResult(key, status, text=text, error=error, resumed=True)
    return RowResult(
        key,
        status,
        text=text,
        verdict=verdict_of(call.usage, call.ttl_applied) if call.error is None else None,
        usage=call.usage,
        cost_usd=call.cost_usd,
        profile=call.profile_id,
        error=error or call.error,
        calls=1,
        batch_id=call.batch_id,
        request_id=call.request_id,
        resumed=True,
    )


def failed(
    key: str, message: str, *, calls: int = 0, status: str = "errored", batch_id: str | None = None
) -> RowResult:
    return RowResult(key, status, error=message, calls=calls, batch_id=batch_id)


def results_frame(
    rows: Sequence[JobRow], index: Any, results: Mapping[str, RowResult], *, job: str
) -> pd.DataFrame:
    """One row per input row, in input order, with the input's index; `attrs["job"]` is the id."""
    import pandas as pd

    ordered = [results.get(row.key) or RowResult(row.key, "not sent") for row in rows]

    def tokens(name: str) -> Any:
        values = [getattr(r.usage, name) if r.usage is not None else pd.NA for r in ordered]
        return pd.array(values, dtype="Int64")

    def ratio(r: RowResult) -> float:
        return r.usage.hit_ratio if r.usage is not None else NAN

    data: dict[str, Any] = {
        "text": pd.array([r.text for r in ordered], dtype="string"),
        "status": pd.Categorical([r.status for r in ordered]),
        "verdict": pd.array([r.verdict for r in ordered], dtype="string"),
        "input_tokens": tokens("input_tokens"),
        "output_tokens": tokens("output_tokens"),
        "cache_read_tokens": tokens("cache_read_tokens"),
        "cache_write_5m_tokens": tokens("cache_write_5m_tokens"),
        "cache_write_1h_tokens": tokens("cache_write_1h_tokens"),
        "hit_ratio": [ratio(r) for r in ordered],
        "cost_usd": [r.cost_usd for r in ordered],
        "profile": pd.array([r.profile for r in ordered], dtype="string"),
        "error": pd.array([r.error for r in ordered], dtype="string"),
        "calls": pd.array([r.calls for r in ordered], dtype="Int64"),
        "batch_id": pd.array([r.batch_id for r in ordered], dtype="string"),
        "request_id": pd.array([r.request_id for r in ordered], dtype="string"),
        "row_key": pd.array([r.key for r in ordered], dtype="string"),
    }
    frame = pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(len(ordered)))
    frame.attrs["job"] = job
    return frame


def writes_as_reads(counts: UsageCounts) -> UsageCounts:
    """The same request had its cache writes been reads (what a warmed row costs)."""
    written = counts.cache_write_5m_tokens + counts.cache_write_1h_tokens
    return replace(
        counts,
        cache_read_tokens=counts.cache_read_tokens + written,
        cache_write_5m_tokens=0,
        cache_write_1h_tokens=0,
    )


def rewrite_cost(model: str, counts: UsageCounts, *, batch: bool = False, overrides: Any = None) -> float:
    """What writing the cache cost over reading it, for a row that should have read it."""
    if not (counts.cache_write_5m_tokens or counts.cache_write_1h_tokens):
        return 0.0
    actual = compute_cost(model, counts, batch=batch, overrides=overrides).cost_usd
    warmed = compute_cost(model, writes_as_reads(counts), batch=batch, overrides=overrides).cost_usd
    return actual - warmed


def _money(value: float) -> str:
    return "n/a" if math.isnan(value) else f"${value:,.4f}"


@dataclass(frozen=True)
class JobReport:
    """What a run of a job did. `calls` and `failed_attempts` count this run's calls and the
    profile attempts inside them that failed (errors are not billed); `extra_cost_from_faults_usd`
    is what writing the shared prefix again cost over reading it — entries that expired while the
    job waited out cooldowns, or (with `warm=False`) the first wave's parallel writes; 0 when only
    the first write (the warm-up's) happened."""

    job: str
    kind: str
    rows: int
    succeeded: int
    failed: int
    resumed: int
    calls: int
    failed_attempts: int
    waits: int
    waited_s: float
    cost_usd: float
    hit_ratio: float
    extra_cost_from_faults_usd: float
    batches: int = 0

    def __str__(self) -> str:
        ratio = "n/a" if math.isnan(self.hit_ratio) else f"{self.hit_ratio:.0%}"
        parts = [
            f"{self.job}: {self.succeeded}/{self.rows} rows answered"
            + (f" ({self.resumed} from an earlier run)" if self.resumed else ""),
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(
            f"{self.calls:,} calls"
            + (f", {self.failed_attempts:,} failed attempts" if self.failed_attempts else "")
        )
        if self.batches:
            parts.append(f"{self.batches} batch{'es' if self.batches > 1 else ''}")
        if self.waits:
            parts.append(f"waited {self.waits}x for {self.waited_s / 60:.1f} min")
        parts.append(f"hit {ratio}")
        parts.append(f"cost {_money(self.cost_usd)}")
        if self.extra_cost_from_faults_usd:
            parts.append(f"cache re-writes added {_money(self.extra_cost_from_faults_usd)}")
        return " · ".join(parts)


def pooled_hit_ratio(results: Sequence[RowResult]) -> float:
    read = prompt = 0
    for r in results:
        if r.usage is not None:
            read += r.usage.cache_read_tokens
            prompt += r.usage.prompt_tokens
    return read / prompt if prompt else NAN


def total_cost(results: Sequence[RowResult]) -> float:
    return sum(r.cost_usd for r in results if r.usage is not None)
