"""Per-call overhead of `Workspace.ask` against a raw SDK call, both on the in-process simulator.

The raw call sends the very request the workspace plans (same body, same cache hits), so the
difference is what clawdbot_nb adds: validation, profile order, cache planning, failover
bookkeeping, the Reply, and queueing the ledger row and success mark. Calls alternate so drift
hits both equally; the ratio of medians is printed. Goal: at most 1.05x.

    python3 dev.py bench overhead
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

ROUNDS, CALLS, WARMUP = 5, 400, 100


def main() -> None:
    home = tempfile.mkdtemp(prefix="clawdbot-nb-bench-")
    os.environ.update(HOME=home, CLAWDBOT_STATE_DIR=os.path.join(home, "state"))
    import anthropic
    import httpx2

    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace
    from clawdbot_nb.state import onboarding
    from clawdbot_nb.state.agent import AgentState

    onboarding.save_api_key(AgentState.resolve(), sim.DEMO_API_KEY)
    simulator = sim.Simulator()
    workspace = Workspace.simulated(simulator)
    raw = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY, http_client=httpx2.Client(transport=simulator.transport())
    )
    system = "You are a careful assistant who explains prompt caching. " * 120
    reply = workspace.ask("How does the cache work?", system=system, max_tokens=64)
    params = reply.plan.params
    for _ in range(WARMUP):
        raw.messages.create(**params)
        workspace.ask("How does the cache work?", system=system, max_tokens=64)
    ratios = []
    print(f"{'round':>5} {'raw SDK ms':>11} {'ask ms':>8} {'overhead us':>12} {'ratio':>6}")
    for number in range(1, ROUNDS + 1):
        raw_times, ask_times = [], []
        for _ in range(CALLS):
            start = time.perf_counter()
            raw.messages.create(**params)
            raw_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            workspace.ask("How does the cache work?", system=system, max_tokens=64)
            ask_times.append(time.perf_counter() - start)
        raw_median, ask_median = statistics.median(raw_times), statistics.median(ask_times)
        ratios.append(ask_median / raw_median)
        print(
            f"{number:>5} {raw_median * 1e3:>11.3f} {ask_median * 1e3:>8.3f} "
            f"{(ask_median - raw_median) * 1e6:>12.1f} {ratios[-1]:>6.3f}"
        )
    ratio = statistics.median(ratios)
    print(f"median ratio over {ROUNDS} rounds of {CALLS} calls: {ratio:.3f}x (goal <= 1.05x)")
    workspace.close()


if __name__ == "__main__":
    main()
