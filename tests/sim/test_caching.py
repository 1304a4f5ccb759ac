"""Prompt caching as the reference describes it (§2-§4), observed only through SDK usage."""

from __future__ import annotations

import threading
from typing import Any

import anthropic
import pytest

from clawdbot_nb import sim
from clawdbot_nb.sim.latency import LatencyModel
from clawdbot_nb.sim.positions import TRAILING_TOKENS
from tests.sim.sim_support import (
    MODEL,
    NEW_MODEL,
    Api,
    cache_split,
    cached_system,
    prefix_sums,
    total_tokens,
    words,
)

EPHEMERAL = {"type": "ephemeral"}
ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}


_cumulative = prefix_sums


def _three_section_request(**overrides: Any) -> dict:
    """Tools, system and one user turn, each ending in a 5m breakpoint; tools alone exceed 1,024."""
    params: dict = {
        "model": MODEL,
        "max_tokens": 32,
        "tools": [
            {
                "name": "search",
                "description": words(1100, "tools"),
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
                "cache_control": EPHEMERAL,
            }
        ],
        "system": cached_system(words(300, "rules")),
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": words(50), "cache_control": EPHEMERAL}]}
        ],
    }
    params.update(overrides)
    return params


# -- writes, reads, minimums -----------------------------------------------------------------


def test_first_call_writes_second_call_reads(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 32,
        "system": cached_system(words(2000)),
        "messages": [{"role": "user", "content": "Question?"}],
    }
    total = total_tokens(params)
    first = client.messages.create(**params).usage
    second = client.messages.create(**params).usage
    system_tokens = 2000 + 2  # the text plus the system framing
    assert cache_split(first) == (0, system_tokens, 0, system_tokens, total - system_tokens)
    assert cache_split(second) == (system_tokens, 0, 0, 0, total - system_tokens)
    assert first.input_tokens + first.cache_creation_input_tokens == total
    assert second.input_tokens + second.cache_read_input_tokens == total


def test_below_minimum_nothing_is_cached(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 16,
        "system": cached_system(words(900)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    total = total_tokens(params)
    for _ in range(2):
        usage = client.messages.create(**params).usage
        assert cache_split(usage) == (0, 0, 0, 0, total)
    assert api.simulator.cache_entries == 0


def test_minimum_is_per_model(inproc: Api) -> None:
    client = inproc.client()
    system = cached_system(words(800))
    messages = [{"role": "user", "content": "Hi"}]
    # 800 base tokens: below Sonnet 4.6's 1,024, above Haiku 5.5's 512 (and 1.3x tokens there).
    sonnet = client.messages.create(model=MODEL, max_tokens=8, system=system, messages=messages).usage
    haiku = client.messages.create(model=NEW_MODEL, max_tokens=8, system=system, messages=messages).usage
    haiku_45 = client.messages.create(
        model="claude-haiku-4-5", max_tokens=8, system=system, messages=messages
    ).usage
    assert sonnet.cache_creation_input_tokens == 0
    assert haiku.cache_creation_input_tokens == round((800 + 2) * 1.3)
    assert haiku_45.cache_creation_input_tokens == 0  # 4,096 minimum


def test_minimum_can_be_overridden_per_simulator(inproc: Api) -> None:
    client = inproc.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert client.messages.create(**params).usage.cache_creation_input_tokens == 1502
    inproc.simulator.reset_cache()
    inproc.simulator.set_min_cacheable(MODEL, 2048)  # the disputed Sonnet 4.6 value
    assert inproc.simulator.min_cacheable(MODEL) == 2048
    assert client.messages.create(**params).usage.cache_creation_input_tokens == 0
    pinned = sim.Simulator(min_cacheable={MODEL: 2048})
    assert pinned.min_cacheable(MODEL) == 2048 and sim.Simulator().min_cacheable(MODEL) == 1024


def test_prefix_order_is_tools_system_messages(api: Api) -> None:
    params = _three_section_request()
    cumulative = _cumulative(params)
    usage = api.client().messages.create(**params).usage
    # The system breakpoint's prefix includes the tool definition before it; the last one, everything.
    assert usage.cache_creation_input_tokens == cumulative[-1]
    assert cumulative[0] > 1100 and cumulative[1] == cumulative[0] + 302
    second = api.client().messages.create(
        **_three_section_request(messages=[{"role": "user", "content": "new"}])
    )
    assert second.usage.cache_read_input_tokens == cumulative[1]  # tools + system


def test_moving_a_breakpoint_keeps_the_prefix(inproc: Api) -> None:
    client = inproc.client()
    system_text = words(1500)
    first = client.messages.create(
        model=MODEL,
        max_tokens=8,
        system=cached_system(system_text),
        messages=[{"role": "user", "content": "one"}],
    )
    second = client.messages.create(
        model=MODEL,
        max_tokens=8,
        system=[{"type": "text", "text": system_text}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "two", "cache_control": EPHEMERAL}]}],
    )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens == 1502


