"""Every miss cause, named by the watch, and checked against the simulator, which knows the truth:
each test also removes the cause and shows the simulator then reads the cache."""

from __future__ import annotations

import asyncio

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api import cache_watch
from clawdbot_nb.state import onboarding
from tests.cache.conftest import LONG_SYSTEM, watch_of


def test_a_hit_and_a_first_write_have_no_cause(workspace) -> None:
    first = workspace.ask("What is a cache?", system=LONG_SYSTEM)
    assert first.verdict == "write" and first.why_miss is None
    second = workspace.ask("What is a cache?", system=LONG_SYSTEM)
    assert second.verdict == "hit" and second.why_miss is None


def test_a_new_question_on_a_cached_system_prompt_is_no_miss(workspace) -> None:
    workspace.ask("First question", system=LONG_SYSTEM)
    reply = workspace.ask("A different second question", system=LONG_SYSTEM)
    # The system prompt is read; the one-shot question is not marked, so nothing is written.
    assert reply.verdict == "hit" and reply.why_miss is None


def test_a_growing_conversation_is_no_miss(workspace) -> None:
    first = workspace.ask("Tell me about caches", system=LONG_SYSTEM)
    history = [
        {"role": "user", "content": "Tell me about caches"},
        {"role": "assistant", "content": first.text},
    ]
    reply = workspace.ask("And about TTLs?", system=LONG_SYSTEM, history=history)
    assert reply.verdict == "hit+write" and reply.cache_read > first.usage.cache_write_5m_tokens - 10
    assert reply.why_miss is None


def test_expired_names_the_gap_and_the_ttl(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM)
    simulator.clock.advance("7m")
    reply = workspace.ask("q", system=LONG_SYSTEM)
    cause = reply.why_miss
    assert reply.verdict == "write"
    assert cause.code == cache_watch.EXPIRED and cause.ttl == "5m" and cause.gap_s == 420
    assert "gap 7 min > 5 min" in cause.summary
    assert "last used at" in cause.detail and "ttl='1h'" in cause.detail
    # The truth: within the TTL the simulator reads it; with 1h it survives the same gap.
    simulator.clock.advance("4m")
    assert workspace.ask("q", system=LONG_SYSTEM).verdict == "hit"
    # (Another system prompt: this one's entry is alive at 5m, and an entry keeps its TTL.)
    workspace.ask("q1h", system=LONG_SYSTEM + " Kept for an hour.", ttl="1h")
    simulator.clock.advance("7m")
    reply = workspace.ask("q1h", system=LONG_SYSTEM + " Kept for an hour.", ttl="1h")
    assert reply.verdict == "hit" and reply.why_miss is None


