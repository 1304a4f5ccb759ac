"""Simulator memory over a long run: 20,000 requests through the SDK (in-process), heap measured
with tracemalloc.

Two runs: the request log unbounded (what every request used to cost: the growth per request is
the log record) and the default ring (`RequestLog.DEFAULT_LIMIT`, 10,000): once the ring is
full, the heap should stop growing. Prints heap growth per request over the whole run and over
its second half, and the records kept. Not a test: the soak test in tests/sim/test_log.py only
checks the bound on the number of records.

    .venv/bin/python bench/bench_sim_soak.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import anthropic
import httpx2

from clawdbot_nb import sim
from clawdbot_nb.sim.request_log import DEFAULT_LIMIT

PARAMS = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 8,
    "messages": [{"role": "user", "content": "Reply with OK."}],
}


def _heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def soak(requests: int, log_size: int | None) -> dict[str, float]:
    simulator = sim.Simulator(request_log_size=log_size)
    client = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY,
        base_url="http://localhost",
        http_client=httpx2.Client(transport=simulator.transport()),
        max_retries=0,
    )
    for _ in range(200):  # warm up: connection, SDK lazy imports, the vocabulary, caches
        client.messages.create(**PARAMS)
    simulator.requests.clear()
    tracemalloc.start()
    start = _heap()
    started = time.perf_counter()
    half = requests // 2
    middle = start
    for index in range(requests):
        if index == half:
            middle = _heap()
        client.messages.create(**PARAMS)
    end = _heap()
    elapsed = time.perf_counter() - started
    tracemalloc.stop()
    client.close()
    return {
        "per_request": (end - start) / requests,
        "per_request_second_half": (end - middle) / (requests - half),
        "kept": len(simulator.requests),
        "dropped": simulator.requests.dropped,
        "growth_mb": (end - start) / 1e6,
        "rate": requests / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per run (default 20000)")
    args = parser.parse_args()
    print(f"Simulator heap over {args.requests:,} SDK requests (in-process, tracemalloc)")
    header = (
        f"{'request log':<26} {'kept':>7} {'dropped':>8} {'heap +MB':>9} {'B/request':>10} {'2nd half':>9}"
    )
    print(header)
    runs = [("unbounded (before)", None), (f"ring of {DEFAULT_LIMIT:,} (default)", DEFAULT_LIMIT)]
    results = {}
    for label, size in runs:
        result = soak(args.requests, size)
        results[label] = result
        print(
            f"{label:<26} {result['kept']:>7,} {result['dropped']:>8,} {result['growth_mb']:>9.2f} "
            f"{result['per_request']:>10.0f} {result['per_request_second_half']:>9.0f}"
        )
    unbounded = results[runs[0][0]]
    print(
        f"A log record costs about {unbounded['per_request']:.0f} bytes; the default ring holds at most "
        f"{DEFAULT_LIMIT:,} of them, about {unbounded['per_request'] * DEFAULT_LIMIT / 1e6:.1f} MB."
    )


if __name__ == "__main__":
    main()
