"""The `anthropic-ratelimit-*` headers: per-credential usage in the current virtual minute.

Reported on every Messages response, never enforced (429s come from fault injection).
Cache reads are not counted against input tokens ("not deducted against your rate limit",
reference §3.3); token `remaining` values are rounded to the nearest thousand (§5.3).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["RateLimits"]


def rfc3339(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Window:
    start: float
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class RateLimits:
    def __init__(
        self,
        *,
        requests_per_minute: int = 4_000,
        input_tokens_per_minute: int = 2_000_000,
        output_tokens_per_minute: int = 400_000,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.input_tokens_per_minute = input_tokens_per_minute
        self.output_tokens_per_minute = output_tokens_per_minute
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def _window(self, credential: str, now: float) -> _Window:
        window = self._windows.get(credential)
        if window is None or now >= window.start + 60:
            window = _Window(start=now - (now % 60))
            self._windows[credential] = window
        return window

    def record(self, credential: str, now: float, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        with self._lock:
            window = self._window(credential, now)
            window.requests += 1
            window.input_tokens += input_tokens
            window.output_tokens += output_tokens

    def headers(self, credential: str, now: float, *, exhausted: bool = False) -> dict[str, str]:
        with self._lock:
            window = self._window(credential, now)
            requests, inputs, outputs = window.requests, window.input_tokens, window.output_tokens
            reset = rfc3339(window.start + 60)

        def rounded(value: int) -> int:
            return max(0, round(value / 1000.0) * 1000)

        limits = {
            "requests": (
                self.requests_per_minute,
                0 if exhausted else max(0, self.requests_per_minute - requests),
            ),
            "input-tokens": (
                self.input_tokens_per_minute,
                0 if exhausted else rounded(self.input_tokens_per_minute - inputs),
            ),
            "output-tokens": (
                self.output_tokens_per_minute,
                0 if exhausted else rounded(self.output_tokens_per_minute - outputs),
            ),
        }
        tokens_limit = self.input_tokens_per_minute + self.output_tokens_per_minute
        limits["tokens"] = (tokens_limit, 0 if exhausted else rounded(tokens_limit - inputs - outputs))
        headers: dict[str, str] = {}
        for name, (limit, remaining) in limits.items():
            headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{name}-reset"] = reset
        return headers
