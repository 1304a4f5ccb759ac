"""The `usage` object of a response, from the cache outcome and the reply (reference §4.1).

`cache_read_input_tokens = A`, `ephemeral_1h = B - A`, `ephemeral_5m = C - B`,
`cache_creation_input_tokens = C - A`, `input_tokens = T - C` (or `T` when nothing was read
or written). The cache fields, `cache_creation`, `service_tier` and `inference_geo` are always
present, as on the real API.
"""

from __future__ import annotations

from clawdbot_nb.sim.cache import CacheOutcome

__all__ = ["build_usage", "delta_usage", "start_usage"]


def build_usage(
    outcome: CacheOutcome,
    output_tokens: int,
    *,
    service_tier: str = "standard",
    inference_geo: str = "global",
    thinking_tokens: int = 0,
    speed: str | None = None,
) -> dict:
    usage: dict = {
        "input_tokens": outcome.input_tokens,
        "cache_creation_input_tokens": outcome.creation,
        "cache_read_input_tokens": outcome.read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": outcome.write_5m,
            "ephemeral_1h_input_tokens": outcome.write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": service_tier,
        "inference_geo": inference_geo,
    }
    if thinking_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
    if speed is not None:
        usage["speed"] = speed
    return usage


def start_usage(usage: dict) -> dict:
    """`message_start` usage: every input and cache field, and a first output token."""
    start = dict(usage)
    start.pop("output_tokens_details", None)
    start["output_tokens"] = min(1, usage["output_tokens"])
    return start


def delta_usage(usage: dict) -> dict:
    """`message_delta` usage: cumulative totals, cache fields repeated (reference §4.2)."""
    delta = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    if "output_tokens_details" in usage:
        delta["output_tokens_details"] = usage["output_tokens_details"]
    return delta
