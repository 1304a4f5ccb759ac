"""The client's cache rules and the simulator's agree at every TTL boundary (issue 8)."""

from __future__ import annotations

import pytest

from clawdbot_nb.api.cache_rules import entry_alive
from clawdbot_nb.api.pricing import replay_hits

from .conftest import LONG_SYSTEM, store_api_key

BOUNDARIES = [
    ("5m", 299.999),
    ("5m", 300.0),
    ("5m", 300.001),
    ("1h", 3599.999),
    ("1h", 3600.0),
    ("1h", 3600.001),
]


@pytest.mark.parametrize(("ttl", "gap"), BOUNDARIES)
def test_replay_model_and_simulator_agree_at_the_ttl_boundary(ttl, gap, agent, simulator):
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace

    store_api_key(agent, sim.DEMO_API_KEY)
    with Workspace.simulated(simulator, agent=agent, model="claude-haiku-5-5") as ws:
        first = ws.ask("Question one?", system=LONG_SYSTEM, ttl=ttl)
        assert first.cache_written > 0
        simulator.clock.advance(gap)
        second = ws.ask("Question one?", system=LONG_SYSTEM, ttl=ttl)
    predicted = replay_hits([gap], ttl)[1]
    assert second.hit is predicted
    assert entry_alive(gap, ttl) is predicted
    assert predicted is (gap < {"5m": 300, "1h": 3600}[ttl])
