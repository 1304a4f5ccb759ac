"""Caching through the Workspace against the simulator: hits, the 5m/1h split, expiry, TTL rules."""

from __future__ import annotations

import asyncio
import json

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.planner import OAUTH_TTL_NOTE
from tests.send.conftest import LONG_SYSTEM, store_api_key, store_token


@pytest.fixture(autouse=True)
def api_key(agent) -> None:
    store_api_key(agent, sim.DEMO_API_KEY)


def test_second_identical_call_reads_what_the_first_wrote_5m(workspace) -> None:
    first = workspace.ask("What is a cache?", system=LONG_SYSTEM)
    second = workspace.ask("What is a cache?", system=LONG_SYSTEM)
    assert first.verdict == "write" and first.usage.cache_read_tokens == 0
    assert first.usage.cache_write_5m_tokens > 1000 and first.usage.cache_write_1h_tokens == 0
    assert second.verdict == "hit"
    assert second.usage.cache_read_tokens == first.usage.cache_write_5m_tokens
    assert second.usage.cache_write_5m_tokens == second.usage.cache_write_1h_tokens == 0
    # The one-shot question is not marked (planner.py): it and the turn opener are the uncached tail.
    assert second.usage.input_tokens == first.usage.input_tokens < 20
    assert second.text == first.text
    assert second.hit_ratio > 0.98
    assert second.cost.cost_usd < first.cost.cost_usd and second.cost.savings_usd > 0
    assert first.cost.savings_usd < 0  # a write costs more than plain input


def test_one_hour_ttl_writes_1h_tokens(workspace) -> None:
    first = workspace.ask("Explain TTLs", system=LONG_SYSTEM, ttl="1h")
    second = workspace.ask("Explain TTLs", system=LONG_SYSTEM, ttl="1h")
    assert first.usage.cache_write_1h_tokens > 1000 and first.usage.cache_write_5m_tokens == 0
    assert first.plan.ttl_applied == "1h" and all(b.ttl == "1h" for b in first.plan.breakpoints)
    assert second.usage.cache_read_tokens == first.usage.cache_write_1h_tokens


def test_a_new_question_reads_the_system_and_writes_nothing(workspace) -> None:
    """System cached at 1h; a new one-shot question reads it and is sent uncached: a write of it
    would never be read."""
    first = workspace.ask("First question", system=LONG_SYSTEM, ttl="1h")
    reply = workspace.ask("A different second question", system=LONG_SYSTEM, ttl="1h")
    assert reply.verdict == "hit" and reply.usage.cache_write_tokens == 0
    assert reply.usage.cache_read_tokens == first.usage.cache_write_1h_tokens > 1000
    assert [b.where for b in reply.plan.breakpoints] == ["system"]


def test_mixed_split_when_the_caller_asks_for_the_last_turn(workspace) -> None:
    """With cache_last_turn=True the new question is written too (1h), after the 1h system read."""
    workspace.ask("First question", system=LONG_SYSTEM, ttl="1h")
    reply = workspace.ask("A different second question", system=LONG_SYSTEM, ttl="1h", cache_last_turn=True)
    assert reply.verdict == "hit+write"
    assert reply.usage.cache_read_tokens > 1000
    assert 0 < reply.usage.cache_write_1h_tokens < 50
    assert "turn (kept for next turn)" in reply.footer()


def test_one_shot_questions_over_a_shared_document_block_read_it(workspace) -> None:
    """The document is the stable prefix: marked on every call; each question after it is not."""
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": LONG_SYSTEM},
    }
    first = workspace.ask([document, {"type": "text", "text": "Who wrote it?"}])
    second = workspace.ask([document, {"type": "text", "text": "What is it about, in one line?"}])
    assert first.verdict == "write" and second.verdict == "hit"
    assert second.usage.cache_read_tokens == first.usage.cache_write_5m_tokens > 1000
    assert second.usage.cache_write_tokens == 0
    assert "marked document (one-shot)" in second.footer()


def test_5m_entries_expire_on_the_virtual_clock(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM)
    simulator.clock.advance("4m")
    assert workspace.ask("q", system=LONG_SYSTEM).verdict == "hit"  # and the hit refreshed it
    simulator.clock.advance("4m")
    assert workspace.ask("q", system=LONG_SYSTEM).verdict == "hit"
    simulator.clock.advance("5m1s")
    again = workspace.ask("q", system=LONG_SYSTEM)
    assert again.verdict == "write" and again.usage.cache_write_5m_tokens > 1000


