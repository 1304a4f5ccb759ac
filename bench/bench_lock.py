"""Lock contention on one auth-profiles.json: locked read-modify-writes per second from 1 to 8
processes, and the same updates unlocked in one process as the baseline (printed as a ratio).

    python3 dev.py bench lock
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
from pathlib import Path

ROUNDS = 200

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from clawdbot_nb.state.store import AuthStoreFile
    from clawdbot_nb.state.cooldown import UsageStats
    store_file = AuthStoreFile(Path(sys.argv[1]))
    rounds = int(sys.argv[2])
    waits, attempts = [], 0

    def bump(store):
        stats = store.stats("anthropic:default")
        store.set_stats("anthropic:default", UsageStats(error_count=(stats.error_count or 0) + 1))

    start = time.perf_counter()
    for _ in range(rounds):
        t0 = time.perf_counter()
        store_file.update(bump)
        waits.append(time.perf_counter() - t0)
    print(json.dumps({"elapsed": time.perf_counter() - start, "latencies": waits}))
    """
)


def run_processes(agent_dir: Path, processes: int, rounds: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(agent_dir), str(rounds)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    latencies: list[float] = []
    for child in children:
        out, _ = child.communicate()
        latencies += json.loads(out)["latencies"]
    return time.perf_counter() - start, latencies


def unlocked_baseline(agent_dir: Path, rounds: int) -> float:
    from clawdbot_nb.state.jsonfile import read_json_object, write_json_atomic

    path = agent_dir / "auth-profiles.json"
    start = time.perf_counter()
    for _ in range(rounds):
        data = read_json_object(path, what="store") or {"version": 1, "profiles": {}}
        stats = data.setdefault("usageStats", {}).setdefault("anthropic:default", {})
        stats["errorCount"] = stats.get("errorCount", 0) + 1
        write_json_atomic(path, data)
    return rounds / (time.perf_counter() - start)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = unlocked_baseline(Path(tmp), ROUNDS)
    print(f"baseline: unlocked read-modify-write in one process: {base:,.0f} updates/s")
    print(f"{'processes':>9} {'updates/s':>10} {'vs baseline':>11} {'p50 ms':>8} {'p99 ms':>8} {'lost':>5}")
    for processes in (1, 2, 4, 8):
        with tempfile.TemporaryDirectory() as tmp:
            agent_dir = Path(tmp)
            elapsed, latencies = run_processes(agent_dir, processes, ROUNDS)
            data = json.loads((agent_dir / "auth-profiles.json").read_text())
            count = data["usageStats"]["anthropic:default"]["errorCount"]
            rate = processes * ROUNDS / elapsed
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            lost = processes * ROUNDS - count
            print(f"{processes:>9} {rate:>10,.0f} {rate / base:>10.2f}x {p50:>8.2f} {p99:>8.2f} {lost:>5}")
    print(f"(cpu count: {os.cpu_count()}; process start-up is included in the elapsed time)")


if __name__ == "__main__":
    main()
