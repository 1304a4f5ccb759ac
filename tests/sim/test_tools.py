"""Tool use through the SDK: when the simulated model calls tools, their arguments, parallel
calls, streaming deltas, the answer after tool results, and the SDK's own tool runner."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import anthropic
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawdbot_nb.sim.json_schema import instance
from tests.sim.sim_support import MODEL, Api, ask

WEATHER = {
    "name": "get_weather",
    "description": "Get the weather for a specific location",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}
TIME = {
    "name": "get_current_time",
    "description": "The current time in a time zone",
    "input_schema": {
        "type": "object",
        "properties": {"timezone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
        "required": ["timezone"],
    },
}
CALCULATOR = {
    "name": "calculator",
    "description": "Evaluate an arithmetic expression",
    "input_schema": {
        "type": "object",
        "properties": {
            "expression": {"type": "string", "minLength": 1},
            "precision": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["expression", "precision"],
    },
}


def _tool_uses(message) -> list:  # type: ignore[no-untyped-def]
    return [block for block in message.content if block.type == "tool_use"]


def test_auto_tool_use_calls_what_the_prompt_asks_for(api: Api) -> None:
    message = ask(api.client(), "What is the weather in SF?", tools=[WEATHER, CALCULATOR])
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "I'll use get_weather."
    (call,) = _tool_uses(message)
    assert call.name == "get_weather" and call.id.startswith("toolu_")
    assert call.input == {"location": "SF"}  # the phrase after the final "in"
    # Named outright works as well as by subject; an unrelated prompt is answered in text.
    client = api.client()
    assert _tool_uses(ask(client, "Please use calculator: expression: 2+2", tools=[WEATHER, CALCULATOR]))[
        0
    ].input == {"expression": "2+2", "precision": 0}
    plain = ask(client, "Tell me a story", tools=[WEATHER, CALCULATOR])
    assert plain.stop_reason == "end_turn" and not _tool_uses(plain)


def test_auto_tool_choice_answers_in_text(inproc: Api) -> None:
    tool = {"name": "noop", "input_schema": {"type": "object"}}
    message = ask(inproc.client(), "Reply with OK. Do not use tools.", tools=[tool])
    assert message.content[0].text == "OK"
    assert message.stop_reason == "end_turn"
    declined = ask(inproc.client(), "What is the weather today? Don't use tools.", tools=[WEATHER])
    assert declined.stop_reason == "end_turn" and not _tool_uses(declined)
    none = ask(inproc.client(), "What is the weather in Oslo?", tools=[WEATHER], tool_choice={"type": "none"})
    assert none.stop_reason == "end_turn" and not _tool_uses(none)


def test_any_and_named_tool_choice_force_a_call(inproc: Api) -> None:
    client = inproc.client()
    forced = ask(client, "Hello there", tools=[CALCULATOR, WEATHER], tool_choice={"type": "any"})
    assert forced.stop_reason == "tool_use"
    assert [block.type for block in forced.content] == ["tool_use"]  # no preamble when forced
    assert forced.content[0].name == "calculator"  # nothing asked for: the first tool
    named = ask(
        client,
        "Hello there",
        tools=[CALCULATOR, WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert [block.name for block in _tool_uses(named)] == ["get_weather"]


def test_parallel_calls_when_several_tools_are_asked_for(api: Api) -> None:
    tools = [CALCULATOR, WEATHER, TIME]
    message = ask(api.client(), "What time is it, and what is the weather in Paris?", tools=tools)
    calls = _tool_uses(message)
    assert [call.name for call in calls] == ["get_current_time", "get_weather"]  # in the order asked
    assert message.content[0].text == "I'll use get_current_time and get_weather."
    assert len({call.id for call in calls}) == 2
    single = ask(
        api.client(),
        "What time is it, and what is the weather in Paris?",
        tools=tools,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [call.name for call in _tool_uses(single)] == ["get_current_time"]


SCHEMAS = [
    WEATHER["input_schema"],
    TIME["input_schema"],
    CALCULATOR["input_schema"],
    {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "email": {"type": "string", "format": "email"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "multipleOf": 7, "minimum": 10}]},
        },
        "required": ["when", "email", "unit", "ratio", "tags", "code", "maybe"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["label", "children"],
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "required": ["root"],
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_arguments_validate_against_each_input_schema(inproc: Api, schema: dict) -> None:
    tool = {"name": "record", "description": "Store a record", "input_schema": schema}
    message = ask(
        inproc.client(), "Please record this", tools=[tool], tool_choice={"type": "any"}, max_tokens=1024
    )
    (call,) = _tool_uses(message)
    jsonschema.validate(call.input, schema)


_leaf = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "minLength": 3, "maxLength": 5},
        {"type": "string", "pattern": "^[a-f0-9]{8}$"},
        {"type": "string", "format": "uuid"},
        {"type": "integer", "minimum": -3, "maximum": 3},
        {"type": "number", "multipleOf": 0.5, "minimum": 2},
        {"type": "boolean"},
        {"type": "null"},
        {"enum": ["a", "b", 3]},
        {"const": "fixed"},
        {"type": ["string", "null"]},
    ]
)
_schemas = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.dictionaries(st.text("abcdefgh", min_size=1, max_size=6), children, max_size=4).map(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)}
        ),
        st.builds(
            lambda items, low: {"type": "array", "items": items, "minItems": low}, children, st.integers(0, 3)
        ),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(_schemas)
def test_schema_instances_validate_for_any_schema(schema: dict) -> None:
    jsonschema.validate(instance(schema), schema, format_checker=jsonschema.FormatChecker())


def test_the_sdk_tools_example_ends_with_a_text_answer(api: Api) -> None:
    """The SDK's examples/tools.py, in our words: a tool call, its result, then the answer."""
    client = api.client()
    question = {"role": "user", "content": "What is the weather in SF?"}
    first = client.messages.create(model=MODEL, max_tokens=1024, messages=[question], tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    result = {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": [{"type": "text", "text": "The weather is 73f"}],
            }
        ],
    }
    final = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=[question, {"role": first.role, "content": first.content}, result],
        tools=[WEATHER],
    )
    assert final.stop_reason == "end_turn"
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text == "Based on get_weather: The weather is 73f."