def test_1h_entries_outlive_5m_and_expire_after_an_hour(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    simulator.clock.advance("30m")
    assert workspace.ask("q", system=LONG_SYSTEM, ttl="1h").verdict == "hit"
    simulator.clock.advance("61m")
    assert workspace.ask("q", system=LONG_SYSTEM, ttl="1h").usage.cache_write_1h_tokens > 1000


def test_ttl_from_the_config(workspace, agent) -> None:
    agent.config_path.write_text(
        json.dumps(
            {
                "agents": {
                    "defaults": {
                        "models": {"anthropic/claude-sonnet-5-5": {"params": {"cacheControlTtl": "1h"}}}
                    }
                }
            }
        )
    )
    reply = workspace.ask("q", system=LONG_SYSTEM)
    assert reply.plan.ttl_applied == "1h" and "cacheControlTtl" in reply.plan.ttl_source
    assert reply.usage.cache_write_1h_tokens > 0
    # The call's own TTL wins over the config's.
    assert workspace.ask("other", system=LONG_SYSTEM + " More.", ttl="5m").usage.cache_write_1h_tokens == 0


def test_cache_retention_none_sends_no_breakpoints(workspace, agent, simulator) -> None:
    agent.config_path.write_text(json.dumps({"agents": {"defaults": {"params": {"cacheRetention": "none"}}}}))
    reply = workspace.ask("q", system=LONG_SYSTEM)
    assert reply.verdict == "off" and reply.plan.breakpoints == ()
    assert reply.usage.cache_write_5m_tokens == 0 and reply.usage.input_tokens > 1000


def test_no_cache_argument(workspace) -> None:
    reply = workspace.ask("q", system=LONG_SYSTEM, cache=False)
    assert reply.verdict == "off" and reply.usage.cache_write_tokens == 0


def test_oauth_and_setup_tokens_ignore_the_ttl(workspace, agent, simulator) -> None:
    store_token(agent, sim.DEMO_SETUP_TOKEN)
    reply = workspace.ask("q", system=LONG_SYSTEM, ttl="1h", profile="anthropic:manual")
    assert reply.credential_type == "token"
    assert reply.plan.ttl_applied == "5m" and reply.plan.ttl_note == OAUTH_TTL_NOTE
    assert reply.usage.cache_write_1h_tokens == 0 and reply.usage.cache_write_5m_tokens > 1000
    assert all(b.ttl is None for b in reply.plan.breakpoints)  # plain ephemeral markers
    # The Claude Code identity block leads the system prompt, and the beta header went out.
    system = reply.plan.params["system"]
    assert system[0]["text"] == "You are Claude Code, Anthropic's official CLI for Claude."
    assert simulator.requests.last(path="/v1/messages").credential_kind == "setup_token"
    row = workspace.usage().iloc[-1]
    assert row["ttl_requested"] == "1h" and row["ttl_applied"] == "5m" and "ignored" in row["ttl_note"]


def test_below_minimum_prefix_is_reported(workspace) -> None:
    reply = workspace.ask("short question", system="Be brief.")
    assert reply.verdict == "miss"
    assert any("nothing will be cached" in note and "minimum" in note for note in reply.notes())
    assert all(b.below_minimum for b in reply.plan.breakpoints)


def test_long_history_keeps_hitting_past_the_20_block_lookback(workspace) -> None:
    """Each turn adds more than 20 blocks, so the last-turn breakpoint alone could not reach the
    previous turn's entry: the planner also marks the previous turn, and every turn reads it."""
    history: list[dict] = []
    reads = []
    for turn in range(4):
        blocks = [
            {"type": "text", "text": f"Turn {turn} note {i}: the cache lookback spans twenty blocks."}
            for i in range(24)
        ]
        blocks.append({"type": "text", "text": f"Question {turn}: what did the notes say?"})
        reply = workspace.ask(blocks, system=LONG_SYSTEM, history=history)
        wheres = [b.where for b in reply.plan.breakpoints]
        assert len(wheres) <= 4
        if turn:
            assert "previous turn" in wheres
        reads.append(reply.usage.cache_read_tokens)
        history += [{"role": "user", "content": blocks}, {"role": "assistant", "content": reply.text}]
    # Each turn reads everything up to the previous turn: more and more, never back to the system only.
    assert reads[0] == 0
    assert reads[1] < reads[2] < reads[3]
    system_only = workspace.ask("x", system=LONG_SYSTEM).usage.cache_read_tokens
    assert reads[2] > system_only * 1.2


def test_cookbook_identity_read_grows_by_last_write(workspace) -> None:
    history: list[dict] = []
    previous = None
    for turn in range(4):
        reply = workspace.ask(
            f"Turn {turn}: tell me more about the book.", system=LONG_SYSTEM, history=history
        )
        if previous is not None:
            assert (
                reply.usage.cache_read_tokens
                == previous.usage.cache_read_tokens + previous.usage.cache_write_tokens
            )
        previous = reply
        history += [{"role": "user", "content": f"Turn {turn}: tell me more about the book."},
                    {"role": "assistant", "content": reply.text}]  # fmt: skip


def test_streaming_reports_cache_usage_and_ttft(workspace) -> None:
    workspace.ask("stream me", system=LONG_SYSTEM)
    stream = workspace.stream("stream me", system=LONG_SYSTEM)
    chunks = list(stream)
    reply = stream.reply
    assert "".join(chunks) == reply.text and len(chunks) > 1
    assert reply.streamed and reply.verdict == "hit"
    assert reply.usage.cache_read_tokens > 1000  # from message_start, merged with message_delta
    assert reply.ttft_s is not None and 0 <= reply.ttft_s <= reply.latency_s
    assert reply.request_id == workspace.simulator.requests.last(path="/v1/messages").request_id


def test_long_answers_stream_under_the_hood_and_keep_the_request_id(workspace) -> None:
    reply = workspace.ask("A long answer, please", max_tokens=30_000)
    assert reply.request_id == workspace.simulator.requests.last(path="/v1/messages").request_id
    assert workspace.simulator.requests.last(path="/v1/messages").stream


def test_async_ask_and_stream(workspace) -> None:
    async def scenario():
        first = await workspace.aask("async q", system=LONG_SYSTEM)
        stream = workspace.astream("async q", system=LONG_SYSTEM)
        text = "".join([chunk async for chunk in stream])
        return first, stream, text

    first, stream, text = asyncio.run(scenario())
    assert first.verdict == "write"
    assert stream.reply.verdict == "hit" and text == stream.reply.text
