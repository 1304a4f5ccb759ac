"""The cache planner as a pure function: where breakpoints go, which TTL, what is reported."""

from __future__ import annotations

import pytest

from clawdbot_nb.api.planner import OAUTH_TTL_NOTE, plan_cache, resolve_ttl
from clawdbot_nb.errors import UsageError
from clawdbot_nb.state.config import CacheTtlSetting

LONG = "A long and stable system prompt about prompt caching. " * 80


def request(**extra) -> dict:
    return {"model": "claude-sonnet-5-5", "max_tokens": 100, "system": LONG,
            "messages": [{"role": "user", "content": "question"}], **extra}  # fmt: skip


def markers(plan) -> list[tuple]:
    return [(b.where, b.path, b.ttl) for b in plan.breakpoints]


def conversation_messages(turns: int) -> list[dict]:
    """`turns` user turns with an answer between each two."""
    messages: list[dict] = []
    for turn in range(turns):
        messages.append({"role": "user", "content": f"question {turn}"})
        if turn < turns - 1:
            messages.append({"role": "assistant", "content": f"answer {turn}"})
    return messages


def test_a_one_shot_call_marks_the_system_not_the_question() -> None:
    plan = plan_cache(request(), ttl="1h")
    assert markers(plan) == [("system", ("system", 0), "1h")]
    assert plan.params["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in plan.params["messages"][0]["content"][0]
    assert plan.ttl_applied == "1h" and plan.ttl_source == "call" and plan.cacheable
    assert plan.placement == "marked system (one-shot)"


def test_the_caller_can_ask_for_the_last_turn_breakpoint() -> None:
    plan = plan_cache(request(), ttl="1h", last_turn=True)
    assert markers(plan) == [("system", ("system", 0), "1h"), ("last user turn", ("messages", 0, 0), "1h")]
    assert plan.params["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert plan.placement == "marked system + turn (kept for next turn)"


def test_a_call_that_continues_a_conversation_marks_its_last_turn() -> None:
    plan = plan_cache(request(messages=conversation_messages(3)))
    assert markers(plan) == [("system", ("system", 0), "5m"), ("last user turn", ("messages", 4, 0), "5m")]
    assert plan.placement == "marked system + turn (conversation)"
    never = plan_cache(request(messages=conversation_messages(3)), last_turn=False)
    assert markers(never) == [("system", ("system", 0), "5m")]
    assert never.placement == "marked system (last turn off)"


def test_the_history_breakpoint_moves_with_the_conversation() -> None:
    """One history breakpoint, on the newest user turn: the entry the previous turn wrote sits
    2 blocks back, well inside the 20-block lookback, so it needs no breakpoint of its own."""
    for turns in range(2, 12):
        plan = plan_cache(request(messages=conversation_messages(turns)))
        history = [b.path for b in plan.breakpoints if b.where in ("last user turn", "previous turn")]
        assert history == [("messages", 2 * turns - 2, 0)]
        assert len(plan.breakpoints) == 2


def test_a_prompt_without_stable_prefix_marks_nothing_one_shot() -> None:
    plan = plan_cache(
        {"model": "claude-sonnet-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": LONG}]}
    )
    assert plan.breakpoints == () and plan.ttl_applied == "5m"
    assert plan.placement == "nothing marked (one-shot)"


def test_a_shared_document_is_marked_and_the_question_after_it_is_not() -> None:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": LONG}}
    asked = [document, {"type": "text", "text": "What does it say about caching?"}]
    plan = plan_cache(request(system=None, messages=[{"role": "user", "content": asked}]))
    assert markers(plan) == [("document", ("messages", 0, 0), "5m")]
    assert plan.placement == "marked document (one-shot)"
    # A document that ends the prompt belongs to this one question: not material to share.
    alone = plan_cache(request(system=None, messages=[{"role": "user", "content": [document]}]))
    assert alone.breakpoints == ()
    # In a conversation it stays marked while the history breakpoint moves on.
    history = [{"role": "user", "content": asked}, {"role": "assistant", "content": "It says a lot."},
               {"role": "user", "content": "And more?"}]  # fmt: skip
    plan = plan_cache(request(messages=history))
    assert [b.where for b in plan.breakpoints] == ["system", "document", "last user turn"]


