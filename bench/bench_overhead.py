"""Per-call overhead of `Workspace.ask` / `Workspace.stream` against raw SDK calls, both on the
in-process simulator, with the bookkeeping durable before each call returns (the ledger row
committed, success marks applied); and the first call of a fresh process, split into imports,
setup and the exchange.

The raw call sends the very request the workspace plans (same body, same cache_control, same
cache hits), so the difference is what clawdbot_nb adds. Calls alternate so drift hits both
equally; ratios are of medians. Goal: at most 1.05x. A profile of our own code follows (median
microseconds per phase, measured by running the phases one by one).

    python3 dev.py bench overhead
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROUNDS, CALLS, WARMUP = 5, 300, 100
PROMPT = "How does the cache work?"


def _setup():
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
    workspace = Workspace.simulated(simulator, agent="main")
    raw = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY, http_client=httpx2.Client(transport=simulator.transport())
    )
    return workspace, raw


SYSTEM = "You are a careful assistant who explains prompt caching. " * 120


def _raw_stream(raw, params):
    with raw.messages.stream(**params) as stream:
        for _ in stream.text_stream:
            pass
        stream.get_final_message()


def _ours_stream(workspace):
    stream = workspace.stream(PROMPT, system=SYSTEM, max_tokens=64)
    for _ in stream:
        pass


def _compare(label: str, raw_call, our_call) -> tuple[float, float]:
    for _ in range(WARMUP):
        raw_call()
        our_call()
    ratios, overheads = [], []
    print(f"\n{label}\n{'round':>5} {'raw SDK ms':>11} {'ours ms':>8} {'ours - raw us':>14} {'ratio':>6}")
    for number in range(1, ROUNDS + 1):
        raw_times, our_times = [], []
        for _ in range(CALLS):
            start = time.perf_counter()
            raw_call()
            raw_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            our_call()
            our_times.append(time.perf_counter() - start)
        raw_median, our_median = statistics.median(raw_times), statistics.median(our_times)
        ratios.append(our_median / raw_median)
        overheads.append((our_median - raw_median) * 1e6)
        print(
            f"{number:>5} {raw_median * 1e3:>11.3f} {our_median * 1e3:>8.3f} "
            f"{overheads[-1]:>14.1f} {ratios[-1]:>6.3f}"
        )
    ratio, overhead = statistics.median(ratios), statistics.median(overheads)
    print(
        f"median over {ROUNDS} rounds of {CALLS} calls: {ratio:.3f}x, "
        f"{overhead:.0f} us a call (goal <= 1.05x)"
    )
    return ratio, overhead


def _profile(workspace) -> None:
    """Our own code, phase by phase (the SDK exchange runs between `start` and `feed`)."""
    from clawdbot_nb.api import drivers
    from clawdbot_nb.api.clients import AttemptClock

    phases: dict[str, list[float]] = {
        name: [] for name in ("validate", "candidates+engine", "start", "exchange", "feed", "bookkeeping")
    }
    for number in range(WARMUP + CALLS):
        t0 = time.perf_counter()
        request = workspace.request(PROMPT, system=SYSTEM, max_tokens=64)
        t1 = time.perf_counter()
        engine = workspace.engine(request, streamed=False)
        t2 = time.perf_counter()
        step = engine.start()
        t3 = time.perf_counter()
        outcome = drivers._whole(step.action, engine, workspace.clients, AttemptClock())
        t4 = time.perf_counter()
        step = engine.feed(outcome)
        t5 = time.perf_counter()
        workspace.bookkeeper.apply(step.effects)
        t6 = time.perf_counter()
        if number >= WARMUP:
            for name, a, b in zip(phases, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6), strict=True):
                phases[name].append((b - a) * 1e6)
    print("\nour code per call, median us by phase (exchange = the SDK and the simulator):")
    for name, values in phases.items():
        print(f"  {name:<18} {statistics.median(values):8.1f}")
    own = sum(statistics.median(v) for name, v in phases.items() if name != "exchange")
    print(f"  {'ours in all':<18} {own:8.1f}")


FIRST_CALL = textwrap.dedent(
    """
    import json, time
    started = time.perf_counter()
    import clawdbot_nb as cb
    imported_package = time.perf_counter()
    with cb.Workspace.simulated() as ws:
        made = time.perf_counter()
        first = ws.ask("hello")
        done = time.perf_counter()
        second = ws.ask("hello again")
    print(json.dumps({
        "import clawdbot_nb": imported_package - started,
        "Workspace.simulated()": made - imported_package,
        "first ask, wall": done - made,
        "  its setup_s (SDK import, client)": first.setup_s,
        "  its latency_s (the exchange)": first.latency_s,
        "second ask latency_s": second.latency_s,
    }))
    """
)


def _first_call() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAWDBOT_"))}
    runs = []
    for _ in range(3):
        env["HOME"] = tempfile.mkdtemp(prefix="clawdbot-nb-bench-first-")
        child = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, env=env)
        child.check_returncode()
        runs.append(json.loads(child.stdout))
    print("\nfirst call in a fresh process (median of 3 processes, seconds):")
    for key in runs[0]:
        print(f"  {key:<36} {statistics.median(r[key] for r in runs):8.4f}")


def main() -> None:
    workspace, raw = _setup()
    params = workspace.ask(PROMPT, system=SYSTEM, max_tokens=64).plan.params
    results = {
        "ask": _compare(
            "ask() against raw messages.create()",
            lambda: raw.messages.create(**params),
            lambda: workspace.ask(PROMPT, system=SYSTEM, max_tokens=64),
        ),
        "stream": _compare(
            "stream() against raw messages.stream()",
            lambda: _raw_stream(raw, params),
            lambda: _ours_stream(workspace),
        ),
    }
    _profile(workspace)
    _first_call()
    print("\nsummary:")
    for name, (ratio, overhead) in results.items():
        print(f"  {name:<7} {ratio:.3f}x  {overhead:.0f} us a call")
    workspace.close()
    raw.close()


if __name__ == "__main__":
    main()
