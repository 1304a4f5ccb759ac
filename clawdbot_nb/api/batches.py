"""`Workspace.batch`: the rows of a job through the Message Batches API — asynchronous, at half
price, up to 100,000 requests or 256 MB per batch (reference §9.8).

    frame = ws.batch(tickets, "Classify this ticket: {text}", system=instructions)

- The shared prefix carries a 1h breakpoint (the docs' advice: a batch may take an hour), and
  the first row goes first as an ordinary call, so the cache holds the prefix when the batch
  runs (caching inside a batch is best-effort).
- The other rows are split into batches under the limits and submitted with one profile (the
  first usable one); each batch id goes into the ledger at once, so a restarted kernel finds it:
  `ws.batch_results(job)`, or the same `ws.batch(...)` again, polls and collects it.
- Results come back in any order and are matched on `custom_id` (the row's key); each becomes a
  ledger row priced at the batch discount (the usage says `service_tier: "batch"`). `succeeded`,
  `errored`, `canceled` and `expired` are reported per row; running the job again submits only
  the rows not answered.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.call import CallRequest, message_text
from clawdbot_nb.api.failures import describe_exception, request_error
from clawdbot_nb.api.job_inputs import JobRow, label_from_json
from clawdbot_nb.api.job_results import (
    JobReport,
    RowResult,
    failed,
    from_reply,
    pooled_hit_ratio,
    results_frame,
    total_cost,
    verdict_of,
)
from clawdbot_nb.api.job_start import resumed, start_job
from clawdbot_nb.api.ledger import build_row, jobs
from clawdbot_nb.api.pricing import compute_cost
from clawdbot_nb.api.progress import JobProgress
from clawdbot_nb.errors import ClawdbotError, UsageError
from clawdbot_nb.state.durations import parse_duration_ms
from clawdbot_nb.state.selection import AuthCandidate

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.workspace import Workspace

#: The API's limits per batch (reference §9.8).
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
DEFAULT_TTL = "1h"
DEFAULT_POLL = "30s"
#: `{"requests": [` … `]}` around the requests, with a comma between two.
_BODY_OVERHEAD = 16


def split_requests(
    requests: Sequence[dict[str, Any]], *, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """The requests in batches of at most `max_requests` and `max_bytes` of JSON each, in order;
    and those too large for any batch on their own."""
    chunks: list[list[dict[str, Any]]] = []
    too_large: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    size = _BODY_OVERHEAD
    for request in requests:
        length = len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if length + _BODY_OVERHEAD > max_bytes:
            too_large.append(request)
            continue
        if current and (len(current) >= max_requests or size + length > max_bytes):
            chunks.append(current)
            current, size = [], _BODY_OVERHEAD
        current.append(request)
        size += length
    if current:
        chunks.append(current)
    return chunks, too_large


def _api_call(action: Callable[[], Any]) -> Any:
    """An SDK call of the Batches API, its failure as our one-line error."""
    try:
        return action()
    except ClawdbotError:
        raise
    except Exception as error:
        raise request_error(describe_exception(error)) from None


class BatchJob:
    """Submits, polls and collects the batches of one job."""

    def __init__(self, workspace: Workspace, job: str, model: str, *, progress: bool) -> None:
        self.ws = workspace
        #: (batch id, profile id, row keys) of the batches this run submitted.
        self.submitted_now: list[tuple[str, str | None, tuple[str, ...]]] = []
        self.job = job
        self.model = model
        self.progress = progress
        self.ledger = workspace._ledger
        self.overrides = workspace._price_overrides(workspace.agent.config())

    def candidate(self, profile_id: str | None, template: CallRequest | None) -> AuthCandidate:
        """The profile a batch was (or will be) submitted with; a batch lives in its workspace."""
        if profile_id is None:
            if template is None:
                raise UsageError("This batch was submitted without a stored profile.", fix="run it again")
            return self.ws.candidates(template)[0]
        credential = self.ws.agent.load_store().get(profile_id)
        if credential is None:
            raise UsageError(
                f"The batches of job {self.job} belong to profile {profile_id}, which is gone.",
                fix="onboard that profile again to collect them (a batch is visible only to its workspace)",
            )
        return AuthCandidate(profile_id, credential, "store")

    def submit(
        self, rows: Sequence[JobRow], template: CallRequest, candidate: AuthCandidate, **limits: int
    ) -> list[RowResult]:
        """Submit the rows in as many batches as the limits need; the rows no batch can take."""
        requests = []
        for row in rows:
            request = dataclasses.replace(template, messages=[{"role": "user", "content": row.prompt}])
            requests.append({"custom_id": row.key, "params": self.ws.plan(request, candidate).params})
        chunks, too_large = split_requests(requests, **limits)
        client = self.ws.clients.get(candidate)
        for chunk in chunks:
            created = _api_call(lambda chunk=chunk: client.messages.batches.create(requests=chunk))
            if self.ledger is not None:
                jobs.record_batch(
                    self.ledger, created.id, self.job, candidate.profile_id, [r["custom_id"] for r in chunk]
                )
            self.submitted_now.append(
                (created.id, candidate.profile_id, tuple(r["custom_id"] for r in chunk))
            )
        limit = limits.get("max_bytes", MAX_BYTES)
        return [
            failed(r["custom_id"], f"This row's request is larger than a batch may be ({limit:,} bytes).")
            for r in too_large
        ]

    def wait_and_collect(
        self, batches: Sequence[jobs.StoredBatch], poll_ms: int, template: CallRequest | None
    ) -> dict[str, RowResult]:
        """Poll until every batch has ended (progress: requests done), then collect each."""
        results: dict[str, RowResult] = {}
        waiting = list(batches)
        total = sum(len(b.row_keys) for b in waiting)
        bar = JobProgress(total=total, initial=0, description=f"batch {self.job}", enabled=self.progress)
        clock = self.ws.clock
        shown = 0
        try:
            while waiting:
                done = sum(len(b.row_keys) for b in batches if b not in waiting)
                for batch in list(waiting):
                    client = self.ws.clients.get(self.candidate(batch.profile_id, template))
                    state = _api_call(lambda c=client, b=batch: c.messages.batches.retrieve(b.batch_id))
                    if state.processing_status == "ended":
                        results.update(self.collect(batch, client))
                        waiting.remove(batch)
                        done += len(batch.row_keys)
                    else:
                        counts = state.request_counts
                        done += counts.succeeded + counts.errored + counts.canceled + counts.expired
                finished = list(results.values())
                bar.advance(done - shown, hit_ratio=pooled_hit_ratio(finished), cost_usd=total_cost(finished))
                shown = done
                if waiting:
                    clock.sleep(poll_ms / 1000)
        except KeyboardInterrupt:
            bar.note(
                f"Stopped waiting: the batches of job {self.job} go on at Anthropic; "
                f"ws.batch_results({self.job!r}) collects them later."
            )
            raise
        finally:
            bar.close()
        return results

    def collect(self, batch: jobs.StoredBatch, client: Any) -> dict[str, RowResult]:
        """An ended batch's results as ledger rows (priced at the batch discount) and row outcomes.
        Safe to repeat: results already in the ledger are not recorded twice."""
        recorded = (
            {r.row_key for r in self.ledger.rows(job=self.job) if r.batch_id == batch.batch_id}
            if self.ledger
            else set()
        )
        credential_type = None
        if batch.profile_id is not None:
            stored = self.ws.agent.load_store().get(batch.profile_id)
            credential_type = stored.type if stored is not None else None
        rows, outcomes, results = [], [], {}
        now = self.ws.clock.now_ms()
        for item in _api_call(lambda: list(client.messages.batches.results(batch.batch_id))):
            key, result = item.custom_id, item.result
            if result.type == "succeeded":
                message = result.message
                cost = compute_cost(self.model, message.usage, overrides=self.overrides)
                text = message_text(message)
                row = build_row(
                    model=self.model, usage=message.usage, cost=cost, agent=self.ws.agent.agent_id,
                    profile_id=batch.profile_id, credential_type=credential_type,
                    stop_reason=message.stop_reason, time_ms=now, job=self.job, row_key=key,
                    batch_id=batch.batch_id,
                )  # fmt: skip
                outcomes.append((key, "succeeded", text, None))
                results[key] = RowResult(
                    key, "succeeded", text=text, verdict=verdict_of(row.usage, row.ttl_applied),
                    usage=row.usage, cost_usd=row.cost_usd, profile=batch.profile_id, calls=1,
                    batch_id=batch.batch_id,
                )  # fmt: skip
            elif result.type == "errored":
                detail = getattr(result.error, "error", None)
                message = f"{getattr(detail, 'type', 'error')}: {getattr(detail, 'message', result.error)}"
                row = build_row(
                    model=self.model, agent=self.ws.agent.agent_id, profile_id=batch.profile_id,
                    error=f"Batch request errored — {message}", time_ms=now, job=self.job, row_key=key,
                    batch_id=batch.batch_id,
                )  # fmt: skip
                outcomes.append((key, "errored", None, row.error))
                results[key] = failed(key, row.error or message, calls=1, batch_id=batch.batch_id)
            else:  # canceled, expired: never processed, nothing billed
                row = None
                note = f"the batch request was {result.type} before it was processed"
                outcomes.append((key, result.type, None, note))
                results[key] = failed(key, note, status=result.type, batch_id=batch.batch_id)
            if row is not None and key not in recorded:
                rows.append(row)
        if self.ledger is not None:
            self.ledger.append_many(rows)
            jobs.finish_rows(self.ledger, self.job, outcomes)
            jobs.mark_collected(self.ledger, batch.batch_id)
        return results


def _poll_ms(poll_every: str | float) -> int:
    if isinstance(poll_every, int | float) and not isinstance(poll_every, bool) and poll_every > 0:
        return int(poll_every * 1000)
    return parse_duration_ms(str(poll_every), default_unit="s", argument="poll_every")


def run_batch(
    workspace: Workspace,
    items: Any,
    prompt: str | Callable[[Any], Any] | None = None,
    *,
    system: str | list[dict[str, Any]] | None = None,
    model: str | None = None,
    ttl: str | None = DEFAULT_TTL,
    max_tokens: int | None = None,
    job: str | None = None,
    warm: bool = True,
    wait: bool = True,
    poll_every: str | float = DEFAULT_POLL,
    progress: bool = True,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
    **options: Any,
) -> pd.DataFrame:
    """See `Workspace.batch`."""
    poll_ms = _poll_ms(poll_every)
    start = start_job(
        workspace,
        "batch",
        items,
        prompt,
        job=job,
        system=system,
        model=model,
        ttl=ttl,
        max_tokens=max_tokens,
        options=options,
    )
    inputs, template, job, results = start.inputs, start.template, start.job, start.results
    ledger = workspace._ledger
    runner = BatchJob(workspace, job, template.model, progress=progress)
    earlier = [b for b in jobs.batches(ledger, job) if not b.collected] if ledger is not None else []
    in_batches = {key for b in earlier for key in b.row_keys}
    for row in inputs.rows:
        if row.prompt is None and row.key not in results:
            results[row.key] = failed(row.key, f"Row {row.label!r}: {row.problem}.")
            if ledger is not None:
                jobs.finish_rows(ledger, job, [(row.key, "errored", None, results[row.key].error)])
    todo = [r for r in inputs.rows if r.key not in results and r.key not in in_batches]
    calls = 0
    if (
        todo
        and warm
        and (template.system or template.tools)
        and not any(r.answered for r in results.values())
    ):
        # The prefix goes into the cache first, at its 1h TTL, as the docs advise.
        first_row, todo = todo[0], todo[1:]
        request = dataclasses.replace(
            template, messages=[{"role": "user", "content": first_row.prompt}], job=job, row_key=first_row.key
        )
        from clawdbot_nb.api import drivers

        try:
            reply = drivers.run(
                workspace.engine(request, streamed=False),
                workspace.clients,
                workspace.bookkeeper,
                workspace.watcher,
                workspace.clock,
            )
            calls += 1
            results[first_row.key] = from_reply(first_row.key, reply, 1)
            if ledger is not None:
                jobs.finish_rows(ledger, job, [(first_row.key, "succeeded", reply.text, None)])
        except ClawdbotError:
            todo = [first_row, *todo]  # it goes with the others
    if todo:
        profile = earlier[0].profile_id if earlier else None
        candidate = runner.candidate(profile, template)
        results.update(
            {
                r.key: r
                for r in runner.submit(
                    todo, template, candidate, max_requests=max_requests, max_bytes=max_bytes
                )
            }
        )
    pending = earlier + [
        jobs.StoredBatch(batch_id, job, profile_id, 0, keys, False)
        for batch_id, profile_id, keys in runner.submitted_now
    ]
    if wait and pending:
        results.update(runner.wait_and_collect(pending, poll_ms, template))
    else:
        for batch in pending:
            for key in batch.row_keys:
                results.setdefault(key, RowResult(key, "processing", batch_id=batch.batch_id))
    return _frame(
        inputs.rows, inputs.index, results, job, calls=calls, batches=len(runner.submitted_now) + len(earlier)
    )


def _frame(
    rows: Sequence[JobRow], index: Any, results: dict[str, RowResult], job: str, *, calls: int, batches: int
) -> pd.DataFrame:
    frame = results_frame(rows, index, results, job=job)
    done = list(results.values())
    frame.attrs["report"] = JobReport(
        job=job,
        kind="batch",
        rows=len(rows),
        succeeded=sum(r.answered for r in done),
        failed=sum(r.status in ("errored", "canceled", "expired") for r in done),
        resumed=sum(r.resumed for r in done),
        calls=calls,
        failed_attempts=0,
        waits=0,
        waited_s=0.0,
        cost_usd=total_cost(done),
        hit_ratio=pooled_hit_ratio(done),
        extra_cost_from_faults_usd=0.0,
        batches=batches,
    )
    return frame


def batch_results(
    workspace: Workspace,
    job: str,
    *,
    wait: bool = True,
    poll_every: str | float = DEFAULT_POLL,
    progress: bool = True,
) -> pd.DataFrame:
    """See `Workspace.batch_results`."""
    import pandas as pd

    ledger = workspace.ledger
    stored_job = jobs.job(ledger, job)
    if stored_job is None:
        raise UsageError(
            f"There is no job {job!r} in the usage ledger {ledger.path}.",
            fix="pass the id from frame.attrs['job'] of the batch (it starts with batch-)",
        )
    stored = jobs.rows(ledger, job)
    rows = [JobRow(r.position, label_from_json(r.label), r.row_key, None) for r in stored]
    results = resumed(ledger, job, answered_only=False)
    runner = BatchJob(workspace, job, stored_job.model or "", progress=progress)
    pending = [b for b in jobs.batches(ledger, job) if not b.collected]
    if wait and pending:
        results.update(runner.wait_and_collect(pending, _poll_ms(poll_every), None))
    else:
        for batch in pending:
            for key in batch.row_keys:
                results.setdefault(key, RowResult(key, "processing", batch_id=batch.batch_id))
    index = pd.Index([row.label for row in rows])
    return _frame(rows, index, results, job, calls=0, batches=len(jobs.batches(ledger, job)))
