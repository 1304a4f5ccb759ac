"""The cache watch in the call path: `Reply.why_miss`, the footer, the ledger column, every driver,
`ttl="auto"` from the call, the workspace and our own setting, and the cache views."""

from __future__ import annotations

import asyncio
import json

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api import cache_watch
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state import nb_settings, onboarding
from tests.cache.conftest import LONG_SYSTEM


def _expire(workspace: Workspace, simulator: sim.Simulator, **options):
    workspace.ask("q", system=LONG_SYSTEM, **options)
    simulator.clock.advance("7m")
    return workspace.ask("q", system=LONG_SYSTEM, **options)


def test_the_reply_the_footer_and_the_ledger_say_why(workspace, simulator) -> None:
    reply = _expire(workspace, simulator)
    assert reply.why_miss.code == cache_watch.EXPIRED
    assert reply.footer().endswith("· why: expired: gap 7 min > 5 min")
    assert "why: expired" in reply._repr_markdown_()
    frame = workspace.usage()
    assert frame["why_miss"].tolist()[-2:] == [None, "expired: gap 7 min > 5 min"] or (
        frame["why_miss"].isna().tolist()[-2]
        and frame["why_miss"].tolist()[-1] == "expired: gap 7 min > 5 min"
    )
    hit = workspace.ask("q", system=LONG_SYSTEM)
    assert hit.why_miss is None and "why:" not in hit.footer()


@pytest.mark.parametrize("driver", ["ask", "aask", "stream", "astream"])
def test_every_driver_explains(workspace, simulator, driver) -> None:
    def call():
        if driver == "ask":
            return workspace.ask("q", system=LONG_SYSTEM)
        if driver == "aask":
            return asyncio.run(workspace.aask("q", system=LONG_SYSTEM))
        if driver == "stream":
            stream = workspace.stream("q", system=LONG_SYSTEM)
            "".join(stream)
            return stream.reply

        async def consume():
            stream = workspace.astream("q", system=LONG_SYSTEM)
            async for _ in stream:
                pass
            return stream.reply

        return asyncio.run(consume())

    call()
    simulator.clock.advance("6m")
    assert call().why_miss.code == cache_watch.EXPIRED


def test_failed_over_calls_are_watched_on_the_profile_that_answered(workspace, agent, simulator) -> None:
    other = simulator.add_api_key()
    onboarding.save_api_key(agent, other, profile_id="anthropic:second")
    workspace.ask("q", system=LONG_SYSTEM)
    simulator.faults.next(status=429, retry_after=0)
    simulator.clock.advance("6m")
    reply = workspace.ask("q", system=LONG_SYSTEM)
    assert reply.attempts and reply.why_miss.code == cache_watch.EXPIRED


def test_auto_from_the_call_chooses_1h_after_pauses_and_says_why(workspace, simulator) -> None:
    first = workspace.ask("q1", system=LONG_SYSTEM, ttl="auto")
    # No history: one pause of 5-60 min would already pay for 1h.
    assert first.plan.ttl_requested == "auto" and first.plan.ttl_applied == "1h"
    assert first.usage.cache_write_1h_tokens > 1000
    assert "TTL 1h (auto: no history yet" in first.footer()
    simulator.clock.advance("20m")
    read = workspace.ask("q2", system=LONG_SYSTEM, ttl="auto")
    assert read.verdict == "hit" and read.plan.ttl_applied == "5m"  # the one-shot q2 is not marked
    assert "auto: the prefix is cached (1h, until" in read.plan.ttl_note
    workspace.ledger  # noqa: B018
    row = workspace.usage().iloc[-1]
    assert row["ttl_requested"] == "auto" and row["ttl_applied"] == "5m"


