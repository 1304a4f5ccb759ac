"""Fixtures for sending prompts: a simulator, an agent with profiles, workspaces in-process and
over loopback HTTP."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.credentials import ApiKeyCredential, OAuthCredential, TokenCredential


@pytest.fixture
def simulator() -> sim.Simulator:
    return sim.Simulator()


@pytest.fixture
def agent(state_dir) -> AgentState:
    return AgentState.resolve()


@pytest.fixture(params=["inprocess", "loopback"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_workspace(simulator: sim.Simulator, transport_kind: str):
    """`make_workspace(agent=None, **options)` → a Workspace wired to the simulator."""
    made: list[Workspace] = []
    servers = []

    def make(agent: str | AgentState | None = None, **options) -> Workspace:
        if transport_kind == "inprocess":
            # The test's own state dir (simulated() alone would use a sandbox).
            workspace = Workspace.simulated(simulator, agent=agent or AgentState.resolve(), **options)
        else:
            if not servers:
                servers.append(sim.start_server(simulator))
            workspace = Workspace(agent, base_url=servers[0].base_url, **options)
            workspace.simulator = simulator
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.close()
    for server in servers:
        server.stop()


@pytest.fixture
def workspace(make_workspace) -> Workspace:
    return make_workspace()


def store_api_key(agent: AgentState, key: str, profile_id: str = "anthropic:default") -> None:
    agent.store_file.update(
        lambda s: s.set_credential(profile_id, ApiKeyCredential(provider="anthropic", key=key))
    )


def store_token(agent: AgentState, token: str, profile_id: str = "anthropic:manual") -> None:
    agent.store_file.update(
        lambda s: s.set_credential(profile_id, TokenCredential(provider="anthropic", token=token))
    )


def store_oauth(
    agent: AgentState, access: str, refresh: str, expires_ms: int, profile_id: str = "anthropic:me"
) -> None:
    credential = OAuthCredential(provider="anthropic", access=access, refresh=refresh, expires_ms=expires_ms)
    agent.store_file.update(lambda s: s.set_credential(profile_id, credential))


def set_order(agent: AgentState, *ids: str) -> None:
    agent.store_file.update(lambda s: s.set_order("anthropic", list(ids)))


#: A system prompt well above every 512-token minimum, and below 1,024 for the sonnet-4-6 tests.
LONG_SYSTEM = "You are a meticulous research assistant who cites sources and explains caching. " * 60