# -- TTL and the virtual clock -------------------------------------------------------------------


def test_5m_entry_expires_after_five_minutes(inproc: Api) -> None:
    client, clock = inproc.client(), inproc.simulator.clock
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    client.messages.create(**params)
    clock.advance("4m59s")
    assert client.messages.create(**params).usage.cache_read_input_tokens == 1502
    clock.advance("6m")
    usage = client.messages.create(**params).usage
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation.ephemeral_5m_input_tokens == 1502


def test_hit_refreshes_the_ttl(inproc: Api) -> None:
    client, clock = inproc.client(), inproc.simulator.clock
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    client.messages.create(**params)
    for _ in range(3):  # 12 minutes after the write, still alive because every hit refreshed it
        clock.advance("4m")
        assert client.messages.create(**params).usage.cache_read_input_tokens == 1502
    clock.advance(301)
    assert client.messages.create(**params).usage.cache_read_input_tokens == 0


def test_1h_entry_outlives_5m_and_expires_after_an_hour(inproc: Api) -> None:
    client, clock = inproc.client(), inproc.simulator.clock
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500), ttl="1h"),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    first = client.messages.create(**params).usage
    assert first.cache_creation.ephemeral_1h_input_tokens == 1502
    assert first.cache_creation.ephemeral_5m_input_tokens == 0
    clock.advance("59m")
    assert client.messages.create(**params).usage.cache_read_input_tokens == 1502
    clock.advance("1h1m")
    assert client.messages.create(**params).usage.cache_creation.ephemeral_1h_input_tokens == 1502


# -- the A/B/C rule --------------------------------------------------------------------------


def test_mixed_ttl_accounting_follows_abc(api: Api) -> None:
    client = api.client()
    base = _three_section_request()
    base["tools"][0]["cache_control"] = ONE_HOUR
    base["system"] = cached_system(words(300, "rules"), ttl="1h")
    cumulative = _cumulative(base)
    total = total_tokens(base)
    first = client.messages.create(**base).usage
    # A = 0, B = after the system (last 1h breakpoint), C = after the user turn.
    assert cache_split(first) == (
        0,
        cumulative[2] - cumulative[1],
        cumulative[1],
        cumulative[2],
        total - cumulative[2],
    )

    # Only the tools breakpoint (1h) written first; then all three: A = tools, B = system, C = user.
    api.simulator.reset_cache()
    tools_only = {
        **base,
        "system": [{"type": "text", "text": words(300, "rules")}],
        "messages": [{"role": "user", "content": words(50)}],
    }
    assert client.messages.create(**tools_only).usage.cache_creation_input_tokens == cumulative[0]
    second = client.messages.create(**base).usage
    assert cache_split(second) == (
        cumulative[0],
        cumulative[2] - cumulative[1],
        cumulative[1] - cumulative[0],
        cumulative[2] - cumulative[0],
        total - cumulative[2],
    )
    assert second.cache_read_input_tokens + second.cache_creation_input_tokens + second.input_tokens == total


