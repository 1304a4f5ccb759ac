"""Simulator throughput through the official SDK: in-process and over loopback, with threads.

Prints requests per second for small `messages.create` calls and, as the anchor, the ceiling of
the SDK itself (a raw `httpx2.MockTransport` returning a canned message), with each figure's
ratio to that ceiling. Goal: at least 1,000 small requests/s in-process. Not a test: nothing
here asserts on time.

    .venv/bin/python bench/bench_sim.py [--requests 3000] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable

import anthropic
import httpx2

from clawdbot_nb import sim

MODEL = "claude-haiku-4-5"
PARAMS = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "Reply with OK."}]}

_CANNED = json.dumps(
    {
        "id": "msg_canned",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "OK"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
).encode()


def _canned(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200, content=_CANNED, headers={"content-type": "application/json", "request-id": "req_x"}
    )


def _run(make_client: Callable[[], anthropic.Anthropic], total: int, threads: int) -> float:
    """Requests per second for `total` calls spread over `threads` threads, one client each."""
    clients = [make_client() for _ in range(threads)]
    for client in clients:  # warm up connections and the SDK's lazy imports
        for _ in range(20):
            client.messages.create(**PARAMS)
    share = total // threads
    barrier = threading.Barrier(threads + 1)

    def work(client: anthropic.Anthropic) -> None:
        barrier.wait()
        for _ in range(share):
            client.messages.create(**PARAMS)

    workers = [threading.Thread(target=work, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return share * threads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement (default 3000)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients for the threaded runs")
    args = parser.parse_args()

    def mock_client() -> anthropic.Anthropic:
        http = httpx2.Client(transport=httpx2.MockTransport(_canned))
        return anthropic.Anthropic(
            api_key="sk-bench", base_url="http://localhost", http_client=http, max_retries=0
        )

    simulator = sim.Simulator()

    def inprocess_client() -> anthropic.Anthropic:
        http = httpx2.Client(transport=simulator.transport())
        return anthropic.Anthropic(
            api_key=sim.DEMO_API_KEY, base_url="http://localhost", http_client=http, max_retries=0
        )

    results: list[tuple[str, float]] = []
    ceiling = _run(mock_client, args.requests, 1)
    results.append(("SDK ceiling: raw MockTransport, 1 thread", ceiling))
    results.append(("in-process simulator, 1 thread", _run(inprocess_client, args.requests, 1)))
    results.append(
        (f"in-process simulator, {args.threads} threads", _run(inprocess_client, args.requests, args.threads))
    )
    with sim.serve(simulator) as server:

        def loopback_client() -> anthropic.Anthropic:
            return anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url=server.base_url, max_retries=0)

        results.append(("loopback HTTP server, 1 thread", _run(loopback_client, args.requests // 2, 1)))
        results.append(
            (
                f"loopback HTTP server, {args.threads} threads",
                _run(loopback_client, args.requests // 2, args.threads),
            )
        )

    print(f"{'measurement':<44} {'req/s':>9} {'x ceiling':>10}")
    for name, rate in results:
        print(f"{name:<44} {rate:>9.0f} {rate / ceiling:>10.2f}")
    print(f"simulator requests served: {len(simulator.requests)}")


if __name__ == "__main__":
    main()
