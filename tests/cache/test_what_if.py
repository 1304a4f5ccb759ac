"""`usage --what-if`: the agent's recorded calls replayed under always-5m, always-1h and auto.
Each replay is checked against the truth: the same calls sent again through the simulator."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.what_if import RecordedCall, replay, what_if
from clawdbot_nb.api.workspace import Workspace
from tests.cache.conftest import LONG_SYSTEM, watch_of

#: (gap before the call, question): quick re-runs, a 7 min and a 20 min pause, a 2 h break.
SESSION = (
    ("0s", "What does the report say about caching?"),
    ("40s", "What does the report say about caching?"),
    ("2m", "And about latency?"),
    ("7m", "And about cost?"),
    ("1m", "And about cost?"),
    ("20m", "Summarise it in one line."),
    ("3m", "Which section is longest?"),
    ("2h", "What does the report say about caching?"),
    ("30s", "Thanks, one more: the appendix?"),
)


def _send(workspace: Workspace, simulator: sim.Simulator, ttls: list[str] | str) -> list:
    replies = []
    for number, (gap, question) in enumerate(SESSION):
        simulator.clock.advance(gap)
        ttl = ttls if isinstance(ttls, str) else ttls[number]
        replies.append(workspace.ask(question, system=LONG_SYSTEM, ttl=ttl, max_tokens=50))
    return replies


@pytest.fixture
def recorded(workspace, simulator):
    """The session sent once with 5m: (the calls its cache watch recorded, what was paid)."""
    paid = sum(r.cost.cost_usd for r in _send(workspace, simulator, "5m"))
    calls = [RecordedCall.from_row(row) for row in watch_of(workspace).recorded_calls()]
    return calls, paid


def _truth(agent, ttls) -> float:
    """The same session on a fresh simulator with these TTLs: what it really costs."""
    simulator = sim.Simulator()
    with Workspace.simulated(simulator, agent=agent, ledger=False) as workspace:
        return sum(r.cost.cost_usd for r in _send(workspace, simulator, ttls))


def test_replaying_the_ttls_sent_gives_what_was_paid(recorded) -> None:
    calls, paid = recorded
    assert len(calls) == len(SESSION)
    result = what_if(calls)
    assert result.paid_usd == pytest.approx(paid, rel=1e-12)
    assert result.totals["as sent"] == pytest.approx(paid, rel=1e-12)
    assert result.totals["always-5m"] == pytest.approx(paid, rel=1e-12)


@pytest.mark.parametrize("policy", ["always-5m", "always-1h", "auto"])
def test_each_policy_costs_what_the_simulator_charges(recorded, agent, policy) -> None:
    calls, _ = recorded
    replayed = replay(calls, policy)
    ttls = [r.ttl for r in replayed]
    assert _truth(agent, ttls) == pytest.approx(sum(r.cost_usd for r in replayed), rel=1e-12)
    if policy == "auto":
        # One long pause in two: auto takes 1h at the writes after the pauses, 5m on reads.
        assert "1h" in ttls and "5m" in ttls


def test_the_what_if_table(recorded) -> None:
    calls, paid = recorded
    result = what_if(calls, unrecorded_calls=3)
    frame = result.frame()
    assert list(frame.index) == ["paid", "replayed as sent", "always-5m", "always-1h", "auto"]
    assert frame.loc["paid", "vs_paid"] == 1.0
    assert frame.loc["always-1h", "cost_usd"] < frame.loc["always-5m", "cost_usd"]
    assert (
        frame.loc["always-1h", "cache_write_1h_tokens"] > 0 == frame.loc["always-5m", "cache_write_1h_tokens"]
    )
    line = result.summary()
    assert line.startswith(f"{len(SESSION)} calls: paid ${paid:.4f};") and "3 earlier calls" in line


def test_the_workspace_what_if_counts_calls_it_cannot_replay(workspace, simulator) -> None:
    _send(workspace, simulator, "5m")
    result = workspace.what_if()
    assert result.calls == len(SESSION) and result.unrecorded_calls == 0
    assert result.totals["as sent"] == pytest.approx(result.paid_usd, rel=1e-12)
    frame = workspace.usage()
    assert frame["cost_usd"].sum() == pytest.approx(result.paid_usd, rel=1e-12)