def test_a_1h_entry_expires_after_an_hour(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    simulator.clock.advance("75m")
    reply = workspace.ask("q", system=LONG_SYSTEM, ttl="1h")
    assert reply.verdict == "write"
    assert reply.why_miss.code == cache_watch.EXPIRED and "gap 75 min > 1 h" in reply.why_miss.summary


def test_a_timestamp_in_the_system_prompt_is_named_with_its_offset(workspace) -> None:
    before = "Now: 2026-11-30 10:41:07. " + LONG_SYSTEM
    after = "Now: 2026-11-30 10:47:12. " + LONG_SYSTEM
    workspace.ask("q", system=before)
    reply = workspace.ask("q", system=after)
    cause = reply.why_miss
    assert reply.verdict == "write" and cause.code == cache_watch.PREFIX_CHANGED
    assert cause.location == "system block 0"
    assert cause.offset_exact and cause.offset == before.index("41:07") + 1 == 20
    assert cause.previous_excerpt == "10:41:07." and cause.excerpt == "10:47:12."
    assert "char 20" in cause.summary and "10:47:12" in cause.summary
    # The truth: the same system prompt is read.
    assert workspace.ask("q", system=after).verdict == "hit"


def test_a_counter_deep_in_the_prompt_is_located_exactly(workspace) -> None:
    head, tail = LONG_SYSTEM[:2000], LONG_SYSTEM[2000:]
    workspace.ask("q", system=f"{head} Run 41 of the experiment. {tail}")
    reply = workspace.ask("q", system=f"{head} Run 42 of the experiment. {tail}")
    cause = reply.why_miss
    assert cause.code == cache_watch.PREFIX_CHANGED and cause.offset_exact
    assert cause.offset == len(head) + len(" Run 4")
    assert (cause.previous_excerpt, cause.excerpt) == ("41", "42")


def test_an_edit_without_digits_is_located_to_within_a_chunk(workspace) -> None:
    head, tail = LONG_SYSTEM[:3000], LONG_SYSTEM[3000:]
    workspace.ask("q", system=f"{head} Be terse. {tail}")
    reply = workspace.ask("q", system=f"{head} Be verbose. {tail}")
    cause = reply.why_miss
    true_offset = len(head) + len(" Be ")
    assert cause.code == cache_watch.PREFIX_CHANGED and not cause.offset_exact
    assert cause.offset <= true_offset < cause.offset + 64
    assert "near char" in cause.summary and "verbose" in cause.detail


def test_a_secret_in_the_changed_text_is_never_shown(workspace) -> None:
    secret_a = "sk-ant-api03-" + "A" * 40 + "1111"
    secret_b = "sk-ant-api03-" + "A" * 40 + "2222"
    workspace.ask("q", system=f"{LONG_SYSTEM} Key: {secret_a} end.")
    reply = workspace.ask("q", system=f"{LONG_SYSTEM} Key: {secret_b} end.")
    cause = reply.why_miss
    assert cause.code == cache_watch.PREFIX_CHANGED
    for text in (cause.summary, cause.detail, repr(cause)):
        assert "AAAAAAAA" not in text and "1111" not in text and "2222" not in text
    assert "withheld" in cause.detail


def test_a_different_document_is_a_first_write_not_a_miss(workspace) -> None:
    workspace.ask("q", system=LONG_SYSTEM)
    reply = workspace.ask("q", system="A wholly different document about gardening in spring. " * 80)
    assert reply.verdict == "write" and reply.why_miss is None


def test_a_changed_tool_is_named(workspace) -> None:
    def tools(description: str) -> list[dict]:
        schema = {"type": "object", "properties": {"q": {"type": "string"}}}
        return [{"name": "search", "description": description, "input_schema": schema}]

    workspace.ask(
        "q", system=LONG_SYSTEM, tools=tools("Search the web for a query and return the top results.")
    )
    reply = workspace.ask(
        "q", system=LONG_SYSTEM, tools=tools("Search the web for a query and return the best results.")
    )
    assert reply.verdict == "write"
    assert reply.why_miss.code == cache_watch.PREFIX_CHANGED
    assert reply.why_miss.location == "tool 0 (search)"


def test_a_changed_tool_choice_is_named(workspace) -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    tools = [{"name": "search", "description": "Search the web.", "input_schema": schema}]
    # The question is marked (cache_last_turn=True), so there is a message entry to invalidate.
    workspace.ask("q", system=LONG_SYSTEM, tools=tools, cache_last_turn=True)
    reply = workspace.ask(
        "q",
        system=LONG_SYSTEM,
        tools=tools,
        tool_choice={"type": "tool", "name": "search"},
        cache_last_turn=True,
    )
    # The simulator keeps tools and system (read) and invalidates the messages (written).
    assert reply.verdict == "hit+write"
    cause = reply.why_miss
    assert cause.code == cache_watch.PREFIX_CHANGED and "tool_choice changed" in cause.summary
    assert "'auto'" in cause.detail and "'tool'" in cause.detail


def test_a_different_model_is_named(workspace) -> None:
    workspace.ask("q", system=LONG_SYSTEM, model="claude-sonnet-5-5")
    reply = workspace.ask("q", system=LONG_SYSTEM, model="claude-haiku-5-5")
    assert reply.verdict == "write"
    assert reply.why_miss.code == cache_watch.SCOPE_CHANGED
    assert reply.why_miss.summary == "different model: cached for claude-sonnet-5-5"
    assert workspace.ask("q", system=LONG_SYSTEM, model="claude-sonnet-5-5").verdict == "hit"


def test_a_different_credential_kind_is_named(workspace, agent) -> None:
    onboarding.save_setup_token(agent, sim.DEMO_SETUP_TOKEN, profile_id="anthropic:manual")
    workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:default")
    reply = workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:manual")
    assert reply.credential_type == "token" and reply.verdict == "write"
    cause = reply.why_miss
    assert cause.code == cache_watch.SCOPE_CHANGED and "credential kind" in cause.summary
    assert "api_key" in cause.detail and "identity block" in cause.detail
    assert workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:manual").verdict == "hit"


def test_a_different_organisation_is_named(workspace, agent, simulator) -> None:
    other_key = simulator.add_api_key(organization="org-other", workspace="wrkspc-other")
    onboarding.save_api_key(agent, other_key, profile_id="anthropic:other")
    workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:default")
    reply = workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:other")
    assert reply.verdict == "write"
    assert reply.why_miss.code == cache_watch.SCOPE_CHANGED
    assert "different organisation" in reply.why_miss.summary
    assert "org-other" not in reply.why_miss.summary  # it names where the entry is
    assert workspace.ask("q", system=LONG_SYSTEM, profile="anthropic:other").verdict == "hit"


def test_an_evicted_entry_is_not_found(workspace, simulator) -> None:
    workspace.ask("q", system=LONG_SYSTEM)
    simulator.reset_cache()
    reply = workspace.ask("q", system=LONG_SYSTEM)
    assert reply.verdict == "write" and reply.why_miss.code == cache_watch.NOT_FOUND


def test_a_parallel_write_still_in_flight_is_named(make_workspace) -> None:
    """Two calls sent together: the simulator makes a write visible only when its response
    begins (here after a short latency), so both write; the one answered second says why."""
    simulator = sim.Simulator(latency=sim.LatencyModel(scale=1.0, base_seconds=0.3))
    workspace = make_workspace(simulator=simulator)

    async def both():
        return await asyncio.gather(
            workspace.aask("q", system=LONG_SYSTEM), workspace.aask("q", system=LONG_SYSTEM)
        )

    replies = asyncio.run(both())
    assert [r.verdict for r in replies] == ["write", "write"]
    causes = sorted([r.why_miss for r in replies], key=lambda c: c is not None)
    assert causes[0] is None
    assert causes[1].code == cache_watch.IN_FLIGHT and "first token" in causes[1].detail
    # The truth: once one response has begun, the next call reads it.
    assert workspace.ask("q", system=LONG_SYSTEM).verdict == "hit"


def test_a_prefix_under_the_minimum_is_named(workspace, simulator) -> None:
    reply = workspace.ask("short question", system="Be brief.")
    assert reply.verdict == "miss"
    cause = reply.why_miss
    assert cause.code == cache_watch.UNDER_MINIMUM and "< 512 tokens" in cause.summary
    # The truth: with a lower minimum the simulator caches the same prompt.
    simulator.set_min_cacheable("claude-sonnet-5-5", 4)
    assert workspace.ask("short question", system="Be brief.").verdict == "write"


def test_a_shared_part_under_the_minimum_is_named(workspace) -> None:
    """claude-sonnet-4-6 needs 1,024 tokens: a ~450-token system prompt plus a ~600-token
    question is cached as a whole, but the system prompt alone never is."""
    system = "Answer as a careful and friendly reviewer of code. " * 45
    question = "Please review this function and explain what it does in detail. " * 50
    model = "claude-sonnet-4-6"
    # The questions are marked (cache_last_turn=True): cached whole, over the minimum.
    first = workspace.ask(question + "One.", system=system, model=model, cache_last_turn=True)
    assert first.verdict == "write"
    reply = workspace.ask(question + "Two.", system=system, model=model, cache_last_turn=True)
    assert reply.verdict == "write"
    cause = reply.why_miss
    assert cause.code == cache_watch.UNDER_MINIMUM and cause.location == "system"
    assert "shared system" in cause.summary and "1,024" in cause.summary
    # The truth: a system prompt over the minimum is read by the next question.
    long_system = system * 3  # ~1,350 tokens
    workspace.ask(question + "One.", system=long_system, model=model, cache_last_turn=True)
    again = workspace.ask(question + "Two.", system=long_system, model=model, cache_last_turn=True)
    assert again.verdict == "hit+write"


def _blocks(count: int, marked: tuple[int, ...] = (), log: str = "experiment") -> list[dict]:
    blocks = []
    for index in range(count):
        block = {"type": "text", "text": f"Observation number {index} of the {log} log."}
        if index in marked:
            block["cache_control"] = {"type": "ephemeral"}
        blocks.append(block)
    return blocks


def test_a_breakpoint_beyond_the_lookback_is_named(workspace) -> None:
    """The first call caches message 0; the next turn adds 25 blocks and marks three of its own,
    so the planner has no slot left for the previous turn: every breakpoint is more than 20
    blocks past the cached prefix."""
    document = "A long report on the caching experiments of the week. " * 80
    first = workspace.ask(document, cache_last_turn=True)  # the first turn, kept for the next
    history = [{"role": "user", "content": document}, {"role": "assistant", "content": first.text}]
    reply = workspace.ask(_blocks(25, marked=(20, 21, 22)), history=history)
    assert reply.verdict == "write" and any("no breakpoint slot" in w for w in reply.plan.warnings)
    cause = reply.why_miss
    assert cause.code == cache_watch.BEYOND_LOOKBACK and cause.location == "message 0"
    assert "23 blocks back (max 20)" in cause.summary
    # The truth: with one breakpoint of our own fewer the planner marks the previous turn too,
    # and the simulator reads message 0.
    reply = workspace.ask(_blocks(25, marked=(20, 21), log="second"), history=history)
    assert reply.verdict == "hit+write" and reply.cache_read >= first.usage.cache_write_5m_tokens - 10


def test_entries_count_hits_and_their_savings_add_up_to_the_replies(workspace, simulator) -> None:
    replies = [workspace.ask("q", system=LONG_SYSTEM)]
    for gap, prompt in (("1m", "q"), ("2m", "another"), ("1m", "q"), ("6m", "q"), ("1m", "q")):
        simulator.clock.advance(gap)
        replies.append(workspace.ask(prompt, system=LONG_SYSTEM))
    every = watch_of(workspace).entries(include_expired=True)
    assert sum(e.saved_usd for e in every) == pytest.approx(sum(r.cost.savings_usd for r in replies))
    live = watch_of(workspace).entries()
    assert {e.area for e in live} == {"system"}  # one-shot questions are not marked
    system = next(e for e in live if e.area == "system")
    assert system.hits == 1 and system.ttl == "5m" and system.saved_usd > 0
    assert system.expires_at == simulator.clock.now() + 300
    kinds = [e.kind for e in watch_of(workspace).timeline()]
    assert kinds.count("expire") == 1 and kinds.count("hit") >= 4
