"""Fixtures for many prompts at once: a simulator, an agent with several API-key profiles, and a
workspace running on the simulator's virtual clock (cooldowns and waits pass in no real time)."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.credentials import ApiKeyCredential

#: Shared instructions well above the 512-token minimum of the default model.
INSTRUCTIONS = "You sort support tickets into billing, bug or question, and answer with one word. " * 60


def add_profiles(agent: AgentState, simulator: sim.Simulator, count: int) -> list[str]:
    """`count` API-key profiles the simulator accepts: anthropic:p0, anthropic:p1, …; their keys."""
    keys = []
    for n in range(count):
        key = simulator.add_api_key("sk-ant-api03-" + f"{n:02d}" * 40 + f"KEY{n}")
        profile = f"anthropic:p{n}"
        agent.store_file.update(
            lambda s, profile=profile, key=key: s.set_credential(
                profile, ApiKeyCredential(provider="anthropic", key=key)
            )
        )
        keys.append(key)
    return keys


@pytest.fixture
def simulator() -> sim.Simulator:
    return sim.Simulator()


@pytest.fixture
def agent(state_dir) -> AgentState:
    return AgentState.resolve()


@pytest.fixture
def make_workspace(simulator, agent):
    made: list[Workspace] = []

    def make(profiles: int = 1, simulator: sim.Simulator = simulator, **options) -> Workspace:
        keys = add_profiles(agent, simulator, profiles) if profiles else []
        workspace = Workspace.simulated(simulator, agent=agent, virtual_time=True, **options)
        workspace.keys = keys
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.close()


def writes(simulator: sim.Simulator) -> int:
    """Messages the simulator answered with a cache write."""
    return sum(1 for r in simulator.requests.messages(status=200) if r.usage["cache_creation_input_tokens"])


def answered(simulator: sim.Simulator) -> int:
    return len(simulator.requests.messages(status=200))
