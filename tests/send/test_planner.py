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


def test_system_and_last_user_turn_are_marked() -> None:
    plan = plan_cache(request(), ttl="1h")
    assert markers(plan) == [("system", ("system", 0), "1h"), ("last user turn", ("messages", 0, 0), "1h")]
    assert plan.params["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert plan.params["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert plan.ttl_applied == "1h" and plan.ttl_source == "call" and plan.cacheable


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
        request(tools=tools, messages=[{"role": "user", "content": [*blocks, {"type": "text", "text": "q"}]}])
    )
    assert len(plan.breakpoints) == 4
    assert sum(b.where == "yours" for b in plan.breakpoints) == 3
    assert any("no breakpoint slot left" in w for w in plan.warnings)


def test_a_1h_breakpoint_never_follows_a_5m_one() -> None:
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": "5m"}}]
    plan = plan_cache(request(system=system), ttl="1h")
    ttls = [b.ttl or "5m" for b in plan.breakpoints]
    assert ttls == ["5m", "5m"]
    assert any("lowered to 5m" in w for w in plan.warnings)


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
    plan = plan_cache(request(messages=messages))
    assert ("last user turn", ("messages", 0, 0), "5m") in markers(plan)


def test_below_minimum_is_reported_with_the_numbers() -> None:
    plan = plan_cache(request(system="Short."))
    assert all(b.below_minimum for b in plan.breakpoints)
    (warning,) = plan.warnings
    assert "nothing will be cached" in warning and "512-token minimum of claude-sonnet-5-5" in warning
    assert plan_cache(request(model="claude-sonnet-4-6")).min_cacheable_tokens == 1024


def test_prefix_estimates_grow_along_the_request() -> None:
    plan = plan_cache(request())
    system_bp, user_bp = plan.breakpoints
    assert 0 < system_bp.prefix_tokens < user_bp.prefix_tokens
