"""The request log: every request recorded for assertions, secrets never stored in clear."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import IN_PROCESS_BASE_URL, MODEL, Api, ask


def test_log_records_what_a_test_needs(api: Api) -> None:
    ask(api.client(), "Reply with OK.")
    with api.client().messages.stream(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "s"}]
    ) as s:
        s.until_done()
    first, second = api.simulator.requests
    assert (first.method, first.path, first.status, first.stream) == ("POST", "/v1/messages", 200, False)
    assert first.model == MODEL and first.message_id.startswith("msg_")
    assert first.usage["output_tokens"] == 1 and first.usage["service_tier"] == "standard"
    assert first.request_id.startswith("req_") and first.time == api.simulator.clock.now()
    assert first.credential_kind == "api_key" and first.workspace == sim.DEMO_WORKSPACE_ID
    assert second.stream is True


def test_log_never_holds_a_raw_secret(inproc: Api) -> None:
    ask(inproc.client())
    with pytest.raises(anthropic.AuthenticationError):
        ask(inproc.client("sk-ant-api03-wrong-key-with-tail-WXYZ"))
    ask(inproc.client(auth_token=sim.DEMO_OAUTH_ACCESS_TOKEN, oauth=True))
    dump = repr(list(inproc.simulator.requests))
    for secret in (sim.DEMO_API_KEY, sim.DEMO_OAUTH_ACCESS_TOKEN, "sk-ant-api03-wrong-key-with-tail-WXYZ"):
        assert secret not in dump
    assert inproc.simulator.requests.count(secret=sim.DEMO_API_KEY) == 1
    assert inproc.simulator.requests.count(secret=sim.DEMO_OAUTH_ACCESS_TOKEN) == 1
    failed = inproc.simulator.requests.last(status=401)
    assert failed.credential is None and failed.error_type == "authentication_error"
    assert failed.error_message == "Invalid bearer token"


def test_log_filters_and_rejects_unknown_fields(inproc: Api) -> None:
    client = inproc.client()
    ask(client)
    client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x"}])
    log = inproc.simulator.requests
    assert len(log.messages()) == 1 and log.count(path="/v1/messages/count_tokens") == 1
    assert log[0].path == "/v1/messages"
    with pytest.raises(TypeError):
        log.filter(colour="red")
    log.clear()
    assert len(log) == 0


def test_masking_keeps_only_prefix_and_last_four() -> None:
    assert sim.mask_secret(sim.DEMO_API_KEY) == "sk-ant-api03-…orAA"
    assert sim.mask_secret("sk-ant-oat01-" + "x" * 60 + "WXYZ") == "sk-ant-oat01-…WXYZ"
    assert sim.mask_secret("short") == "…"
    assert sim.fingerprint(sim.DEMO_API_KEY) == sim.fingerprint(sim.DEMO_API_KEY) != sim.fingerprint("other")


def test_request_log_is_a_bounded_ring() -> None:
    simulator = sim.Simulator(request_log_size=3)
    api = Api(simulator, "inprocess", IN_PROCESS_BASE_URL)
    try:
        client = api.client()
        replies = [ask(client, f"Reply with R{i}.") for i in range(5)]
    finally:
        api.close()
    log = simulator.requests
    assert (len(log), log.limit, log.dropped) == (3, 3, 2)
    assert [record.request_id for record in log] == [reply._request_id for reply in replies[2:]]
    assert log[0].request_id == replies[2]._request_id and log[-1].request_id == replies[4]._request_id
    assert sim.Simulator().requests.limit == sim.RequestLog().limit == 10_000  # bounded by default
    assert sim.RequestLog(None).limit is None
    with pytest.raises(ValueError, match="at least 1"):
        sim.RequestLog(0)


@pytest.mark.slow
def test_soak_20000_requests_keep_the_log_at_its_bound() -> None:
    """A long run through the SDK: the log keeps exactly its newest `limit` records (memory per
    record is measured by bench/bench_sim_soak.py, not asserted here)."""
    simulator = sim.Simulator(request_log_size=1_000)
    api = Api(simulator, "inprocess", IN_PROCESS_BASE_URL)
    try:
        client = api.client()
        params = {
            "model": MODEL,
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Reply with OK."}],
        }
        for _ in range(19_999):
            client.messages.create(**params)
        last = client.messages.create(**params)
    finally:
        api.close()
    log = simulator.requests
    assert (len(log), log.dropped) == (1_000, 19_000)
    assert log[-1].request_id == last._request_id and log[-1].status == 200
    assert all(record.path == "/v1/messages" for record in log)
