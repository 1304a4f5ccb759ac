"""Usage-ledger speed: the DataFrame of 100,000 calls (goal: under 0.5 s) and one-by-one appends.

Prints figures; not a test. Run with `python3 dev.py bench ledger`.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from clawdbot_nb.api.ledger import Ledger, LedgerRow, build_row
from clawdbot_nb.api.pricing import compute_cost

ROWS = 100_000
APPENDS = 1_000
BUILD_GOAL_S = 0.5
MODELS = ("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-6", "claude-unknown-bench")
PROFILES = ("anthropic:default", "anthropic:work", "anthropic:manual")


def synthetic_rows(count: int, seed: int = 7) -> list[LedgerRow]:
    """Calls shaped like a cached notebook session: mostly hits, some 5m/1h writes, a few errors."""
    rng = random.Random(seed)
    start_ms = 1_790_000_000_000
    rows = []
    for i in range(count):
        model = MODELS[i % len(MODELS)]
        kind = rng.random()
        usage = {
            "input_tokens": rng.randint(5, 400),
            "output_tokens": rng.randint(1, 800),
            "cache_read_input_tokens": rng.randint(2_000, 40_000) if kind < 0.7 else 0,
            "cache_creation": {
                "ephemeral_5m_input_tokens": rng.randint(2_000, 40_000) if 0.7 <= kind < 0.85 else 0,
                "ephemeral_1h_input_tokens": rng.randint(2_000, 40_000) if kind >= 0.85 else 0,
            },
        }
        rows.append(
            build_row(
                model=model,
                usage=usage,
                cost=compute_cost(model, usage),
                agent="main",
                profile_id=PROFILES[i % len(PROFILES)],
                credential_type="api_key",
                ttl_requested="1h" if kind >= 0.85 else "5m",
                breakpoints=2,
                latency_s=rng.uniform(0.3, 9.0),
                ttft_s=rng.uniform(0.1, 1.0) if i % 2 else None,
                stop_reason="end_turn",
                request_id=f"req_{i:012d}",
                error="overloaded_error: Overloaded" if i % 500 == 0 else None,
                cell=i // 10,
                session=f"s{i // 20_000}",
                stream=bool(i % 2),
                profiles_tried=PROFILES[: 1 + i % 2],
                time_ms=start_ms + i * 1_500,
            )
        )
    return rows


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")  # the deliberately unknown model warns once
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "usage.sqlite")
        ledger.append_many(synthetic_rows(ROWS))

        ledger.dataframe()  # warm-up: imports pandas and numpy outside the timed part
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            frame = ledger.dataframe()
            timings.append(time.perf_counter() - started)
        best = min(timings)
        assert len(frame) == ROWS
        verdict = "within" if best < BUILD_GOAL_S else "OVER"
        print(
            f"dataframe: {ROWS:,} rows in {best * 1000:.0f} ms (best of 5), {ROWS / best:,.0f} rows/s; "
            f"goal {BUILD_GOAL_S * 1000:.0f} ms: {verdict} ({BUILD_GOAL_S / best:.1f}x headroom)"
        )

        started = time.perf_counter()
        ledger.summary(by="profile_id")
        print(f"summary by profile over {ROWS:,} rows: {(time.perf_counter() - started) * 1000:.0f} ms")

        extra = synthetic_rows(APPENDS, seed=11)
        started = time.perf_counter()
        for row in extra:
            ledger.append(row)
        elapsed = time.perf_counter() - started
        rate = APPENDS / elapsed
        print(f"append: {APPENDS:,} one-by-one transactions in {elapsed:.2f} s, {rate:,.0f} appends/s")
        ledger.close()


if __name__ == "__main__":
    main()
