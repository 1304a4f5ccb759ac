"""Fixtures for cache intelligence: a simulator with its virtual clock, and a workspace on it
whose cache watch (kept beside its ledger) follows every call."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState

#: A system prompt well above the 512-token minimum of the default model.
LONG_SYSTEM = "You are a meticulous research assistant who cites sources and explains caching. " * 60


@pytest.fixture
def simulator() -> sim.Simulator:
    return sim.Simulator()


@pytest.fixture
def agent(state_dir) -> AgentState:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, sim.DEMO_API_KEY)
    return agent


@pytest.fixture
def make_workspace(simulator, agent):
    """`make_workspace(**options)`: another workspace (another kernel) of the same agent."""
    made: list[Workspace] = []

    def make(**options) -> Workspace:
        made.append(Workspace.simulated(options.pop("simulator", simulator), agent=agent, **options))
        return made[-1]

    yield make
    for workspace in made:
        workspace.close()


@pytest.fixture
def workspace(make_workspace) -> Workspace:
    return make_workspace()


def watch_of(workspace: Workspace):
    """The workspace's running cache watch."""
    watch = workspace.watcher.watch
    assert watch is not None
    return watch