def test_cookbook_identity_read_next_equals_read_plus_write(api: Api) -> None:
    client = api.client()
    book = cached_system(words(5000, "novel"))
    history: list[dict] = []
    reads: list[int] = []
    writes: list[int] = []
    inputs: list[int] = []
    for turn in range(4):
        for message in history:  # only the newest user turn keeps its breakpoint
            if message["role"] == "user":
                message["content"] = [{"type": "text", "text": message["content"][0]["text"]}]
        history.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": f"Question number {turn}: {words(20 + turn)}",
                        "cache_control": EPHEMERAL,
                    }
                ],
            }
        )
        reply = client.messages.create(model=MODEL, max_tokens=300, system=book, messages=history)
        history.append({"role": "assistant", "content": reply.content[0].text})
        reads.append(reply.usage.cache_read_input_tokens)
        writes.append(reply.usage.cache_creation_input_tokens)
        inputs.append(reply.usage.input_tokens)
    assert reads[0] == 0 and writes[0] > 5000
    for n in range(3):
        assert reads[n + 1] == reads[n] + writes[n]
        assert 0 < writes[n + 1] < 100
    # Everything up to the last user turn is cached; only the assistant opener stays uncached.
    assert inputs == [TRAILING_TOKENS] * 4


# -- lookback -----------------------------------------------------------------------------------


def _blocks(count: int, breakpoints: set[int]) -> list[dict]:
    blocks = [{"type": "text", "text": words(1100, "first")}]
    blocks += [{"type": "text", "text": f"block {i}"} for i in range(1, count)]
    for index in breakpoints:
        blocks[index]["cache_control"] = EPHEMERAL
    return blocks


def _lookback_request(count: int, breakpoints: set[int]) -> dict:
    return {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": _blocks(count, breakpoints)}],
    }


def test_lookback_finds_an_entry_within_20_blocks(api: Api) -> None:
    client = api.client()
    turn1 = _lookback_request(11, {10})
    turn2 = _lookback_request(16, {15})
    turn3 = _lookback_request(36, {35})
    c1, c2, c3 = _cumulative(turn1), _cumulative(turn2), _cumulative(turn3)
    assert client.messages.create(**turn1).usage.cache_creation_input_tokens == c1[10]
    second = client.messages.create(**turn2).usage
    assert (second.cache_read_input_tokens, second.cache_creation_input_tokens) == (c1[10], c2[15] - c1[10])
    third = client.messages.create(**turn3).usage
    # 35 looks at 35..16: block 15 is one outside the window, so nothing is read.
    assert (third.cache_read_input_tokens, third.cache_creation_input_tokens) == (0, c3[35])


def test_lookback_resumes_from_an_earlier_breakpoint(api: Api) -> None:
    client = api.client()
    client.messages.create(**_lookback_request(11, {10}))
    client.messages.create(**_lookback_request(16, {15}))
    turn3 = _lookback_request(36, {15, 35})
    c3 = _cumulative(turn3)
    third = client.messages.create(**turn3).usage
    assert (third.cache_read_input_tokens, third.cache_creation_input_tokens) == (c3[15], c3[35] - c3[15])


def test_lookback_window_includes_the_breakpoint_itself(inproc: Api) -> None:
    client = inproc.client()
    client.messages.create(**_lookback_request(11, {10}))
    at_edge = _lookback_request(30, {29})  # 29..10 is exactly 20 positions
    assert client.messages.create(**at_edge).usage.cache_read_input_tokens == _cumulative(at_edge)[10]


def _parallel_tool_turns(calls: int) -> list[dict]:
    """A first turn to cache, an assistant turn of `calls` parallel tool calls, and a user turn
    of their results with a breakpoint on the last one."""
    uses = [
        {"type": "tool_use", "id": f"toolu_{i:02d}", "name": "lookup", "input": {"n": i}}
        for i in range(calls)
    ]
    results = [
        {"type": "tool_result", "tool_use_id": f"toolu_{i:02d}", "content": f"r{i}"} for i in range(calls)
    ]
    results[-1]["cache_control"] = EPHEMERAL
    return [
        {"role": "user", "content": [{"type": "text", "text": words(1100), "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Looking them up."}, *uses]},
        {"role": "user", "content": results},
    ]


