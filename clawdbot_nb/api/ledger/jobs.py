"""Map and batch jobs in the ledger: a job's rows (position, index label, outcome, reply text)
and the Message Batches it submitted, so a job survives an interrupt or a kernel restart.

A row is answered once its status is `succeeded`; its usage and cost are the job's call row for
it in `calls` (the call the engine recorded, with `job` and `row_key`). A reply's text is kept
here only (the `calls` rows hold no text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.api.ledger.rows import LedgerRow, now_ms, one_line_error
from clawdbot_nb.api.ledger.store import Ledger

#: The outcomes of a row: a map's rows end `succeeded` or `errored`; a batch's also `canceled`
#: or `expired`. Only `succeeded` rows are skipped when the job runs again.
ROW_STATUSES = ("succeeded", "errored", "canceled", "expired")


@dataclass(frozen=True)
class StoredRow:
    row_key: str
    position: int
    label: str | None  # JSON (`job_inputs.label_json`)
    status: str | None  # None: not answered yet
    text: str | None
    error: str | None


@dataclass(frozen=True)
class StoredBatch:
    batch_id: str
    job: str
    profile_id: str | None
    created_ms: int
    row_keys: tuple[str, ...]
    collected: bool


@dataclass(frozen=True)
class StoredJob:
    id: str
    kind: str
    agent: str | None
    model: str | None
    created_ms: int
    rows: int


def register(
    ledger: Ledger,
    job: str,
    *,
    kind: str,
    agent: str | None,
    model: str | None,
    rows: Sequence[tuple[str, int, str]],
) -> None:
    """Record a job and its rows (key, position, label JSON); rows already known are kept."""
    statements: list[tuple[str, Sequence[Any]]] = [
        (
            "INSERT OR IGNORE INTO jobs (id, kind, agent, model, created_ms, rows) VALUES (?, ?, ?, ?, ?, ?)",
            (job, kind, agent, model, now_ms(), len(rows)),
        )
    ]
    statements += [
        (
            "INSERT OR IGNORE INTO job_rows (job, row_key, position, label) VALUES (?, ?, ?, ?)",
            (job, key, position, label),
        )
        for key, position, label in rows
    ]
    ledger.execute(statements)


def finish_rows(
    ledger: Ledger, job: str, outcomes: Sequence[tuple[str, str, str | None, str | None]]
) -> None:
    """Set rows' (key, status, text, error); an answered row is never set back to failed."""
    ledger.execute(
        [
            (
                "UPDATE job_rows SET status = ?, text = ?, error = ? "
                "WHERE job = ? AND row_key = ? AND (status IS NULL OR status != 'succeeded')",
                (status, text, None if error is None else one_line_error(error), job, key),
            )
            for key, status, text, error in outcomes
        ]
    )


def job(ledger: Ledger, job_id: str) -> StoredJob | None:
    (records,), _ = ledger.read(
        [("SELECT id, kind, agent, model, created_ms, rows FROM jobs WHERE id = ?", (job_id,))]
    )
    return StoredJob(*records[0]) if records else None


def rows(ledger: Ledger, job_id: str) -> list[StoredRow]:
    """The job's rows in input order."""
    (records,), _ = ledger.read(
        [
            (
                "SELECT row_key, position, label, status, text, error FROM job_rows WHERE job = ? "
                "ORDER BY position",
                (job_id,),
            )
        ]
    )
    return [StoredRow(*record) for record in records]


def calls_by_row(ledger: Ledger, job_id: str) -> dict[str, LedgerRow]:
    """Each row's call: the latest that succeeded, else the latest that failed."""
    chosen: dict[str, LedgerRow] = {}
    for row in ledger.rows(job=job_id):
        if row.row_key is None:
            continue
        previous = chosen.get(row.row_key)
        if previous is None or row.error is None or previous.error is not None:
            chosen[row.row_key] = row
    return chosen


def record_batch(
    ledger: Ledger, batch_id: str, job_id: str, profile_id: str | None, keys: Sequence[str]
) -> None:
    ledger.execute(
        [
            (
                "INSERT INTO job_batches (batch_id, job, profile_id, created_ms, row_keys) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch_id, job_id, profile_id, now_ms(), json.dumps(list(keys))),
            )
        ]
    )


def batches(ledger: Ledger, job_id: str) -> list[StoredBatch]:
    (records,), _ = ledger.read(
        [
            (
                "SELECT batch_id, job, profile_id, created_ms, row_keys, collected FROM job_batches "
                "WHERE job = ? ORDER BY created_ms, rowid",
                (job_id,),
            )
        ]
    )
    return [
        StoredBatch(batch_id, owner, profile, created, tuple(json.loads(keys)), bool(collected))
        for batch_id, owner, profile, created, keys, collected in records
    ]


def mark_collected(ledger: Ledger, batch_id: str) -> None:
    ledger.execute([("UPDATE job_batches SET collected = 1 WHERE batch_id = ?", (batch_id,))])
