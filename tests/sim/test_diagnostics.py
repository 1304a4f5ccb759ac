"""Cache diagnostics (reference §3.6): `diagnostics.previous_message_id` → `cache_miss_reason`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sim.sim_support import MODEL, Api, cached_system, words


def _base() -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "tools": [{"name": "t", "description": words(100), "input_schema": {"type": "object"}}],
        "system": cached_system(words(1500)),
        "messages": [{"role": "user", "content": "first"}],
    }


def _diagnose(api: Api, changes: dict[str, Any]) -> Any:
    client = api.client()
    first = client.messages.create(**_base(), extra_body={"diagnostics": {"previous_message_id": None}})
    assert first.diagnostics is None
    params = {**_base(), **changes}
    return client.messages.create(**params, extra_body={"diagnostics": {"previous_message_id": first.id}})


def test_no_divergence_gives_null(api: Api) -> None:
    follow_up = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"},
        ]
    }
    assert _diagnose(api, follow_up).diagnostics is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"model": "claude-haiku-4-5"}, "model_changed"),
        ({"tools": [{"name": "t2", "input_schema": {"type": "object"}}]}, "tools_changed"),
        ({"system": cached_system(words(1500, "other"))}, "system_changed"),
        ({"messages": [{"role": "user", "content": "edited"}]}, "messages_changed"),
        ({"tool_choice": {"type": "any"}}, "unavailable"),
        ({"output_config": {"effort": "low"}}, "unavailable"),
    ],
    ids=["model", "tools", "system", "messages", "tool_choice", "effort"],
)
def test_cache_miss_reasons(inproc: Api, changes: dict[str, Any], reason: str) -> None:
    diagnostics = _diagnose(inproc, changes).diagnostics
    assert diagnostics.cache_miss_reason.type == reason
    if reason in ("model_changed", "tools_changed"):
        assert diagnostics.cache_miss_reason.cache_missed_input_tokens > 1500
    if reason == "messages_changed":
        assert diagnostics.cache_miss_reason.cache_missed_input_tokens == 0  # only the system was cached


def test_unknown_previous_message(inproc: Api) -> None:
    reply = inproc.client().messages.create(
        **_base(), extra_body={"diagnostics": {"previous_message_id": "msg_nope"}}
    )
    assert reply.diagnostics.cache_miss_reason.type == "previous_message_not_found"


def test_fingerprints_only_for_requests_with_diagnostics(inproc: Api) -> None:
    client = inproc.client()
    silent = client.messages.create(**_base())
    reply = client.messages.create(**_base(), extra_body={"diagnostics": {"previous_message_id": silent.id}})
    assert reply.diagnostics.cache_miss_reason.type == "previous_message_not_found"
