"""`Workspace.map` against what a user writes without it, on the simulator with its latency model.

1. Throughput: map against a plain thread pool of SDK calls at the same concurrency, the same
   rows and the same cached prefix (fresh simulator each, so both start cold). Goal: >= 0.95x.
2. Cost of 200 rows over a 5k, 20k and 100k-token prefix, as a ratio to the ideal of one cache
   write and 199 reads (priced from the simulator's own usage): the warmed map (goal: within 1%)
   against naive parallel — 8 workers, and all 200 at once.

Latency is the simulator's model scaled down (`SCALE`), so a run takes seconds; ratios are what
count. `python3 dev.py bench map`
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

SCALE = 0.1  # the latency model at a tenth of the API's speed-of-light numbers
CONCURRENCY = 8
THROUGHPUT_ROWS = 160
COST_ROWS = 200
PREFIXES = (5_000, 20_000, 100_000)
MODEL = "claude-sonnet-5-5"


def prefix_of(tokens: int) -> str:
    """A system prompt of about `tokens` tokens on MODEL, as the server (the simulator) counts."""
    from clawdbot_nb.sim import model_facts
    from clawdbot_nb.sim.bpe import count_text

    unit = "Sort each ticket into billing, bug, question, account or shipping; answer in one word. "
    # What one more repetition adds (joined, a unit's edges merge differently than alone).
    per_unit = (count_text(unit * 2) - count_text(unit)) * model_facts.lookup(MODEL).tokenizer_factor
    return unit * max(1, round(tokens / per_unit))


def rows(n: int) -> list[str]:
    return [f"Ticket {i}: I was charged twice for order {10_000 + i}." for i in range(n)]


def new_simulator():
    from clawdbot_nb import sim

    return sim.Simulator(latency=sim.LatencyModel(scale=SCALE))


def thread_pool(simulator, system: str, prompts: list[str], workers: int) -> list:
    """What a user writes: the SDK, a thread pool, cache_control on the shared prefix."""
    import anthropic
    import httpx2

    from clawdbot_nb import sim

    client = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY,
        http_client=httpx2.Client(transport=simulator.transport(), limits=httpx2.Limits(max_connections=400)),
    )
    blocks = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]

    def one(prompt: str):
        return client.messages.create(
            model=MODEL, max_tokens=256, system=blocks, messages=[{"role": "user", "content": prompt}]
        )

    with ThreadPoolExecutor(workers) as pool:
        replies = list(pool.map(one, prompts))
    client.close()
    return [reply.usage for reply in replies]


def with_map(simulator, system: str, prompts: list[str], workers: int):
    from clawdbot_nb.api.workspace import Workspace

    with Workspace.simulated(simulator) as workspace:
        frame = workspace.map(
            prompts, system=system, model=MODEL, max_tokens=256, concurrency=workers, progress=False
        )
    assert (frame["status"] == "succeeded").all()
    return frame


def ideal_cost(prefix: int, usages: list) -> float:
    """One write of the prefix and a read of it for every other row, plus each row's own tokens."""
    from clawdbot_nb.api.pricing import UsageCounts, compute_cost, usage_counts

    total = 0.0
    for n, usage in enumerate(usages):
        counts = usage_counts(usage)
        own = counts.prompt_tokens - prefix
        total += compute_cost(
            MODEL,
            UsageCounts(own, counts.output_tokens, 0 if n == 0 else prefix, prefix if n == 0 else 0, 0),
        ).cost_usd
    return total


def costs_of(usages: list) -> float:
    from clawdbot_nb.api.pricing import compute_cost

    return sum(compute_cost(MODEL, usage).cost_usd for usage in usages)


def main() -> None:
    home = tempfile.mkdtemp(prefix="clawdbot-nb-bench-")
    os.environ.update(HOME=home, CLAWDBOT_STATE_DIR=os.path.join(home, "state"))
    from clawdbot_nb.api.pricing import UsageCounts

    system = prefix_of(5_000)
    prompts = rows(THROUGHPUT_ROWS)
    with_map(new_simulator(), prefix_of(600), rows(8), 4)  # imports and first connections
    print(f"Throughput: {THROUGHPUT_ROWS} rows, {CONCURRENCY} at once, 5k-token prefix, latency x{SCALE}")
    print(f"{'':28} {'rows/s':>8} {'ratio':>6}")
    timings = {}
    for name, run in (("thread pool of SDK calls", thread_pool), ("Workspace.map", with_map)):
        start = time.perf_counter()
        run(new_simulator(), system, prompts, CONCURRENCY)
        timings[name] = THROUGHPUT_ROWS / (time.perf_counter() - start)
    base = timings["thread pool of SDK calls"]
    for name, rate in timings.items():
        print(f"{name:28} {rate:>8.1f} {rate / base:>5.2f}x")
    print("goal: Workspace.map >= 0.95x")
    print()
    print(f"Cost of {COST_ROWS} rows, as a ratio to 1 write + {COST_ROWS - 1} reads of the prefix")
    print(
        f"{'prefix':>8} {'ideal $':>9} {'warmed map':>11} {'naive 8 workers':>16} {'naive all at once':>18}"
    )
    prompts = rows(COST_ROWS)
    for tokens in PREFIXES:
        system = prefix_of(tokens)
        frame = with_map(new_simulator(), system, prompts, CONCURRENCY)
        usages = [
            UsageCounts(r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_5m_tokens, 0)
            for r in frame.itertuples()
        ]
        prefix = int(frame["cache_write_5m_tokens"].max())
        ideal = ideal_cost(prefix, usages)
        warmed = costs_of(usages) / ideal
        naive_8 = costs_of(thread_pool(new_simulator(), system, prompts, CONCURRENCY)) / ideal
        naive_all = costs_of(thread_pool(new_simulator(), system, prompts, COST_ROWS)) / ideal
        print(f"{tokens // 1000:>7}k {ideal:>9.4f} {warmed:>10.4f}x {naive_8:>15.2f}x {naive_all:>17.2f}x")
    print("goal: warmed map within 1% of the ideal (<= 1.01x)")


if __name__ == "__main__":
    main()