def test_the_callers_request_is_not_changed() -> None:
    original = request()
    plan_cache(original, ttl="5m")
    assert original == request()


def test_tools_get_a_breakpoint_on_the_last_tool() -> None:
    tools = [{"name": f"t{i}", "description": "d", "input_schema": {"type": "object"}} for i in range(3)]
    plan = plan_cache(request(tools=tools))
    assert ("tools", ("tools", 2), "5m") in markers(plan)
    assert "cache_control" not in plan.params["tools"][0]


def test_ttl_resolution_order() -> None:
    configured = CacheTtlSetting(
        "1h", 'agents.defaults.models["anthropic/claude-sonnet-5-5"].params.cacheControlTtl'
    )
    assert resolve_ttl("5m", configured) == ("5m", "call")
    assert resolve_ttl(None, configured) == ("1h", configured.source)
    assert resolve_ttl(None, None) == ("5m", "default")
    with pytest.raises(UsageError, match="5m or 1h"):
        resolve_ttl("30s", None)


def test_oauth_sends_plain_ephemeral_and_says_the_ttl_was_ignored() -> None:
    plan = plan_cache(request(), ttl="1h", oauth_wire=True)
    assert plan.ttl_applied == "5m" and plan.ttl_note == OAUTH_TTL_NOTE and plan.ttl_requested == "1h"
    assert all(b.ttl is None for b in plan.breakpoints)
    assert plan.params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert plan_cache(request(), ttl="5m", oauth_wire=True).ttl_note is None  # nothing was ignored


def test_none_and_cache_false_send_no_cache_control() -> None:
    for plan in (plan_cache(request(), ttl="none"), plan_cache(request(), cache=False)):
        assert plan.ttl_applied == "none" and plan.breakpoints == ()
        assert "cache_control" not in plan.params["system"][0]


def test_never_more_than_four_and_the_callers_own_count() -> None:
    blocks = [
        {"type": "text", "text": f"block {i}", "cache_control": {"type": "ephemeral"}} for i in range(3)
    ]
    tools = [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]
    plan = plan_cache(
        request(
            tools=tools, messages=[{"role": "user", "content": [*blocks, {"type": "text", "text": "q"}]}]
        ),
        last_turn=True,
    )
    assert len(plan.breakpoints) == 4
    assert sum(b.where == "yours" for b in plan.breakpoints) == 3
    assert [b.where for b in plan.breakpoints if b.where != "yours"] == ["last user turn"]
    assert any("no breakpoint slot left" in w for w in plan.warnings)


def test_with_every_kind_wanted_the_tools_breakpoint_gives_way() -> None:
    """Tools, system, a document, a long last turn and the previous turn want 5 slots: the tools'
    prefix is part of the system entry, so that one is dropped."""
    tools = [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": LONG}}
    long_turn = [{"type": "text", "text": f"note {i}"} for i in range(25)]
    messages = [{"role": "user", "content": [document, {"type": "text", "text": "first"}]},
                {"role": "assistant", "content": "answer"}, {"role": "user", "content": long_turn}]  # fmt: skip
    plan = plan_cache(request(tools=tools, messages=messages))
    assert [b.where for b in plan.breakpoints] == ["system", "document", "previous turn", "last user turn"]
    assert plan.warnings == ("no breakpoint slot left for the tools (4 at most per request)",)


def test_a_1h_breakpoint_never_follows_a_5m_one() -> None:
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": "5m"}}]
    plan = plan_cache(request(system=system, messages=conversation_messages(2)), ttl="1h")
    ttls = [b.ttl or "5m" for b in plan.breakpoints]
    assert ttls == ["5m", "5m"]
    assert any("lowered to 5m" in w for w in plan.warnings)


def test_a_5m_breakpoint_of_ours_never_precedes_a_1h_one_of_yours() -> None:
    asked = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
             {"type": "text", "text": "question"}]  # fmt: skip
    plan = plan_cache(request(messages=[{"role": "user", "content": asked}]), ttl="5m")
    assert [(b.where, b.ttl) for b in plan.breakpoints] == [("system", "1h"), ("yours", "1h")]
    assert any("raised to 1h" in w for w in plan.warnings)


