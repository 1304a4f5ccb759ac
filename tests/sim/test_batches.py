"""Message Batches through the SDK: lifecycle on the virtual clock, JSONL results, batch pricing."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import MODEL, Api, cached_system, words


def _request(custom_id: str, text: str, **params: object) -> dict:
    return {
        "custom_id": custom_id,
        "params": {
            "model": MODEL,
            "max_tokens": 32,
            "messages": [{"role": "user", "content": text}],
            **params,
        },
    }


def test_batch_create_retrieve_and_results_priced_as_batch(api: Api) -> None:
    client = api.client()
    requests = [_request(f"q{i}", f"Reply with answer {i}.") for i in range(6)]
    batch = client.messages.batches.create(requests=requests)
    assert batch.id.startswith("msgbatch_")
    assert batch.processing_status == "in_progress"  # a create always answers in_progress
    batch = client.messages.batches.retrieve(batch.id)
    assert batch.processing_status == "ended"  # processing_seconds defaults to 0
    assert batch.request_counts.succeeded == 6
    results = list(client.messages.batches.results(batch.id))
    by_id = {item.custom_id: item.result for item in results}
    assert set(by_id) == {f"q{i}" for i in range(6)}
    for i in range(6):
        result = by_id[f"q{i}"]
        assert result.type == "succeeded"
        assert result.message.content[0].text == f"answer {i}"
        assert result.message.usage.service_tier == "batch"
    assert [item.custom_id for item in results] != [r["custom_id"] for r in requests]  # match on custom_id


def test_batch_stays_in_progress_until_the_clock_moves(inproc: Api) -> None:
    inproc.simulator.batches.processing_seconds = 600
    client = inproc.client()
    batch = client.messages.batches.create(requests=[_request("a", "hello")])
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 1
    assert batch.results_url is None
    with pytest.raises(anthropic.AnthropicError, match="Has it finished processing"):
        client.messages.batches.results(batch.id)
    inproc.simulator.clock.advance("10m")
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.results_url.endswith(f"/v1/messages/batches/{batch.id}/results")
    assert ended.ended_at is not None and ended.request_counts.succeeded == 1
    assert (ended.expires_at - ended.created_at).total_seconds() == 24 * 3600


def test_batch_cancel_before_processing(inproc: Api) -> None:
    inproc.simulator.batches.processing_seconds = 3600
    client = inproc.client()
    batch = client.messages.batches.create(requests=[_request("a", "x"), _request("b", "y")])
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 2
    assert {item.result.type for item in client.messages.batches.results(batch.id)} == {"canceled"}


def test_batch_not_processed_within_24_hours_expires(inproc: Api) -> None:
    inproc.simulator.batches.processing_seconds = 25 * 3600
    client = inproc.client()
    batch = client.messages.batches.create(requests=[_request("a", "x")])
    inproc.simulator.clock.advance("24h")
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.request_counts.expired == 1
    assert next(iter(client.messages.batches.results(batch.id))).result.type == "expired"


def test_invalid_params_become_errored_results(api: Api) -> None:
    client = api.client()
    batch = client.messages.batches.create(
        requests=[
            _request("good", "Reply with fine."),
            {
                "custom_id": "bad_model",
                "params": {
                    "model": "claude-nope",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "x"}],
                },
            },
            _request("prewarm", "x", max_tokens=0),
            _request("stream", "x", stream=True),
        ]
    )
    batch = client.messages.batches.retrieve(batch.id)
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (1, 3)
    results = {item.custom_id: item.result for item in client.messages.batches.results(batch.id)}
    assert results["good"].type == "succeeded"
    assert results["bad_model"].error.error.type == "not_found_error"
    assert results["bad_model"].error.error.message == "model: claude-nope"
    assert results["prewarm"].error.error.type == "invalid_request_error"
    assert "Message Batches" in results["prewarm"].error.error.message
    assert results["stream"].type == "errored"


def test_batch_create_validation_is_400(inproc: Api) -> None:
    client = inproc.client()
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[])
    assert "at least 1 item" in caught.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[_request("same", "x"), _request("same", "y")])
    assert "unique" in caught.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(requests=[_request("has space", "x")])


def test_batch_list_pages_newest_first(api: Api) -> None:
    client = api.client()
    ids = [client.messages.batches.create(requests=[_request("a", f"n{i}")]).id for i in range(5)]
    page = client.messages.batches.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    listed = [batch.id for batch in client.messages.batches.list(limit=2)]  # auto-pagination
    assert sorted(listed) == sorted(ids)
    assert listed[0] == ids[-1]


def test_batch_delete(inproc: Api) -> None:
    client = inproc.client()
    batch = client.messages.batches.create(requests=[_request("a", "x")])
    deleted = client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_batches_are_visible_only_in_their_workspace(inproc: Api) -> None:
    batch = inproc.client().messages.batches.create(requests=[_request("a", "x")])
    outsider = inproc.client(inproc.simulator.add_api_key(workspace="wrk_other"))
    with pytest.raises(anthropic.NotFoundError):
        outsider.messages.batches.retrieve(batch.id)
    assert list(outsider.messages.batches.list()) == []


def test_batch_requests_use_the_prompt_cache_best_effort(inproc: Api) -> None:
    client = inproc.client()
    system = cached_system(words(3000), ttl="1h")
    client.messages.create(
        model=MODEL, max_tokens=8, system=system, messages=[{"role": "user", "content": "prime"}]
    )
    batch = client.messages.batches.create(
        requests=[_request(f"r{i}", "go", system=system) for i in range(3)]
    )
    usages = [item.result.message.usage for item in client.messages.batches.results(batch.id)]
    assert all(u.cache_read_input_tokens == 3002 and u.service_tier == "batch" for u in usages)


def test_batch_results_url_points_at_the_server(loopback: Api) -> None:
    client = loopback.client()
    batch = client.messages.batches.retrieve(client.messages.batches.create(requests=[_request("a", "x")]).id)
    assert batch.results_url == f"{loopback.base_url}/v1/messages/batches/{batch.id}/results"
    assert loopback.simulator.requests.last(batch_id=batch.id).workspace == sim.DEMO_WORKSPACE_ID
