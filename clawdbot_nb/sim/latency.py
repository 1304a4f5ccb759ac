"""An optional latency model: uncached input costs time, cached input far less, output streams.

Off by default (tests stay fast). With it on, the simulator really sleeps, scaled by `scale`,
so a cache hit is also faster, as on the real API. Defaults are tuned to the cookbook numbers
(reference §10): about 19 s for a 187K-token uncached prompt, about 2 s when it is cached,
then ~80 output tokens per second.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LatencyModel"]


@dataclass(frozen=True)
class LatencyModel:
    scale: float = 1.0
    base_seconds: float = 0.25
    uncached_tokens_per_second: float = 10_000.0
    cached_tokens_per_second: float = 100_000.0
    output_tokens_per_second: float = 80.0

    def time_to_first_token(self, usage: dict) -> float:
        """Seconds before the response begins: fixed overhead plus prompt processing."""
        uncached = usage.get("input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
        cached = usage.get("cache_read_input_tokens", 0)
        seconds = (
            self.base_seconds
            + uncached / self.uncached_tokens_per_second
            + cached / self.cached_tokens_per_second
        )
        return seconds * self.scale

    def output_seconds(self, tokens: int) -> float:
        """Seconds to generate `tokens` output tokens."""
        return tokens / self.output_tokens_per_second * self.scale
