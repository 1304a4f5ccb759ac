"""POST /v1/messages/count_tokens: the simulator's own BPE counts, per model, cache_control accepted."""

from __future__ import annotations

import anthropic
import pytest

from tests.sim.sim_support import MODEL, NEW_MODEL, Api, cached_system, total_tokens, words


def test_count_tokens_is_the_vocabularys_bpe_total(api: Api) -> None:
    params = {
        "model": MODEL,
        "system": "Be brief.",
        "tools": [{"name": "lookup", "description": "Find things", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "Tokenization of 日本語 costs more."}],
    }
    # Counted by hand in the vendored vocabulary: the tool's compact JSON is 18 tokens ('{"',
    # 'name', '":"', 'lookup', ...), "Be brief." 3, the user text 11 ('Token', 'ization', ' of',
    # ' ', then 4 byte tokens for 日本語, ' costs', ' more', '.'); framing 4 + 2 + 3, trailing 4.
    expected = (18 + 4) + (3 + 2) + (11 + 3) + 4
    assert api.client().messages.count_tokens(**params).input_tokens == expected == total_tokens(params)


def test_new_tokenizer_counts_thirty_percent_more(inproc: Api) -> None:
    client = inproc.client()
    messages = [{"role": "user", "content": words(1000)}]
    old = client.messages.count_tokens(model=MODEL, messages=messages).input_tokens
    new = client.messages.count_tokens(model=NEW_MODEL, messages=messages).input_tokens
    assert old == 1000 + 3 + 4
    assert new == round(1003 * 1.3) + round(4 * 1.3)


def test_count_tokens_accepts_cache_control(api: Api) -> None:
    client = api.client()
    system = cached_system(words(2000))
    plain = client.messages.count_tokens(
        model=MODEL, system=system, messages=[{"role": "user", "content": "hi"}]
    )
    automatic = client.messages.count_tokens(
        model=MODEL,
        system=system,
        messages=[{"role": "user", "content": "hi"}],
        cache_control={"type": "ephemeral"},
    )
    assert (
        plain.input_tokens == automatic.input_tokens == 2002 + (1 + 3) + 4
    )  # system, "hi" with its role marker, trailing
    assert api.simulator.cache_entries == 0  # counting never writes the cache


def test_count_tokens_checks_the_body_and_model(inproc: Api) -> None:
    client = inproc.client()
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-nope", messages=[{"role": "user", "content": "x"}])
    too_many = [{"type": "text", "text": f"p{i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": too_many}])
    assert caught.value.body["error"]["message"].endswith("Found 5.")
