"""The prompt-cache rules the client relies on, in one place (the simulator keeps its own copy,
so it can disagree with us): TTL lifetimes, the breakpoint limit, the lookback window, and
when an entry is still alive.

Documented rule (anthropic-api.md §2–§3): an entry written or last read at `t` is found by a
request at `now` only while `now < t + ttl`; at exactly `t + ttl` it is gone.
"""

from __future__ import annotations

#: Lifetime of a cache entry after its last write or hit, per TTL.
TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
TTLS = tuple(TTL_SECONDS)
DEFAULT_TTL = "5m"
#: Blocks that may carry `cache_control` in one request (an automatic breakpoint uses one).
MAX_BREAKPOINTS = 4
#: How many block positions a read walks back from a breakpoint, the breakpoint included.
LOOKBACK_BLOCKS = 20


def entry_alive(age_s: float, ttl: str) -> bool:
    """Whether an entry last written or read `age_s` seconds ago is still found at `ttl`."""
    return age_s < TTL_SECONDS[ttl]