def test_an_error_result_is_reported_in_the_answer(inproc: Api) -> None:
    client = inproc.client()
    question = {"role": "user", "content": "What is the weather in Oslo?"}
    first = client.messages.create(model=MODEL, max_tokens=256, messages=[question], tools=[WEATHER])
    call = _tool_uses(first)[0]
    failure = {"type": "tool_result", "tool_use_id": call.id, "content": "service down", "is_error": True}
    final = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [failure]},
        ],
        tools=[WEATHER],
    )
    assert final.content[0].text == "Based on get_weather failed: service down."


def test_stream_parallel_tool_calls_send_input_json_deltas(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 512,
        "tools": [WEATHER, TIME],
        "messages": [{"role": "user", "content": "What time is it, and what is the weather in Paris?"}],
    }
    deltas: dict[int, list[str]] = {}
    with client.messages.stream(**params) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                deltas.setdefault(event.index, []).append(event.delta.partial_json)
        streamed = stream.get_final_message()
    whole = client.messages.create(**params)
    assert streamed.stop_reason == whole.stop_reason == "tool_use"
    calls = _tool_uses(streamed)
    assert [call.input for call in calls] == [call.input for call in _tool_uses(whole)]
    assert sorted(deltas) == [1, 2]  # block 0 is the preamble text
    for index, call in zip(sorted(deltas), calls, strict=True):
        assert len(deltas[index]) > 1 and json.loads("".join(deltas[index])) == call.input


def _runner_tools() -> list:
    @anthropic.beta_tool
    def get_weather(location: str, units: Literal["c", "f"]) -> str:
        """Look up the weather for a city in celsius or fahrenheit.

        Args:
            location: The city, e.g. San Francisco
            units: 'c' for celsius or 'f' for fahrenheit
        """
        temperature = "20°C" if units == "c" else "68°F"
        return json.dumps({"location": location, "temperature": temperature, "condition": "Sunny"})

    return [get_weather]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streaming"])
def test_sdk_tool_runner_runs_to_a_final_answer(api: Api, stream: bool) -> None:
    runner = api.client().beta.messages.tool_runner(
        model=MODEL,
        max_tokens=1024,
        tools=_runner_tools(),
        messages=[{"role": "user", "content": "What is the weather in San Francisco?"}],
        stream=stream,
    )
    if stream:
        messages = []
        for message_stream in runner:
            kinds = {event.type for event in message_stream}
            assert "content_block_delta" in kinds
            messages.append(message_stream.get_final_message())
    else:
        messages = list(runner)
    assert [m.stop_reason for m in messages] == ["tool_use", "end_turn"]
    call = _tool_uses(messages[0])[0]
    assert call.input == {"location": "San Francisco", "units": "c"}
    assert messages[1].content[0].text.startswith('Based on get_weather: {"location": "San Francisco"')
    # The runner first asked for a server-side thread; the simulator refused it the API's way,
    # and every turn then went out with the whole conversation.
    log = api.simulator.requests.messages()
    assert [r.status for r in log] == [400, 200, 200]
    assert log[0].error_message.startswith("thread: message threads are not supported")


def test_async_sdk_tool_runner(api: Api) -> None:
    @anthropic.beta_async_tool
    async def get_weather(location: str) -> str:
        """The weather for a city.

        Args:
            location: The city
        """
        return f"Sunny in {location}"

    async def run() -> list:
        async with api.async_client() as client:
            runner = client.beta.messages.tool_runner(
                model=MODEL,
                max_tokens=512,
                tools=[get_weather],
                messages=[{"role": "user", "content": "What is the weather in Lisbon?"}],
            )
            return [message async for message in runner]

    messages = asyncio.run(run())
    assert [m.stop_reason for m in messages] == ["tool_use", "end_turn"]
    assert messages[1].content[0].text == "Based on get_weather: Sunny in Lisbon."


def test_thread_requests_get_unsupported_request(inproc: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        inproc.client().messages.create(
            model=MODEL,
            max_tokens=16,
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"thread": {"type": "create"}},
        )
    error = caught.value.body["error"]
    assert error["details"] == {"error_code": "thread_unsupported_request", "unsupported": ["thread"]}
