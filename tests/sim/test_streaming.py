"""SSE streaming through the SDK: event order, usage in message_start and message_delta, async."""

from __future__ import annotations

import asyncio
import json

import anthropic

from clawdbot_nb.sim.bpe import count_text
from tests.sim.sim_support import MODEL, Api, cached_system, words


def _raw_events(api: Api, **params: object) -> list[tuple[str, dict]]:
    client = api.client()
    with client.messages.with_streaming_response.create(stream=True, **params) as response:
        return [
            (event.event, json.loads(event.data))
            for event in anthropic.Stream.raw_events(response.http_response)
        ]


def test_stream_event_sequence(api: Api) -> None:
    events = _raw_events(
        api, model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Tell me about streams"}]
    )
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    middle = names[3:-3]
    assert middle and set(middle) == {"content_block_delta"}
    for name, payload in events:
        assert payload["type"] == name
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert events[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_stream_usage_in_message_start_and_delta(api: Api) -> None:
    params = {
        "model": MODEL,
        "max_tokens": 64,
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "Summarise"}],
    }
    api.client().messages.create(**params)  # write the cache
    events = _raw_events(api, **params)
    start_usage = events[0][1]["message"]["usage"]
    assert start_usage["cache_read_input_tokens"] > 1500
    assert start_usage["cache_creation_input_tokens"] == 0
    assert start_usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    assert start_usage["service_tier"] == "standard"
    assert start_usage["output_tokens"] == 1
    delta_usage = events[-2][1]["usage"]
    assert delta_usage["cache_read_input_tokens"] == start_usage["cache_read_input_tokens"]
    assert delta_usage["input_tokens"] == start_usage["input_tokens"]
    assert delta_usage["output_tokens"] > 1


def test_stream_final_message_matches_non_streaming(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Same answer twice?"}],
    }
    plain = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == plain.content[0].text == final.content[0].text
    assert len(texts) > 1
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert final.stop_reason == "end_turn"


def test_streamed_cache_usage_reaches_the_sdk_final_message(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 32,
        "system": cached_system(words(2000), ttl="1h"),
        "messages": [{"role": "user", "content": "Go"}],
    }
    with client.messages.stream(**params) as stream:
        written = stream.get_final_message().usage
    with client.messages.stream(**params) as stream:
        read = stream.get_final_message().usage
    assert written.cache_creation.ephemeral_1h_input_tokens == written.cache_creation_input_tokens > 2000
    assert read.cache_read_input_tokens == written.cache_creation_input_tokens
    assert read.input_tokens == written.input_tokens


def test_stream_max_tokens_truncation(inproc: Api) -> None:
    with inproc.client().messages.stream(
        model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "Long answer please"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3
    assert count_text(message.content[0].text) == 3


def test_stream_tool_use_sends_input_json_deltas(inproc: Api) -> None:
    tool = {
        "name": "lookup",
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    }
    events = _raw_events(
        inproc,
        model=MODEL,
        max_tokens=64,
        tools=[tool],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "find it"}],
    )
    deltas = [p["delta"] for name, p in events if name == "content_block_delta"]
    assert deltas and all(d["type"] == "input_json_delta" for d in deltas)
    assert json.loads("".join(d["partial_json"] for d in deltas)) == {"query": "query"}
    with inproc.client().messages.stream(
        model=MODEL,
        max_tokens=64,
        tools=[tool],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "x"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].input == {"query": "query"}
    assert final.stop_reason == "tool_use"


def test_stream_thinking_and_signature_deltas(inproc: Api) -> None:
    with inproc.client().messages.stream(
        model=MODEL,
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Reply with done."}],
    ) as stream:
        final = stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking.startswith("The user asks:")
    assert thinking.signature.startswith("sim-signature-")
    assert text.text == "done"


def test_async_stream(api: Api) -> None:
    async def run() -> tuple[list[str], object]:
        async with (
            api.async_client() as client,
            client.messages.stream(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Reply with async works."}]
            ) as stream,
        ):
            pieces = [text async for text in stream.text_stream]
            return pieces, await stream.get_final_message()

    pieces, final = asyncio.run(run())
    assert "".join(pieces) == "async works"
    assert final.usage.service_tier == "standard"


def test_raw_stream_create_true(api: Api) -> None:
    stream = api.client().messages.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Reply with raw."}], stream=True
    )
    types = [event.type for event in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "ping" not in types  # the SDK drops pings; they are on the wire (see the sequence test)