def test_lookback_counts_a_tool_run_as_one_position(api: Api) -> None:
    """Ten parallel calls and their results are 21 blocks past the cached turn, but only three
    positions (the text, one run of tool_use blocks, one run of tool_result blocks): the API
    finds the entry, so the simulator must too."""
    client = api.client()
    tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
    messages = _parallel_tool_turns(10)
    first = client.messages.create(model=MODEL, max_tokens=8, tools=[tool], messages=messages[:1])
    written = first.usage.cache_creation_input_tokens
    assert written > 1100
    del messages[0]["content"][0]["cache_control"]  # the breakpoint moves on, as a client moves it
    second = client.messages.create(model=MODEL, max_tokens=8, tools=[tool], messages=messages)
    cumulative = _cumulative({"model": MODEL, "tools": [tool], "messages": messages})
    assert second.usage.cache_read_input_tokens == written
    assert second.usage.cache_creation_input_tokens == cumulative[-1] - written
    # As text blocks, the same 21 blocks are 21 positions: the entry is one outside the window.
    as_text = [
        messages[0],
        {"role": "assistant", "content": [{"type": "text", "text": f"note {i}"} for i in range(11)]},
        {"role": "user", "content": [{"type": "text", "text": f"result {i}"} for i in range(10)]},
    ]
    as_text[2]["content"][-1]["cache_control"] = EPHEMERAL
    interleaved = client.messages.create(model=MODEL, max_tokens=8, tools=[tool], messages=as_text)
    assert interleaved.usage.cache_read_input_tokens == 0


# -- automatic (top-level) caching --------------------------------------------------------------


def test_automatic_caching_moves_forward(api: Api) -> None:
    client = api.client()
    system = words(1500)
    history: list[dict] = [{"role": "user", "content": "first turn"}]
    usages = []
    for turn in range(3):
        reply = client.messages.create(
            model=MODEL, max_tokens=32, system=system, messages=history, cache_control={"type": "ephemeral"}
        )
        usages.append(reply.usage)
        history += [
            {"role": "assistant", "content": reply.content[0].text},
            {"role": "user", "content": f"turn {turn + 2}"},
        ]
    assert usages[0].cache_read_input_tokens == 0
    for n in range(2):
        assert (
            usages[n + 1].cache_read_input_tokens
            == usages[n].cache_read_input_tokens + usages[n].cache_creation_input_tokens
        )
    assert all(u.input_tokens == TRAILING_TOKENS for u in usages)


def test_automatic_caching_walks_back_to_cacheable(inproc: Api) -> None:
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": words(1500),
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}],
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }
    usage = inproc.client().messages.create(**params).usage
    # The empty final assistant turn cannot be cached; the marker lands on the user turn.
    assert usage.cache_creation.ephemeral_1h_input_tokens == _cumulative(params)[1]


def test_automatic_with_same_explicit_ttl_is_a_no_op(inproc: Api) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"{words(300)} {i}", "cache_control": EPHEMERAL} for i in range(4)
            ],
        }
    ]
    usage = (
        inproc.client()
        .messages.create(model=MODEL, max_tokens=8, messages=messages, cache_control={"type": "ephemeral"})
        .usage
    )
    assert usage.cache_creation_input_tokens > 1024


def test_automatic_ttl_conflicting_with_last_block_is_400(api: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        api.client().messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": EPHEMERAL}]}
            ],
            cache_control={"type": "ephemeral", "ttl": "1h"},
        )
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "cache_control" in caught.value.body["error"]["message"]


def test_automatic_plus_four_explicit_breakpoints_is_400(api: Api) -> None:
    content = [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(4)]
    content.append({"type": "text", "text": "tail"})
    with pytest.raises(anthropic.BadRequestError) as caught:
        api.client().messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[{"role": "user", "content": content}],
            cache_control={"type": "ephemeral"},
        )
    assert (
        caught.value.body["error"]["message"]
        == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    )


# -- breakpoint limits --------------------------------------------------------------------------


def test_more_than_four_breakpoints_is_400(api: Api) -> None:
    content = [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError) as caught:
        api.client().messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": content}]
        )
    assert caught.value.status_code == 400
    assert caught.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    }


def test_one_hour_after_five_minutes_is_400(api: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        api.client().messages.create(
            model=MODEL,
            max_tokens=8,
            system=cached_system("rules"),
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": ONE_HOUR}]}
            ],
        )
    assert caught.value.body["error"]["message"] == (
        "Blocks are processed in the following order: `tools`, `system`, `messages`. "
        "A `ttl='1h'` cache_control block must not come after a `ttl='5m'` cache_control block."
    )


# -- invalidation (reference §3.2) ----------------------------------------------------------------


def _read_after(api: Api, **changes: Any) -> tuple[int, list[int]]:
    """Write the three-section request, then send a changed one; returns its read and the base prefix sums."""
    client = api.client()
    base = _three_section_request()
    client.messages.create(**base)
    changed = _three_section_request(**changes)
    return client.messages.create(**changed).usage.cache_read_input_tokens, _cumulative(base)


