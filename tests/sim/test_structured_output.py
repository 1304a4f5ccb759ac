"""Structured output through the SDK: `output_config.format` of type `json_schema` gives JSON that
validates against the schema, and `messages.parse()` fills a pydantic model."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum

import anthropic
import jsonschema
import pydantic
import pytest

from tests.sim.sim_support import MODEL, Api, ask

INVOICE = {
    "type": "object",
    "properties": {
        "number": {"type": "string", "pattern": "^INV-[0-9]{4}$"},
        "customer": {"type": "string"},
        "issued": {"type": "string", "format": "date"},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "item": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "price": {"type": "number", "exclusiveMinimum": 0},
                },
                "required": ["item", "quantity", "price"],
                "additionalProperties": False,
            },
        },
        "paid": {"type": "boolean"},
        "status": {"enum": ["draft", "sent", "paid"]},
    },
    "required": ["number", "customer", "issued", "lines", "paid", "status"],
    "additionalProperties": False,
}


def _format(schema: dict) -> dict:
    return {"format": {"type": "json_schema", "schema": schema}}


def test_json_schema_format_gives_json_that_validates(api: Api) -> None:
    message = ask(
        api.client(), "Draft an invoice for the order", output_config=_format(INVOICE), max_tokens=400
    )
    assert message.stop_reason == "end_turn"
    (block,) = message.content
    value = json.loads(block.text)
    jsonschema.validate(value, INVOICE, format_checker=jsonschema.FormatChecker())
    # `name: value` in the prompt steers a property, when it fits the schema.
    steered = ask(
        api.client(),
        "Draft an invoice. customer: Ada Lovelace, status: paid",
        output_config=_format(INVOICE),
        max_tokens=400,
    )
    value = json.loads(steered.content[0].text)
    assert (value["customer"], value["status"]) == ("Ada Lovelace", "paid")


def test_reply_with_valid_json_is_used_as_is(inproc: Api) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    message = ask(inproc.client(), 'Reply with {"ok": false}', output_config=_format(schema))
    assert json.loads(message.content[0].text) == {"ok": False}
    # JSON that does not fit the schema is not: the reply stays valid.
    message = ask(inproc.client(), 'Reply with {"ok": "yes"}', output_config=_format(schema))
    assert json.loads(message.content[0].text) == {"ok": True}


class Priority(StrEnum):
    low = "low"
    high = "high"


class Task(pydantic.BaseModel):
    title: str
    priority: Priority
    due: date
    estimate_hours: float = pydantic.Field(gt=0, le=40)
    tags: list[str]
    owner: str | None = None


class Plan(pydantic.BaseModel):
    project: str
    tasks: list[Task] = pydantic.Field(min_length=2)


def test_messages_parse_fills_a_pydantic_model(api: Api) -> None:
    parsed = api.client().messages.parse(
        model=MODEL,
        max_tokens=800,
        messages=[{"role": "user", "content": "Plan the release. project: Apollo"}],
        output_format=Plan,
    )
    plan = parsed.parsed_output
    assert isinstance(plan, Plan)
    assert plan.project == "Apollo" and len(plan.tasks) >= 2
    assert all(isinstance(task.priority, Priority) for task in plan.tasks)
    # The constraints the SDK moved into descriptions ({minItems: 2}, {exclusiveMinimum: 0, ...})
    # were followed, as a model reading them would.
    assert all(0 < task.estimate_hours <= 40 for task in plan.tasks)
    assert json.loads(parsed.content[0].text) == json.loads(plan.model_dump_json())


def test_streamed_structured_output_parses_too(inproc: Api) -> None:
    with inproc.client().messages.stream(
        model=MODEL,
        max_tokens=800,
        messages=[{"role": "user", "content": "Plan the release"}],
        output_format=Plan,
    ) as stream:
        final = stream.get_final_message()
    assert isinstance(final.parsed_output, Plan)


def test_a_malformed_format_is_400(inproc: Api) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(inproc.client(), "x", output_config={"format": {"type": "json_schema"}})
    assert caught.value.body["error"]["message"] == "output_config.format.schema: Field required"
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(inproc.client(), "x", output_config={"format": {"type": "xml", "schema": {}}})
    assert caught.value.body["error"]["message"] == "output_config.format.type: Input should be 'json_schema'"
