"""POST /v1/messages through the SDK: replies, stop reasons, usage shape, headers, models, versions."""

from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest

from clawdbot_nb import sim
from clawdbot_nb.sim.bpe import count_text
from tests.sim.sim_support import MODEL, Api, ask


def test_reply_with_answers_exactly(api: Api) -> None:
    message = ask(api.client(), "Reply with OK. Do not use tools.")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "OK"
    assert message.stop_reason == "end_turn"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert message.id.startswith("msg_")


def test_reply_with_strips_quotes_and_keeps_inner_dots(inproc: Api) -> None:
    client = inproc.client()
    assert ask(client, 'Reply with "hello world".').content[0].text == "hello world"
    assert ask(client, "Please reply with 3.14. Thanks").content[0].text == "3.14"


def test_default_reply_echoes_and_has_set_length(inproc: Api) -> None:
    inproc.simulator.reply_tokens = 40
    message = inproc.client().messages.create(
        model=MODEL,
        max_tokens=200,
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "What does the prompt cache keep?"},
        ],
    )
    text = message.content[0].text
    assert text.startswith('Simulated reply to: "What does the prompt cache keep?".')
    assert message.stop_reason == "end_turn"
    assert 30 < message.usage.output_tokens <= 40
    assert message.usage.output_tokens == count_text(text)


def test_replies_are_deterministic(inproc: Api) -> None:
    client = inproc.client()
    first = ask(client, "Tell me about caching")
    second = ask(client, "Tell me about caching")
    assert first.content[0].text == second.content[0].text
    assert first.id != second.id


def test_max_tokens_truncates_with_stop_reason(api: Api) -> None:
    message = ask(api.client(), "Explain prompt caching in detail please", max_tokens=5)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5
    assert count_text(message.content[0].text) == 5


def test_stop_sequence_cuts_the_reply(inproc: Api) -> None:
    message = ask(inproc.client(), "Reply with alpha STOP beta.", stop_sequences=["STOP"])
    assert message.content[0].text == "alpha "
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "STOP"


def test_forced_tool_choice_returns_tool_use(inproc: Api) -> None:
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    }
    message = ask(
        inproc.client(),
        "Weather in Paris?",
        tools=[tool],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"city": "Paris", "days": 1}  # valid for the schema, "in Paris" as asked
    assert block.id.startswith("toolu_")


def test_thinking_block_comes_first(inproc: Api) -> None:
    message = ask(
        inproc.client(),
        "Reply with OK.",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2000},
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].signature
    assert message.content[1].text == "OK"
    assert message.usage.output_tokens_details.thinking_tokens > 0


def test_usage_always_has_cache_fields_service_tier_and_geo(api: Api) -> None:
    usage = ask(api.client(), "Hello").usage
    assert usage.cache_creation_input_tokens == 0
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.cache_creation.ephemeral_1h_input_tokens == 0
    assert usage.service_tier == "standard"
    assert usage.inference_geo == "global"


def test_inference_geo_us_is_reported(inproc: Api) -> None:
    usage = ask(inproc.client(), "Hello", extra_body={"inference_geo": "us"}).usage
    assert usage.inference_geo == "us"


def test_input_tokens_equal_count_tokens_without_caching(api: Api) -> None:
    client = api.client()
    params = {
        "model": MODEL,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "How many tokens is this, exactly?"}],
    }
    counted = client.messages.count_tokens(**params).input_tokens
    message = client.messages.create(max_tokens=16, **params)
    # "You are terse." is 5 tokens ('You', ' are', ' ter', 'se', '.'), the question 8.
    assert message.usage.input_tokens == counted == (5 + 2) + (8 + 3) + 4


def test_response_headers_request_id_org_workspace(api: Api) -> None:
    raw = api.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
    )
    request_id = raw.headers["request-id"]
    assert request_id.startswith("req_")
    assert raw.headers["anthropic-organization-id"] == sim.DEMO_ORGANIZATION_ID
    assert raw.headers["anthropic-workspace-id"] == sim.DEMO_WORKSPACE_ID
    assert raw.parse()._request_id == request_id
    assert api.simulator.requests.last(path="/v1/messages").request_id == request_id


def test_request_ids_are_unique_across_simulators(inproc: Api) -> None:
    other = sim.Simulator()
    client_a = inproc.client()
    client_b = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY,
        base_url="http://localhost",
        http_client=httpx2.Client(transport=other.transport()),
    )
    assert ask(client_a)._request_id != ask(client_b)._request_id
    client_b.close()


def test_unknown_model_is_404_with_model_message(api: Api) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        ask(api.client(), model="claude-nonexistent-9")
    assert caught.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nonexistent-9"}


@pytest.mark.parametrize("model", ["claude-opus-4-1", "claude-sonnet-4-20250514", "claude-3-5-haiku-latest"])
def test_retired_model_is_404(inproc: Api, model: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        ask(inproc.client(), model=model)
    assert caught.value.body["error"]["message"] == f"model: {model}"


def test_dated_alias_is_served_and_echoed(inproc: Api) -> None:
    message = ask(inproc.client(), model="claude-haiku-4-5-20251001")
    assert message.model == "claude-haiku-4-5-20251001"


def test_new_api_version_rejects_temperature(api: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(api.client(), extra_body={"temperature": 0.5})
    assert caught.value.body["error"]["message"] == "temperature: Extra inputs are not permitted"
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(api.client(), extra_body={"top_k": 5})
    assert caught.value.body["error"]["message"] == "top_k: Extra inputs are not permitted"


def test_old_api_version_accepts_sampling_parameters(api: Api) -> None:
    client = api.client(default_headers={"anthropic-version": "2023-06-01"})
    message = ask(client, "Reply with fine.", extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 5})
    assert message.content[0].text == "fine"
    assert api.simulator.requests.last(path="/v1/messages").api_version == "2023-06-01"


def test_max_tokens_above_model_limit_is_400(inproc: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        inproc.client().messages.create(
            model="claude-haiku-4-5",
            max_tokens=64_001,
            messages=[{"role": "user", "content": "x"}],
            stream=True,
        )
    assert caught.value.body["error"]["message"] == (
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5"
    )


def test_async_client_creates_messages(api: Api) -> None:
    async def run() -> list[str]:
        async with api.async_client() as client:
            replies = await asyncio.gather(
                *(
                    client.messages.create(
                        model=MODEL,
                        max_tokens=16,
                        messages=[{"role": "user", "content": f"Reply with R{i}."}],
                    )
                    for i in range(5)
                )
            )
        return [reply.content[0].text for reply in replies]

    assert asyncio.run(run()) == [f"R{i}" for i in range(5)]


def test_final_assistant_prefill_is_accepted(inproc: Api) -> None:
    message = inproc.client().messages.create(
        model=MODEL,
        max_tokens=16,
        messages=[
            {"role": "user", "content": "Reply with B"},
            {"role": "assistant", "content": "The answer is ("},
        ],
    )
    assert message.content[0].text == "B"