def test_changing_tools_invalidates_everything(inproc: Api) -> None:
    tools = _three_section_request()["tools"]
    tools[0]["description"] += " changed"
    read, _ = _read_after(inproc, tools=tools)
    assert read == 0


def test_switching_model_invalidates_everything(inproc: Api) -> None:
    read, _ = _read_after(inproc, model="claude-sonnet-5")
    assert read == 0


def test_editing_system_keeps_the_tools_prefix(inproc: Api) -> None:
    read, cumulative = _read_after(inproc, system=cached_system(words(300, "other")))
    assert read == cumulative[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"extra_body": {"speed": "fast"}},
        {
            "tools": [
                *_three_section_request()["tools"],
                {"type": "web_search_20250305", "name": "web_search"},
            ]
        },
    ],
    ids=["speed", "web_search"],
)
def test_speed_and_web_search_toggles_keep_tools_only(inproc: Api, changes: dict) -> None:
    read, cumulative = _read_after(inproc, **changes)
    assert read == cumulative[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"tool_choice": {"type": "any"}},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
    ],
    ids=["tool_choice", "thinking"],
)
def test_tool_choice_and_thinking_keep_tools_and_system(inproc: Api, changes: dict) -> None:
    read, cumulative = _read_after(inproc, **changes)
    assert read == cumulative[1]


def test_changing_effort_invalidates_the_messages_part(inproc: Api) -> None:
    read, cumulative = _read_after(inproc, output_config={"effort": "low"})
    assert read == cumulative[1]  # tools and system read, the messages written again


@pytest.mark.parametrize(
    "changes",
    [
        {"tool_choice": {"type": "auto"}},
        {"thinking": {"type": "disabled"}},
        {"output_config": {"effort": "high"}},  # Sonnet 4.6's default effort
    ],
    ids=["tool_choice_auto", "thinking_disabled", "default_effort"],
)
def test_spelling_out_a_default_keeps_the_whole_prefix(inproc: Api, changes: dict) -> None:
    read, cumulative = _read_after(inproc, **changes)
    assert read == cumulative[2]


def test_adding_an_image_invalidates_messages(inproc: Api) -> None:
    client = inproc.client()
    first_turn = {
        "role": "user",
        "content": [{"type": "text", "text": words(50), "cache_control": EPHEMERAL}],
    }
    base = _three_section_request(messages=[first_turn])
    client.messages.create(**base)
    cumulative = _cumulative(base)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    same_first_turn = {
        "role": "user",
        "content": [{"type": "text", "text": words(50), "cache_control": EPHEMERAL}],
    }
    later = [
        same_first_turn,
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
            ],
        },
    ]
    usage = client.messages.create(**_three_section_request(messages=later)).usage
    # The first user turn is unchanged, but images now present: only tools + system are read.
    assert usage.cache_read_input_tokens == cumulative[1]


def test_reordered_tool_use_input_keys_miss(inproc: Api) -> None:
    client = inproc.client()

    def request(arguments: dict) -> dict:
        return {
            "model": MODEL,
            "max_tokens": 8,
            "system": cached_system(words(1500)),
            "messages": [
                {"role": "user", "content": "call it"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": arguments}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "done",
                            "cache_control": EPHEMERAL,
                        }
                    ],
                },
            ],
        }

    first = client.messages.create(**request({"a": 1, "b": 2})).usage
    same = client.messages.create(**request({"a": 1, "b": 2})).usage
    reordered = client.messages.create(**request({"b": 2, "a": 1})).usage
    assert same.cache_read_input_tokens == first.cache_creation_input_tokens
    assert reordered.cache_read_input_tokens == 1502  # only the system prefix still matches


# -- scope -------------------------------------------------------------------------------------


def test_cache_is_isolated_per_workspace(inproc: Api) -> None:
    simulator = inproc.simulator
    key_a = simulator.add_api_key(workspace="wrk_a")
    key_b = simulator.add_api_key(workspace="wrk_b")
    key_a2 = simulator.add_api_key(workspace="wrk_a")
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    inproc.client(key_a).messages.create(**params)
    assert inproc.client(key_b).messages.create(**params).usage.cache_read_input_tokens == 0
    assert inproc.client(key_a2).messages.create(**params).usage.cache_read_input_tokens == 1502
    assert simulator.requests.last(secret=key_b).workspace == "wrk_b"


