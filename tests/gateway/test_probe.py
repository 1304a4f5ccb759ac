"""`models status --probe` on both sides against our simulator: the same targets and results."""

from __future__ import annotations

import json
import os
from pathlib import Path

from clawdbot_nb import sim
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState
from tests.gateway.conftest import Gateway
from tests.gateway.helpers import (
    ours,
    point_gateway_at,
)


def test_probe_results_match_the_gateways(gateway: Gateway, capsys, record_property, monkeypatch) -> None:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, sim.DEMO_API_KEY)
    onboarding.save_setup_token(agent, sim.DEMO_SETUP_TOKEN, profile_id="anthropic:manual")
    with sim.serve() as server:
        point_gateway_at(server.base_url, agent.config_path)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)  # the gateway ignores it; we use it
        theirs = gateway.run("models", "status", "--probe", "--json").json()["auth"]["probes"]
        code, out = ours(capsys, "models", "status", "--probe", "--json")
    mine = json.loads(out)["auth"]["probes"]
    assert code == 0
    assert set(mine) == set(theirs) and mine["options"] == theirs["options"]
    assert mine["totalTargets"] == theirs["totalTargets"] == 2

    def key(result: dict) -> tuple:
        return tuple(
            result.get(k) for k in ("provider", "model", "profileId", "label", "source", "mode", "status")
        )

    assert sorted(map(key, mine["results"])) == sorted(map(key, theirs["results"]))
    assert all(
        set(m) == set(t) for m, t in zip(sorted(mine["results"], key=key), sorted(theirs["results"], key=key))
    )
    record_property("interop_fields_compared", 7 * len(mine["results"]) + 2)
    record_property("interop_states", 1)


def test_the_gateway_runs_in_the_tests_world_only(gateway: Gateway) -> None:
    import pwd

    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    env = gateway.env()
    assert env["HOME"] == str(gateway.home) != str(real_home)
    assert Path(env["CLAWDBOT_STATE_DIR"]).is_relative_to(gateway.home.parent)
    assert not [name for name in env if name.startswith(("ANTHROPIC_", "CLAUDE_", "CLAWDBOT_AGENT"))]