def test_previous_turn_is_marked_only_beyond_the_20_block_lookback() -> None:
    def conversation(blocks_in_last_turn: int) -> dict:
        last = [{"type": "text", "text": f"b{i}"} for i in range(blocks_in_last_turn)]
        return request(messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": last},
        ])  # fmt: skip

    # previous user block at index p, assistant at p+1, the new turn's last block at p+1+n.
    assert "previous turn" not in [b.where for b in plan_cache(conversation(18)).breakpoints]
    near = plan_cache(conversation(19))
    far = plan_cache(conversation(25))
    assert "previous turn" in [b.where for b in near.breakpoints]  # 20 blocks apart: just out of reach
    assert ("previous turn", ("messages", 0, 0), "5m") in markers(far)


def test_an_empty_text_block_is_never_marked() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "text", "text": ""}]}]
    plan = plan_cache(request(messages=messages), last_turn=True)
    assert ("last user turn", ("messages", 0, 0), "5m") in markers(plan)


def test_below_minimum_is_reported_with_the_numbers() -> None:
    plan = plan_cache(request(system="Short."))
    assert all(b.below_minimum for b in plan.breakpoints)
    (warning,) = plan.warnings
    assert "nothing will be cached" in warning and "512-token minimum of claude-sonnet-5-5" in warning
    assert plan_cache(request(model="claude-sonnet-4-6")).min_cacheable_tokens == 1024


def test_prefix_estimates_grow_along_the_request() -> None:
    plan = plan_cache(request(messages=conversation_messages(2)))
    system_bp, user_bp = plan.breakpoints
    assert 0 < system_bp.prefix_tokens < user_bp.prefix_tokens


def test_any_request_gets_at_most_four_breakpoints_and_1h_never_after_5m() -> None:
    import random

    rng = random.Random(14)
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}
    for _ in range(400):
        messages = []
        theirs, theirs_placed = rng.choice(("5m", "1h")), 0  # the caller's own: one TTL, at most 3
        for turn in range(rng.randint(1, 6)):
            blocks = [{"type": "text", "text": f"t{turn} b{i}"} for i in range(rng.choice((1, 2, 12, 30)))]
            if rng.random() < 0.3:
                blocks.insert(0, dict(document))
            for block in blocks:
                if rng.random() < 0.05 and theirs_placed < 3:
                    theirs_placed += 1
                    block["cache_control"] = {"type": "ephemeral", "ttl": theirs}
            messages += [{"role": "user", "content": blocks}, {"role": "assistant", "content": f"a{turn}"}]
        messages.pop()
        tools = [{"name": f"t{i}", "description": "d", "input_schema": {"type": "object"}}
                 for i in range(rng.randint(0, 3))]  # fmt: skip
        body = request(messages=messages, **({"tools": tools} if tools else {}))
        plan = plan_cache(
            body,
            ttl=rng.choice(("5m", "1h")),
            last_turn=rng.choice((None, True, False)),
            oauth_wire=rng.random() < 0.2,
        )
        assert len(plan.breakpoints) <= 4
        ttls = [b.ttl or "5m" for b in plan.breakpoints]
        assert "5m" not in ttls or "1h" not in ttls[ttls.index("5m") :], ttls
        assert plan.placement
