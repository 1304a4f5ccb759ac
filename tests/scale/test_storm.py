"""Faults cost nothing: under a storm of 429/529/500/401 on ~30% of responses, a map of 1,000 rows
over 3 profiles answers every row, on the simulator's virtual clock (the waits through cooldowns
take no real time). Before the scheduler, only 6-58% of such prompts were answered: once every
profile cooled down, each further prompt failed at once with "No available auth profile"."""

from __future__ import annotations

import math
import threading

import pytest

from clawdbot_nb.state.cooldown import cooldown_ms
from tests.scale.conftest import INSTRUCTIONS, answered

#: Each rule fires with this probability, in turn: 1 - (1 - p)^4 ≈ 30% of responses fail.
P = 0.0853


def storm(simulator) -> None:
    for seed, status in enumerate((429, 529, 500, 401)):
        simulator.faults.rate(status, P, seed=seed)


def watch_cooldowns(workspace) -> list[str]:
    """Check every cooldown the bookkeeper stores against the gateway's formula, as it is stored."""
    problems: list[str] = []
    lock = threading.Lock()
    original = workspace.bookkeeper._failure

    def checked(effect) -> None:
        original(effect)
        stats = workspace.agent.store_file.load().stats(effect.profile_id)
        if stats.last_failure_at == effect.at_ms:
            expected = effect.at_ms + cooldown_ms(stats.error_count)
            if stats.cooldown_until != expected:
                with lock:
                    problems.append(f"{effect.profile_id}: {stats} != {expected}")

    workspace.bookkeeper._failure = checked
    return problems


@pytest.mark.slow
def test_a_fault_storm_costs_no_answer(make_workspace, simulator) -> None:
    workspace = make_workspace(profiles=3)
    problems = watch_cooldowns(workspace)
    storm(simulator)
    started = simulator.clock.now()
    rows = [f"Ticket {n}: please sort me." for n in range(1000)]
    frame = workspace.map(rows, "Sort: {item}", system=INSTRUCTIONS, ttl="1h", concurrency=8, progress=False)

    assert (frame["status"] == "succeeded").all() and frame["text"].notna().all()
    # No row was sent again once it had been answered.
    assert answered(simulator) == 1000
    successes = [r for r in workspace.ledger.rows(job=frame.attrs["job"]) if r.error is None]
    assert len({r.row_key for r in successes}) == len(successes) == 1000
    faulted = len(simulator.requests.messages()) - 1000
    assert 300 <= faulted <= 600, "about 30% of responses failed"
    assert problems == [], "every cooldown as the formula says"
    report = frame.attrs["report"]
    assert report.failed_attempts == faulted and report.waits > 0 and report.succeeded == 1000
    assert simulator.clock.now() - started >= report.waited_s - 1
    assert math.isfinite(report.extra_cost_from_faults_usd) and report.extra_cost_from_faults_usd >= 0
    warm_cost = frame["cost_usd"].sum() - report.extra_cost_from_faults_usd
    assert warm_cost > 0 and "rows answered" in str(report)
    print(report)
