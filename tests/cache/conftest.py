"""Fixtures for cache intelligence: a simulator with its virtual clock, a workspace on it, and a
`CacheWatch` following that workspace's calls the way the call engine does (begin when sent,
began when the response starts, finish with the usage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from clawdbot_nb import catalog, sim
from clawdbot_nb.api.cache_watch import CacheWatch, CallReport, CallTicket, Scope
from clawdbot_nb.api.pricing import prices_for
from clawdbot_nb.api.reply import Reply
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.selection import auth_candidates

#: A system prompt well above the 512-token minimum of the default model.
LONG_SYSTEM = "You are a meticulous research assistant who cites sources and explains caching. " * 60


@dataclass
class Watched:
    """A workspace on the simulator, with a watch that sees each call as the engine will."""

    workspace: Workspace
    simulator: sim.Simulator
    watch: CacheWatch
    #: Read the organisation and workspace of each call (the response headers' values).
    know_organisation: bool = True

    def _scope(self, reply: Reply) -> Scope:
        record = self.simulator.requests.last(path="/v1/messages")
        organisation = record.organization if self.know_organisation and record else None
        workspace = record.workspace if self.know_organisation and record else None
        return Scope(reply.model, reply.credential_type, organisation, workspace)

    def finish(self, ticket: CallTicket, reply: Reply) -> CallReport:
        info = catalog.lookup(reply.model)
        return self.watch.finish(
            ticket,
            reply.usage,
            prices=prices_for(reply.model),
            minimum=info.min_cacheable_tokens if info else None,
            record={
                "request_id": reply.request_id,
                "ttl_requested": reply.plan.ttl_requested,
                "ttl_applied": reply.plan.ttl_applied,
                "cost_usd": reply.cost.cost_usd,
            },
        )

    def ask(self, prompt: Any, **options: Any) -> tuple[Reply, CallReport]:
        """One call, sent at the virtual clock's now."""
        sent_at = self.simulator.clock.now()
        reply = self.workspace.ask(prompt, **options)
        ticket = self.watch.begin(reply.plan.params, self._scope(reply), at=sent_at)
        return reply, self.finish(ticket, reply)

    def planned(self, prompt: Any, **options: Any) -> dict[str, Any]:
        """The body the workspace will send for this prompt (its first candidate profile)."""
        request = self.workspace.request(prompt, **options)
        candidate = auth_candidates(self.workspace.agent, "anthropic", profile_id=request.profile)[0]
        return self.workspace.plan(request, candidate).params


@pytest.fixture
def simulator() -> sim.Simulator:
    return sim.Simulator()


@pytest.fixture
def agent(state_dir) -> AgentState:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, sim.DEMO_API_KEY)
    return agent


@pytest.fixture
def watched(simulator, agent):
    workspace = Workspace.simulated(simulator, agent=agent)
    yield Watched(workspace, simulator, CacheWatch(clock=simulator.clock.now))
    workspace.close()
