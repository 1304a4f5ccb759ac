"""Fixtures for conversations: a simulator, an agent with the demo key, workspaces on it."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState

#: A document well above the 512-token minimum of the default model: about 1,250 tokens as the
#: simulator counts it (its position), so a turn that caches it writes over 1,000.
DOCUMENT = "The contract limits liability to direct damages and excludes lost profits. " * 80


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
    """`make_workspace(**options)`: a workspace of the test's agent on the simulator (a new one
    stands for a restarted kernel: same state dir, same ledger file)."""
    made: list[Workspace] = []

    def make(**options) -> Workspace:
        workspace = Workspace.simulated(simulator, agent=agent, **options)
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.close()


@pytest.fixture
def workspace(make_workspace) -> Workspace:
    return make_workspace()


def sent_texts(reply) -> list[tuple[str, str]]:
    """(role, text) of each message the reply's request sent: its plan's params are the body."""
    out = []
    for message in reply.plan.params["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
        out.append((message["role"], text))
    return out
