"""Message Batches on the virtual clock: create, retrieve, list, cancel, delete, JSONL results.

A batch is `in_progress` until `processing_seconds` of virtual time have passed (0 by default:
ended at the next look), then every request runs through the normal Messages pipeline with
`usage.service_tier: "batch"` (priced at the batch discount), caching best-effort. Invalid
params, `stream`, and `max_tokens: 0` become `errored` results, as per-request validation is
asynchronous on the real API. A cancel before processing turns every request `canceled`; a
batch still unprocessed 24 hours after creation expires. Results come back in an order unrelated
to the request order (match on `custom_id`). Batches are visible only inside their workspace.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from clawdbot_nb.sim.api_errors import ApiError, invalid_request
from clawdbot_nb.sim.credentials import Principal
from clawdbot_nb.sim.ratelimits import rfc3339

__all__ = ["BATCH_LIFETIME", "BatchStore"]

BATCH_LIFETIME = 24 * 3600.0
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000

#: Runs one request of a batch: (principal, params, custom_id, api_version) → a `result` object.
Processor = Callable[[Principal, dict, str, str], dict]


@dataclass
class _Batch:
    id: str
    scope: tuple
    principal: Principal
    created_at: float
    due_at: float
    requests: list[tuple[str, dict]]
    results_base: str
    api_version: str
    sequence: int = 0
    processing_status: str = "in_progress"
    ended_at: float | None = None
    cancel_initiated_at: float | None = None
    results: list[dict] | None = None

    @property
    def expires_at(self) -> float:
        return self.created_at + BATCH_LIFETIME


class BatchStore:
    """Every batch of the simulator; thread-safe."""

    def __init__(self, process: Processor, *, processing_seconds: float = 0.0) -> None:
        self._process = process
        self.processing_seconds = processing_seconds
        self._lock = threading.RLock()
        self._batches: dict[str, _Batch] = {}
        self._created = itertools.count()

    # -- state machine ------------------------------------------------------------------------

    def _advance(self, batch: _Batch, now: float) -> None:
        if batch.processing_status == "ended":
            return
        if batch.processing_status == "canceling":
            batch.results = [{"custom_id": cid, "result": {"type": "canceled"}} for cid, _ in batch.requests]
        elif now >= batch.expires_at and batch.due_at >= batch.expires_at:
            batch.results = [{"custom_id": cid, "result": {"type": "expired"}} for cid, _ in batch.requests]
        elif now >= batch.due_at:
            batch.results = [
                {"custom_id": cid, "result": self._process(batch.principal, params, cid, batch.api_version)}
                for cid, params in batch.requests
            ]
        else:
            return
        # Results are not in request order on the real API; a stable shuffle keeps tests honest.
        batch.results.sort(
            key=lambda item: hashlib.blake2b(item["custom_id"].encode(), digest_size=8).digest()
        )
        batch.processing_status = "ended"
        batch.ended_at = now

    def _object(self, batch: _Batch) -> dict:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.results is None:
            counts["processing"] = len(batch.requests)
        else:
            for item in batch.results:
                counts[item["result"]["type"]] += 1
        ended = batch.processing_status == "ended"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.processing_status,
            "request_counts": counts,
            "created_at": rfc3339(batch.created_at),
            "expires_at": rfc3339(batch.expires_at),
            "ended_at": rfc3339(batch.ended_at) if batch.ended_at is not None else None,
            "cancel_initiated_at": rfc3339(batch.cancel_initiated_at) if batch.cancel_initiated_at else None,
            "archived_at": None,
            "results_url": f"{batch.results_base}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _get(self, principal: Principal, batch_id: str, now: float) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None or batch.scope != principal.scope:
            raise ApiError(404, f"message_batch_id: {batch_id} not found")
        self._advance(batch, now)
        return batch

    # -- endpoints ----------------------------------------------------------------------------

    def create(
        self, principal: Principal, body: dict, *, now: float, base_url: str, api_version: str
    ) -> dict:
        requests = body.get("requests")
        if requests is None:
            raise invalid_request("requests: Field required")
        if not isinstance(requests, list):
            raise invalid_request("requests: Input should be a valid list")
        if not requests:
            raise invalid_request("requests: List should have at least 1 item after validation, not 0")
        if len(requests) > MAX_REQUESTS:
            raise invalid_request(f"requests: List should have at most {MAX_REQUESTS} items after validation")
        seen: set[str] = set()
        entries: list[tuple[str, dict]] = []
        for index, item in enumerate(requests):
            if not isinstance(item, dict):
                raise invalid_request(f"requests.{index}: Input should be a valid dictionary or object")
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str):
                raise invalid_request(f"requests.{index}.custom_id: Field required")
            if not _CUSTOM_ID.match(custom_id):
                raise invalid_request(
                    f"requests.{index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )
            if custom_id in seen:
                raise invalid_request(f"requests.{index}.custom_id: custom_id must be unique within a batch")
            seen.add(custom_id)
            params = item.get("params")
            if not isinstance(params, dict):
                raise invalid_request(f"requests.{index}.params: Field required")
            # A deep copy through JSON: later edits by the caller must not change the batch.
            entries.append((custom_id, json.loads(json.dumps(params))))
        batch = _Batch(
            id="msgbatch_01" + secrets.token_hex(11),
            scope=principal.scope,
            principal=principal,
            created_at=now,
            due_at=now + self.processing_seconds,
            requests=entries,
            results_base=base_url.rstrip("/"),
            api_version=api_version,
            sequence=next(self._created),
        )
        with self._lock:
            self._batches[batch.id] = batch
            return self._object(batch)

    def retrieve(self, principal: Principal, batch_id: str, *, now: float) -> dict:
        with self._lock:
            return self._object(self._get(principal, batch_id, now))

    def list_page(
        self,
        principal: Principal,
        *,
        now: float,
        limit: int = 20,
        after_id: str | None = None,
        before_id: str | None = None,
    ) -> dict:
        if not 1 <= limit <= 1000:
            raise invalid_request("limit: Input should be between 1 and 1000")
        with self._lock:
            mine = [b for b in self._batches.values() if b.scope == principal.scope]
            # Newest first; the sequence orders batches created at the same (frozen) instant.
            mine.sort(key=lambda b: (b.created_at, b.sequence), reverse=True)
            for batch in mine:
                self._advance(batch, now)
            ids = [b.id for b in mine]
            start, stop = 0, len(mine)
            if after_id is not None:
                start = ids.index(after_id) + 1 if after_id in ids else len(mine)
            if before_id is not None:
                stop = ids.index(before_id) if before_id in ids else 0
                start = max(start, stop - limit)
            page = mine[start : min(stop, start + limit)]
            data = [self._object(b) for b in page]
            has_more = start > 0 if before_id is not None else start + len(page) < stop
        return {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def cancel(self, principal: Principal, batch_id: str, *, now: float) -> dict:
        with self._lock:
            batch = self._get(principal, batch_id, now)
            if batch.processing_status == "in_progress":
                batch.processing_status = "canceling"
                batch.cancel_initiated_at = now
            return self._object(batch)

    def delete(self, principal: Principal, batch_id: str, *, now: float) -> dict:
        with self._lock:
            batch = self._get(principal, batch_id, now)
            if batch.processing_status != "ended":
                raise invalid_request(
                    f"Batch {batch_id} cannot be deleted while it is processing; cancel it first."
                )
            del self._batches[batch_id]
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, principal: Principal, batch_id: str, *, now: float) -> bytes:
        with self._lock:
            batch = self._get(principal, batch_id, now)
            if batch.results is None:
                raise invalid_request(
                    f"Batch {batch_id} has not finished processing; results are not available yet."
                )
            lines = [json.dumps(item, separators=(",", ":")) for item in batch.results]
        return ("\n".join(lines) + "\n").encode()