def test_cache_is_isolated_per_organization(inproc: Api) -> None:
    simulator = inproc.simulator
    mine = simulator.add_api_key(workspace="wrk_shared", organization="org-one")
    theirs = simulator.add_api_key(workspace="wrk_shared", organization="org-two")
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    inproc.client(mine).messages.create(**params)
    assert inproc.client(theirs).messages.create(**params).usage.cache_read_input_tokens == 0


# -- visibility ----------------------------------------------------------------------------------


def test_entry_usable_once_the_response_begins(inproc: Api) -> None:
    client = inproc.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    first = client.messages.create(stream=True, **params)  # headers received, no event read yet
    second = client.messages.create(stream=True, **params)
    first_usage = next(iter(first)).message.usage
    second_usage = next(iter(second)).message.usage
    first.close()
    second.close()
    assert first_usage.cache_creation_input_tokens == second_usage.cache_creation_input_tokens == 1502
    assert client.messages.create(**params).usage.cache_read_input_tokens == 1502


def test_parallel_identical_requests_both_pay_full_price(loopback: Api) -> None:
    loopback.simulator.latency = LatencyModel(scale=1.0, base_seconds=0.3)
    client = loopback.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    usages: list[Any] = []
    barrier = threading.Barrier(3)

    def send() -> None:
        barrier.wait()
        usages.append(client.messages.create(**params).usage)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [u.cache_creation_input_tokens for u in usages] == [1502, 1502, 1502]
    assert client.messages.create(**params).usage.cache_read_input_tokens == 1502


# -- max_tokens: 0 pre-warming --------------------------------------------------------------------


def test_prewarm_with_max_tokens_zero(api: Api) -> None:
    client = api.client()
    system = cached_system(words(5000))
    warm = client.messages.create(
        model=MODEL, max_tokens=0, system=system, messages=[{"role": "user", "content": "warm"}]
    )
    assert warm.content == []
    assert warm.stop_reason == "max_tokens"
    assert warm.usage.output_tokens == 0
    assert warm.usage.cache_creation.ephemeral_5m_input_tokens == 5002
    real = client.messages.create(
        model=MODEL, max_tokens=64, system=system, messages=[{"role": "user", "content": "Reply with ready."}]
    )
    assert real.usage.cache_read_input_tokens == 5002
    assert real.content[0].text == "ready"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"stream": True}, "stream"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking"),
        (
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            "output_config.format",
        ),
        (
            {"tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"}},
            "tool_choice",
        ),
        (
            {
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "t"},
            },
            "tool_choice",
        ),
    ],
    ids=["stream", "thinking", "output_format", "tool_choice_any", "tool_choice_tool"],
)
def test_prewarm_rejections(inproc: Api, extra: dict, needle: str) -> None:
    client = inproc.client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post(
            "/v1/messages",
            body={
                "model": MODEL,
                "max_tokens": 0,
                "messages": [{"role": "user", "content": "warm"}],
                **extra,
            },
            cast_to=dict,
        )
    error = caught.value.body["error"]
    assert error["type"] == "invalid_request_error"
    assert needle in error["message"]


# -- bookkeeping ---------------------------------------------------------------------------------


def test_reset_cache_forgets_every_entry(inproc: Api) -> None:
    client = inproc.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Hi"}],
    }
    client.messages.create(**params)
    assert inproc.simulator.cache_entries == 1
    inproc.simulator.reset_cache()
    assert inproc.simulator.cache_entries == 0
    assert client.messages.create(**params).usage.cache_read_input_tokens == 0


def test_cache_reads_not_deducted_from_rate_limit(inproc: Api) -> None:
    client = inproc.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(50_000)),
        "messages": [{"role": "user", "content": "Hi"}],
    }

    def remaining() -> int:
        raw = client.messages.with_raw_response.create(**params)
        return int(raw.headers["anthropic-ratelimit-input-tokens-remaining"])

    after_write = remaining()
    after_read = remaining()
    limit = inproc.simulator.rate_limits.input_tokens_per_minute
    assert after_write == limit - 50_000
    assert after_read == after_write
