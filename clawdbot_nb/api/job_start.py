"""How a map or a batch starts: its rows, the request each row's prompt goes into, its id, and
the rows an earlier run of the same job already finished (from the ledger), so a re-run sends
only the others. `Workspace.map` (api/scale.py) and `Workspace.batch` (api/batches.py) share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.job_inputs import JobInput, build_rows, job_id, label_json
from clawdbot_nb.api.job_results import RowResult, from_ledger
from clawdbot_nb.api.ledger import jobs

if TYPE_CHECKING:
    from collections.abc import Callable

    from clawdbot_nb.api.call import CallRequest
    from clawdbot_nb.api.workspace import Workspace


@dataclass
class JobStart:
    inputs: JobInput
    template: CallRequest  # the request of the first row; each row's prompt replaces its message
    job: str
    results: dict[str, RowResult]  # the rows an earlier run answered, by key


def start_job(
    workspace: Workspace,
    kind: str,
    items: Any,
    prompt: str | Callable[[Any], Any] | None,
    *,
    job: str | None,
    system: Any,
    model: str | None,
    ttl: str | None,
    max_tokens: int | None,
    options: dict[str, Any],
) -> JobStart:
    """The job's rows and request; the job registered in the workspace's ledger (when it has
    one) with the rows it already answered. Without `job`, its id follows from what decides the
    answers (rows, model, system, max_tokens, ttl, options), so the same call resumes."""
    inputs = build_rows(items, prompt)
    first = next((r.prompt for r in inputs.rows if r.prompt is not None), "?")
    template = workspace.request(
        first, system=system, model=model, ttl=ttl, max_tokens=max_tokens, cache_last_turn=False, **options
    )
    job = job or job_id(
        kind,
        inputs.rows,
        model=template.model,
        system=template.system,
        max_tokens=template.max_tokens,
        ttl=template.ttl,
        options=sorted(options.items()),
    )
    results: dict[str, RowResult] = {}
    ledger = workspace._ledger
    if ledger is not None:
        jobs.register(
            ledger,
            job,
            kind=kind,
            agent=workspace.agent.agent_id,
            model=template.model,
            rows=[(r.key, r.position, label_json(r.label)) for r in inputs.rows],
        )
        results.update(resumed(ledger, job, answered_only=True))
    return JobStart(inputs, template, job, results)


def resumed(ledger: Any, job: str, *, answered_only: bool) -> dict[str, RowResult]:
    """The rows of `job` an earlier run finished (only the answered ones with `answered_only`)."""
    calls = jobs.calls_by_row(ledger, job)
    out = {}
    for stored in jobs.rows(ledger, job):
        if stored.status is None or (answered_only and stored.status != "succeeded"):
            continue
        out[stored.row_key] = from_ledger(
            stored.row_key, stored.status, stored.text, stored.error, calls.get(stored.row_key)
        )
    return out
