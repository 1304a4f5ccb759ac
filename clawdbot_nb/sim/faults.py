"""Fault injection: scripted or random failures, per credential or for everyone.

- `next(status, ...)`: the next `times` matching requests fail with `status` (429, 529, 500,
  402, 401, ...), with the matching error type, `retry-after` for 429 (and when asked), and
  `x-should-retry` when `should_retry` is given;
- `rate(status, probability, ...)`: each matching request fails with that probability (seeded);
- `drop_stream(after_events=...)`: a streamed response loses its connection after that many
  SSE events (the client sees an incomplete chunked body);
- `sse_error(error_type, after_events=...)`: HTTP 200, then an SSE `error` event mid-stream.

Scripted faults are consumed before random ones, in the order they were added. A fault names
its credential by the raw secret; only the fingerprint is kept.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from clawdbot_nb.sim.api_errors import ERROR_TYPES
from clawdbot_nb.sim.credentials import fingerprint, mask_secret

__all__ = ["Fault", "FaultInjector"]

MESSAGES_PATH = "/v1/messages"


@dataclass
class Fault:
    """One injected failure rule."""

    kind: str  # "status" | "drop_stream" | "sse_error"
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    credential_fingerprint: str | None = None
    credential_masked: str | None = None
    path: str | None = MESSAGES_PATH
    times: int | None = 1
    probability: float | None = None
    after_events: int = 3
    fired: int = 0
    _rng: random.Random | None = field(default=None, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def describe(self) -> str:
        if self.kind == "status":
            return f"status {self.status}"
        if self.kind == "drop_stream":
            return f"drop_stream after {self.after_events} events"
        return f"sse_error {self.error_type} after {self.after_events} events"


class FaultInjector:
    """The simulator's fault rules; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def _add(self, fault: Fault, credential: str | None) -> Fault:
        if credential is not None:
            fault.credential_fingerprint = fingerprint(credential)
            fault.credential_masked = mask_secret(credential)
        with self._lock:
            self._faults.append(fault)
        return fault

    def next(
        self,
        status: int = 429,
        *,
        credential: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
        message: str | None = None,
        error_type: str | None = None,
        should_retry: bool | None = None,
        path: str | None = MESSAGES_PATH,
    ) -> Fault:
        """Fail the next `times` matching requests (None: every one) with `status`.

        `path=None` matches every endpoint. A 429 without `retry_after` gets `retry-after: 1`.
        """
        if status == 429 and retry_after is None:
            retry_after = 1.0
        fault = Fault(
            "status",
            status=status,
            error_type=error_type or ERROR_TYPES.get(status),
            message=message,
            retry_after=retry_after,
            should_retry=should_retry,
            path=path,
            times=times,
        )
        return self._add(fault, credential)

    def rate(
        self,
        status: int,
        probability: float,
        *,
        credential: str | None = None,
        seed: int = 0,
        retry_after: float | None = None,
        message: str | None = None,
        should_retry: bool | None = None,
        path: str | None = MESSAGES_PATH,
        times: int | None = None,
    ) -> Fault:
        """Fail each matching request with `probability` (deterministic for a given `seed`)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if status == 429 and retry_after is None:
            retry_after = 1.0
        fault = Fault(
            "status",
            status=status,
            error_type=ERROR_TYPES.get(status),
            message=message,
            retry_after=retry_after,
            should_retry=should_retry,
            path=path,
            times=times,
            probability=probability,
            _rng=random.Random(seed),
        )
        return self._add(fault, credential)

    def drop_stream(
        self, *, after_events: int = 3, credential: str | None = None, times: int | None = 1
    ) -> Fault:
        """Cut the connection of the next streamed response after `after_events` SSE events."""
        return self._add(Fault("drop_stream", after_events=after_events, times=times), credential)

    def sse_error(
        self,
        error_type: str = "overloaded_error",
        *,
        message: str | None = None,
        after_events: int = 3,
        credential: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Send HTTP 200, `after_events` events, then an SSE `error` event and end the stream."""
        fault = Fault(
            "sse_error",
            error_type=error_type,
            message=message
            or ("Overloaded" if error_type == "overloaded_error" else "Internal server error"),
            after_events=after_events,
            times=times,
        )
        return self._add(fault, credential)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Rules that can still fire."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def _take(self, kinds: tuple[str, ...], path: str, credential_fp: str | None) -> Fault | None:
        with self._lock:
            for scripted in (True, False):
                for fault in self._faults:
                    if fault.kind not in kinds or fault.exhausted or (fault.probability is None) != scripted:
                        continue
                    if fault.path is not None and fault.path != path:
                        continue
                    if (
                        fault.credential_fingerprint is not None
                        and fault.credential_fingerprint != credential_fp
                    ):
                        continue
                    if fault._rng is not None and fault._rng.random() >= (fault.probability or 0.0):
                        continue
                    fault.fired += 1
                    return fault
            # Exhausted rules are dropped so a long test does not scan an ever-growing list.
            if len(self._faults) > 64:
                self._faults = [f for f in self._faults if not f.exhausted]
        return None

    def take_status(self, path: str, credential_fp: str | None) -> Fault | None:
        """The HTTP-status fault for this request, if one fires."""
        if not self._faults:
            return None
        return self._take(("status",), path, credential_fp)

    def take_stream(self, credential_fp: str | None) -> Fault | None:
        """The mid-stream fault for a streamed response, if one fires."""
        if not self._faults:
            return None
        return self._take(("drop_stream", "sse_error"), MESSAGES_PATH, credential_fp)
