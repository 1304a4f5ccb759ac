"""The simulator's request log, for assertions: one record per request, secrets masked.

A record names its credential by masked form and fingerprint, never the raw secret; filter
with `secret=` to match a credential you hold (it is fingerprinted for the comparison).

The log is a ring: it keeps the newest `limit` records (`DEFAULT_LIMIT` unless the simulator
says otherwise; `None` keeps everything) and counts the ones it dropped, so a long-running
`clawdbot-nb sim serve` holds a bounded amount of memory (bench/bench_sim_soak.py measures it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from clawdbot_nb.sim.credentials import fingerprint

__all__ = ["DEFAULT_LIMIT", "OAUTH_TOKEN_PATH", "RequestLog", "RequestRecord"]

OAUTH_TOKEN_PATH = "/v1/oauth/token"
#: Records kept by default: far more than any test sends, about 10 MB at the most.
DEFAULT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    time: float  # virtual unix seconds when the request arrived
    method: str
    path: str
    status: int
    stream: bool = False
    credential: str | None = None  # masked
    credential_fingerprint: str | None = None
    credential_kind: str | None = None  # api_key | setup_token | oauth | refresh_token
    organization: str | None = None
    workspace: str | None = None
    model: str | None = None
    usage: dict | None = None
    error_type: str | None = None
    error_message: str | None = None
    fault: str | None = None
    message_id: str | None = None
    batch_id: str | None = None
    grant_type: str | None = None
    api_version: str | None = None


_FIELDS = frozenset(f.name for f in fields(RequestRecord))


class RequestLog:
    """Append-only ring of the newest `limit` records, thread-safe; iterate or index it like a
    list of `RequestRecord` (oldest first)."""

    def __init__(self, limit: int | None = DEFAULT_LIMIT) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"request log limit must be at least 1 (or None for no limit), not {limit}")
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._dropped = 0

    @property
    def limit(self) -> int | None:
        """How many records the ring keeps (None: all)."""
        return self._records.maxlen

    @property
    def dropped(self) -> int:
        """Records pushed out of the ring since it was made (or cleared)."""
        with self._lock:
            return self._dropped

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            if self._records.maxlen is not None and len(self._records) == self._records.maxlen:
                self._dropped += 1
            self._records.append(record)

    def _snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self._snapshot())

    def __getitem__(self, index: int) -> RequestRecord:
        with self._lock:
            return self._records[index]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._dropped = 0

    def filter(self, *, secret: str | None = None, **criteria: Any) -> list[RequestRecord]:
        """Records whose fields equal every criterion; `secret=` matches a raw credential."""
        unknown = set(criteria) - _FIELDS
        if unknown:
            raise TypeError(f"unknown RequestRecord field(s): {', '.join(sorted(unknown))}")
        wanted_fp = fingerprint(secret) if secret is not None else None
        return [
            record
            for record in self._snapshot()
            if (wanted_fp is None or record.credential_fingerprint == wanted_fp)
            and all(getattr(record, name) == value for name, value in criteria.items())
        ]

    def count(self, *, secret: str | None = None, **criteria: Any) -> int:
        return len(self.filter(secret=secret, **criteria))

    def last(self, *, secret: str | None = None, **criteria: Any) -> RequestRecord | None:
        matches = self.filter(secret=secret, **criteria)
        return matches[-1] if matches else None

    def messages(self, **criteria: Any) -> list[RequestRecord]:
        """`POST /v1/messages` records."""
        return self.filter(method="POST", path="/v1/messages", **criteria)

    def oauth_token_calls(self, **criteria: Any) -> list[RequestRecord]:
        """Every `POST /v1/oauth/token` record (any grant, any outcome)."""
        return self.filter(method="POST", path=OAUTH_TOKEN_PATH, **criteria)

    def oauth_refreshes(self, **criteria: Any) -> int:
        """How many refresh_token grants reached the token endpoint (`status=200` for successes)."""
        return len(self.oauth_token_calls(grant_type="refresh_token", **criteria))