def test_auto_keeps_5m_for_quick_work(make_workspace, simulator) -> None:
    workspace = make_workspace(ttl="auto")
    # Earlier work of this agent: quick calls on three documents, each then left for hours.
    for day in range(3):
        for _ in range(4):
            workspace.ask("quick", system=f"Older document {day}. " + LONG_SYSTEM, ttl="5m")
            simulator.clock.advance("40s")
        simulator.clock.advance("3h")
    replies = []
    for question in ("a", "b", "c"):
        replies.append(workspace.ask(question, system=LONG_SYSTEM))
        simulator.clock.advance("30s")
    assert [r.plan.ttl_applied for r in replies] == ["5m", "5m", "5m"]
    assert replies[0].plan.ttl_note == (
        "auto: 3 of your last 3 breaks lasted over an hour, which even a 1h entry does not survive"
    )
    assert replies[-1].plan.ttl_note.startswith("auto: the prefix is cached (5m")


def test_auto_from_our_own_settings_file_never_touches_the_gateway_config(workspace, agent) -> None:
    agent.config_path.write_text(json.dumps({"agents": {"defaults": {"params": {"cacheControlTtl": "5m"}}}}))
    before = agent.config_path.read_text()
    path = nb_settings.set_cache_ttl(agent.state_dir, "auto")
    assert path.parent.name == "clawdbot-nb" and json.loads(path.read_text()) == {"cacheControlTtl": "auto"}
    reply = workspace.ask("q", system=LONG_SYSTEM)
    assert (
        reply.plan.ttl_requested == "auto" and reply.plan.ttl_source == "clawdbot-nb settings cacheControlTtl"
    )
    assert agent.config_path.read_text() == before
    # A call's own TTL wins; a model's entry beats the top level.
    assert workspace.ask("q", system=LONG_SYSTEM, ttl="5m").plan.ttl_requested == "5m"
    nb_settings.set_cache_ttl(agent.state_dir, "1h", model="claude-sonnet-5-5")
    assert workspace.ask("q3", system=LONG_SYSTEM).plan.ttl_applied == "1h"
    nb_settings.set_cache_ttl(agent.state_dir, None, model="claude-sonnet-5-5")
    assert workspace.ask("q4", system=LONG_SYSTEM).plan.ttl_requested == "auto"


def test_a_bad_settings_value_names_the_file_and_field(workspace, agent) -> None:
    path = nb_settings.settings_path(agent.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"models": {"anthropic/claude-sonnet-5-5": {"cacheControlTtl": "2h"}}}))
    with pytest.raises(ClawdbotError) as caught:
        workspace.ask("q", system=LONG_SYSTEM)
    message = str(caught.value)
    assert str(path) in message and 'models["anthropic/claude-sonnet-5-5"].cacheControlTtl' in message
    assert "'2h'" in message and "Fix:" in message


def test_auto_with_a_setup_token_says_ttls_are_ignored(workspace, agent) -> None:
    onboarding.save_setup_token(agent, sim.DEMO_SETUP_TOKEN, profile_id="anthropic:manual")
    reply = workspace.ask("q", system=LONG_SYSTEM, ttl="auto", profile="anthropic:manual")
    assert reply.plan.ttl_applied == "5m" and reply.usage.cache_write_1h_tokens == 0
    assert (
        reply.plan.ttl_note
        == "auto: TTL ignored for OAuth/setup-token credentials: Anthropic's default 5m applies"
    )


def test_cache_status_lists_the_live_entries(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    simulator.clock.advance("2m")
    workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    frame = workspace.cache_status()
    assert list(frame["breakpoint"]) == ["system"]  # the one-shot question is not marked
    assert list(frame["ttl"]) == ["1h"] and list(frame["hits"]) == [1]
    assert list(frame["expires_in_s"]) == [3600.0]
    # A 1h write costs 1x input more; one read at 0.05x saves 0.95x: not paid back yet.
    assert frame["saved_usd"].iloc[0] < 0 and frame["tokens"].iloc[0] > 1000
    simulator.clock.advance("2m")
    workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    assert (workspace.cache_status()["saved_usd"] > 0).all()
    simulator.clock.advance("61m")
    assert workspace.cache_status().empty
    events = workspace.cache_timeline()
    assert list(events["event"]) == ["write", "hit", "hit", "expire"]
